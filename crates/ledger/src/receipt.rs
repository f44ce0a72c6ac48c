//! Receipts: compact JWS (RFC 7515) signed with the ledger key (`alg: EdDSA`, RFC 8037), whose
//! payload binds a decision to its ledger record. Verifiable with any JOSE library and the
//! public JWK; `kid` is the key's RFC 7638 thumbprint.
//!
//! Pure: written by hand over `base64` and `ed25519-dalek` so only one crypto backend is linked.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::hash::Hash;
use crate::keys::{LedgerPublicKey, LedgerSigningKey};
use crate::nonce::Nonce;
use crate::record::Outcome;

/// The JWS header of every receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptHeader {
    /// Always `EdDSA`.
    pub alg: String,
    /// RFC 7638 thumbprint of the signing key.
    pub kid: String,
    /// `JWT`, so generic JOSE libraries accept the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
}

/// The receipt payload: what was decided and where the record sits in the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceiptClaims {
    /// The ledger's origin (checkpoint origin line).
    pub iss: String,
    /// The agent the decision concerns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// The record id (`rec_…`).
    pub rid: String,
    /// The record's sequence number.
    pub seq: u64,
    /// The record hash (RFC 6962 leaf hash of its canonical bytes), hex.
    pub leaf: Hash,
    /// The agent chain link: hash of the agent's previous record, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_prev: Option<Hash>,
    /// Issue time, Unix seconds (the record's time, rounded down).
    pub iat: u64,
    /// The record's time, Unix milliseconds.
    pub time_ms: u64,
    /// Digest of the policy bundle in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    /// The decision outcome (absent for non-decision events).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
}

/// A receipt that cannot be issued or does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    /// Not three base64url segments separated by dots.
    #[error("not a compact JWS")]
    Malformed,
    /// The header is not JSON with `alg: EdDSA` and a `kid`.
    #[error("unsupported JWS header: {0}")]
    BadHeader(String),
    /// The `kid` names a different key.
    #[error("receipt kid {found} is not the ledger key {expected}")]
    WrongKey {
        /// The ledger key's id.
        expected: String,
        /// The receipt's `kid`.
        found: String,
    },
    /// The signature does not verify.
    #[error("receipt signature does not verify")]
    BadSignature,
    /// The payload is not a receipt.
    #[error("receipt payload is invalid: {0}")]
    BadPayload(String),
}

/// Issues the compact JWS for `claims` (deterministic RFC 8032 signature).
pub fn sign_receipt(
    claims: &ReceiptClaims,
    key: &LedgerSigningKey,
) -> Result<String, ReceiptError> {
    let signing_input = signing_input(claims, key)?;
    let sig = key.sign(signing_input.as_bytes());
    Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

/// Issues the compact JWS for `claims` with a precomputed nonce of `key` (see
/// [`crate::nonce`]): the same receipt format and verification, signed far faster.
pub fn sign_receipt_with_nonce(
    claims: &ReceiptClaims,
    key: &LedgerSigningKey,
    nonce: Nonce,
) -> Result<String, ReceiptError> {
    let signing_input = signing_input(claims, key)?;
    let sig = key.sign_with_nonce(signing_input.as_bytes(), nonce);
    Ok(format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig)))
}

/// `BASE64URL(header) . BASE64URL(payload)`: the bytes a receipt signs.
fn signing_input(claims: &ReceiptClaims, key: &LedgerSigningKey) -> Result<String, ReceiptError> {
    let header = ReceiptHeader {
        alg: "EdDSA".into(),
        kid: key.key_id().to_owned(),
        typ: Some("JWT".into()),
    };
    // JWS signs the exact bytes sent, so plain serialization suffices.
    let header = serde_json::to_vec(&header).map_err(|e| ReceiptError::BadHeader(e.to_string()))?;
    let payload =
        serde_json::to_vec(claims).map_err(|e| ReceiptError::BadPayload(e.to_string()))?;
    Ok(format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header),
        URL_SAFE_NO_PAD.encode(payload)
    ))
}

/// Verifies a compact JWS receipt against the ledger key and returns its claims.
pub fn verify_receipt(jws: &str, key: &LedgerPublicKey) -> Result<ReceiptClaims, ReceiptError> {
    let jws = jws.trim();
    let mut parts = jws.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReceiptError::Malformed);
    };
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| ReceiptError::Malformed)
    };
    let header: ReceiptHeader =
        serde_json::from_slice(&decode(h)?).map_err(|e| ReceiptError::BadHeader(e.to_string()))?;
    if header.alg != "EdDSA" {
        return Err(ReceiptError::BadHeader(format!("alg {}", header.alg)));
    }
    let expected = key.key_id();
    if header.kid != expected {
        return Err(ReceiptError::WrongKey {
            expected,
            found: header.kid,
        });
    }
    let signing_input_len = h.len() + 1 + p.len();
    let signing_input = jws
        .get(..signing_input_len)
        .ok_or(ReceiptError::Malformed)?;
    if !key.verify(signing_input.as_bytes(), &decode(s)?) {
        return Err(ReceiptError::BadSignature);
    }
    serde_json::from_slice(&decode(p)?).map_err(|e| ReceiptError::BadPayload(e.to_string()))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::canonical::to_canonical_bytes;

    fn claims() -> ReceiptClaims {
        ReceiptClaims {
            iss: "warden.test/ledger".into(),
            sub: Some("agent-1".into()),
            rid: "rec_00".into(),
            seq: 4,
            leaf: Hash::sha256(b"x"),
            agent_prev: None,
            iat: 1_700_000_000,
            time_ms: 1_700_000_000_123,
            bundle: Some("sha256:ab".into()),
            outcome: Some(Outcome::Deny),
        }
    }

    /// RFC 8037 appendix A.4: Ed25519 JWS over "Example of Ed25519 signing".
    #[test]
    fn rfc8037_signature_vector() {
        let seed: [u8; 32] = URL_SAFE_NO_PAD
            .decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
            .unwrap()
            .try_into()
            .unwrap();
        let key = LedgerSigningKey::from_seed(&seed);
        let input = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc";
        assert_eq!(
            URL_SAFE_NO_PAD.encode(key.sign(input.as_bytes())),
            "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
        );
    }

    #[test]
    fn receipt_round_trips_and_detects_tampering() {
        let key = LedgerSigningKey::from_seed(&[3u8; 32]);
        let jws = sign_receipt(&claims(), &key).unwrap();
        assert_eq!(verify_receipt(&jws, &key.public_key()), Ok(claims()));

        let other = LedgerSigningKey::from_seed(&[4u8; 32]);
        assert!(matches!(
            verify_receipt(&jws, &other.public_key()),
            Err(ReceiptError::WrongKey { .. })
        ));
        let mut forged = claims();
        forged.outcome = Some(Outcome::Allow);
        let forged_payload = URL_SAFE_NO_PAD.encode(to_canonical_bytes(&forged).unwrap());
        let parts: Vec<&str> = jws.split('.').collect();
        let tampered = format!("{}.{}.{}", parts[0], forged_payload, parts[2]);
        assert_eq!(
            verify_receipt(&tampered, &key.public_key()),
            Err(ReceiptError::BadSignature)
        );
        assert_eq!(
            verify_receipt("a.b", &key.public_key()),
            Err(ReceiptError::Malformed)
        );
    }
}
