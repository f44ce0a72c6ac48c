//! Precomputed signing nonces, so that signing a receipt on a request's path costs one hash and
//! one scalar multiply-add instead of a full Ed25519 signature.
//!
//! An Ed25519 signature is `(R, S)` with `R = r·B` and `S = r + SHA-512(R ‖ A ‖ M)·s`. RFC 8032
//! derives the nonce `r` from the message; verification accepts any secret, uniformly
//! distributed, never-repeated `r`. Here `r = SHA-512(prefix ‖ entropy) mod L`, where `prefix` is
//! the key's secret hash prefix (the value RFC 8032 uses) and `entropy` 32 fresh random bytes from
//! the caller: the prefix keeps `r` secret even if the entropy were weak, and fresh entropy keeps
//! every `r` distinct. Computing `R = r·B`, the expensive half, needs no message, so it is done
//! ahead of time.
//!
//! A [`Nonce`] is consumed by signing (it is neither `Clone` nor `Copy`) and its secret is wiped
//! when it is dropped, so no nonce can sign twice. Signatures made this way verify with any
//! Ed25519 implementation.
//!
//! Pure: the caller supplies the entropy.

use curve25519_dalek::edwards::EdwardsPoint;
use curve25519_dalek::scalar::Scalar;
use sha2::{Digest, Sha512};
use zeroize::Zeroize;

/// A single-use signing nonce: the secret `r` and its public commitment `R = r·B`.
pub struct Nonce {
    r: Scalar,
    commitment: [u8; 32],
}

impl std::fmt::Debug for Nonce {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Nonce(..)")
    }
}

impl Drop for Nonce {
    fn drop(&mut self) {
        self.r.zeroize();
    }
}

/// The secret half of an expanded Ed25519 key: the signing scalar and the hash prefix.
pub(crate) struct Expanded {
    scalar: Scalar,
    prefix: [u8; 32],
    public: [u8; 32],
}

impl Drop for Expanded {
    fn drop(&mut self) {
        self.scalar.zeroize();
        self.prefix.zeroize();
    }
}

impl Expanded {
    /// Expands a 32-byte seed as RFC 8032 §5.1.5 does.
    pub(crate) fn from_seed(seed: &[u8; 32], scalar: Scalar, public: [u8; 32]) -> Expanded {
        let mut digest: [u8; 64] = Sha512::digest(seed).into();
        let mut prefix = [0u8; 32];
        prefix.copy_from_slice(digest.get(32..).unwrap_or(&[0u8; 32]));
        digest.zeroize();
        Expanded {
            scalar,
            prefix,
            public,
        }
    }

    /// A fresh nonce from 32 bytes of entropy.
    pub(crate) fn nonce(&self, entropy: &[u8; 32]) -> Nonce {
        let mut wide: [u8; 64] = Sha512::new()
            .chain_update(self.prefix)
            .chain_update(entropy)
            .finalize()
            .into();
        let r = Scalar::from_bytes_mod_order_wide(&wide);
        wide.zeroize();
        let commitment = EdwardsPoint::mul_base(&r).compress().to_bytes();
        Nonce { r, commitment }
    }

    /// Signs `message` with `nonce`, consuming it.
    pub(crate) fn sign(&self, message: &[u8], nonce: Nonce) -> [u8; 64] {
        let challenge: [u8; 64] = Sha512::new()
            .chain_update(nonce.commitment)
            .chain_update(self.public)
            .chain_update(message)
            .finalize()
            .into();
        let k = Scalar::from_bytes_mod_order_wide(&challenge);
        let s = k * self.scalar + nonce.r;
        let mut signature = [0u8; 64];
        let (r_half, s_half) = signature.split_at_mut(32);
        r_half.copy_from_slice(&nonce.commitment);
        s_half.copy_from_slice(s.as_bytes());
        signature
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use crate::keys::LedgerSigningKey;
    use crate::receipt::{ReceiptClaims, sign_receipt_with_nonce, verify_receipt};

    fn key() -> LedgerSigningKey {
        LedgerSigningKey::from_seed(&[9u8; 32])
    }

    #[test]
    fn signatures_with_a_nonce_verify_as_plain_ed25519() {
        let key = key();
        let public = key.public_key();
        for i in 0..32u8 {
            let message = vec![i; usize::from(i) * 7];
            let nonce = key.nonce(&[i.wrapping_mul(31); 32]);
            let signature = key.sign_with_nonce(&message, nonce);
            assert!(public.verify(&message, &signature), "message {i}");
            let mut other = message.clone();
            other.push(1);
            assert!(!public.verify(&other, &signature), "tampered message {i}");
        }
    }

    #[test]
    fn fresh_entropy_gives_distinct_nonces_and_signatures() {
        let key = key();
        let a = key.sign_with_nonce(b"same", key.nonce(&[1u8; 32]));
        let b = key.sign_with_nonce(b"same", key.nonce(&[2u8; 32]));
        assert_ne!(a[..32], b[..32], "commitments differ");
        assert_ne!(a, b);
        assert_ne!(
            a.to_vec(),
            key.sign(b"same").to_vec(),
            "not the deterministic nonce"
        );
    }

    #[test]
    fn receipts_signed_with_a_nonce_verify() {
        let key = key();
        let claims = ReceiptClaims {
            iss: "warden.test/ledger".into(),
            sub: Some("billing-bot".into()),
            rid: "rec_1".into(),
            seq: 1,
            leaf: crate::hash::Hash::sha256(b"leaf"),
            agent_prev: None,
            iat: 1,
            time_ms: 1_000,
            bundle: None,
            outcome: None,
        };
        let jws = sign_receipt_with_nonce(&claims, &key, key.nonce(&[5u8; 32])).unwrap();
        assert_eq!(verify_receipt(&jws, &key.public_key()).unwrap(), claims);
    }
}
