//! Signed tree heads in the C2SP `tlog-checkpoint` format, wrapped in a C2SP `signed-note` with
//! an Ed25519 signature line:
//!
//! ```text
//! <origin>\n<tree size>\n<base64 root hash>\n\n— <key name> <base64(key hash || signature)>\n
//! ```
//!
//! The key name is the origin. Pure: signing keys are passed in.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::hash::Hash;
use crate::keys::{LedgerPublicKey, LedgerSigningKey};

/// A tree head: the ledger's identity, its size and the Merkle root over its records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line (and signed-note key name), e.g. `warden.example/ledger`.
    pub origin: String,
    /// Number of records covered.
    pub size: u64,
    /// RFC 6962 root over records `0..size`.
    pub root: Hash,
}

/// A checkpoint text that cannot be read or is not signed by the expected key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The origin is empty or holds whitespace.
    #[error("invalid origin {0:?}")]
    BadOrigin(String),
    /// The note is not `<body>\n\n<signature lines>`.
    #[error("malformed signed note: {0}")]
    Malformed(&'static str),
    /// The tree size line is not a decimal number.
    #[error("tree size is not a number: {0:?}")]
    BadSize(String),
    /// The root line is not base64 of 32 bytes.
    #[error("root hash is not base64 of 32 bytes: {0:?}")]
    BadRoot(String),
    /// No signature line carries the expected key name and key hash.
    #[error("no signature by key {0} (signed by another key?)")]
    UnknownKey(String),
    /// A signature line for the expected key does not verify.
    #[error("signature by key {0} does not verify")]
    BadSignature(String),
}

impl Checkpoint {
    /// The note body that is signed: origin, size and base64 root, each ending in a newline.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            STANDARD.encode(self.root.0)
        )
    }

    /// Signs the checkpoint, returning the full signed-note text.
    pub fn sign(&self, key: &LedgerSigningKey) -> Result<String, CheckpointError> {
        check_origin(&self.origin)?;
        let body = self.body();
        let mut sig = key.public_key().note_key_hash(&self.origin).to_vec();
        sig.extend_from_slice(&key.sign(body.as_bytes()));
        Ok(format!(
            "{body}\n\u{2014} {} {}\n",
            self.origin,
            STANDARD.encode(sig)
        ))
    }

    /// Parses a signed note and checks that `key` (named by the note's origin) signed it.
    pub fn verify(text: &str, key: &LedgerPublicKey) -> Result<Checkpoint, CheckpointError> {
        let (body, signatures) = text.split_once("\n\n").ok_or(CheckpointError::Malformed(
            "no blank line before signatures",
        ))?;
        let body = format!("{body}\n");
        let checkpoint = Self::parse_body(&body)?;
        let key_hash = key.note_key_hash(&checkpoint.origin);
        let mut saw_line = false;
        for line in signatures.lines() {
            let rest = line
                .strip_prefix("\u{2014} ")
                .ok_or(CheckpointError::Malformed("signature line without em dash"))?;
            let (name, b64) = rest
                .split_once(' ')
                .ok_or(CheckpointError::Malformed("signature line without name"))?;
            saw_line = true;
            let Ok(raw) = STANDARD.decode(b64) else {
                continue;
            };
            let (hash, sig) = raw.split_at_checked(4).unwrap_or((&[], &[]));
            if name == checkpoint.origin && hash == key_hash {
                if key.verify(body.as_bytes(), sig) {
                    return Ok(checkpoint);
                }
                return Err(CheckpointError::BadSignature(key.key_id()));
            }
        }
        if !saw_line {
            return Err(CheckpointError::Malformed("no signature lines"));
        }
        Err(CheckpointError::UnknownKey(key.key_id()))
    }

    fn parse_body(body: &str) -> Result<Checkpoint, CheckpointError> {
        let mut lines = body.lines();
        let origin = lines
            .next()
            .ok_or(CheckpointError::Malformed("empty body"))?;
        check_origin(origin)?;
        let size_line = lines
            .next()
            .ok_or(CheckpointError::Malformed("no size line"))?;
        if size_line.is_empty()
            || !size_line.bytes().all(|b| b.is_ascii_digit())
            || (size_line.len() > 1 && size_line.starts_with('0'))
        {
            return Err(CheckpointError::BadSize(size_line.to_owned()));
        }
        let size = size_line
            .parse()
            .map_err(|_| CheckpointError::BadSize(size_line.to_owned()))?;
        let root_line = lines
            .next()
            .ok_or(CheckpointError::Malformed("no root line"))?;
        let root = STANDARD
            .decode(root_line)
            .ok()
            .and_then(|b| Hash::from_slice(&b))
            .ok_or_else(|| CheckpointError::BadRoot(root_line.to_owned()))?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

fn check_origin(origin: &str) -> Result<(), CheckpointError> {
    if origin.is_empty() || origin.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(CheckpointError::BadOrigin(origin.to_owned()));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            origin: "warden.test/ledger".into(),
            size: 923,
            root: Hash::sha256(b"root"),
        }
    }

    #[test]
    fn signed_note_has_c2sp_shape_and_verifies() {
        let key = LedgerSigningKey::from_seed(&[1u8; 32]);
        let text = checkpoint().sign(&key).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("warden.test/ledger"));
        assert_eq!(lines.next(), Some("923"));
        assert_eq!(
            lines.next(),
            Some(STANDARD.encode(checkpoint().root.0).as_str())
        );
        assert_eq!(lines.next(), Some(""));
        assert!(
            lines
                .next()
                .unwrap()
                .starts_with("\u{2014} warden.test/ledger ")
        );
        assert!(text.ends_with('\n'));
        assert_eq!(
            Checkpoint::verify(&text, &key.public_key()),
            Ok(checkpoint())
        );
    }

    #[test]
    fn other_key_and_edits_are_rejected() {
        let key = LedgerSigningKey::from_seed(&[1u8; 32]);
        let other = LedgerSigningKey::from_seed(&[2u8; 32]);
        let text = checkpoint().sign(&other).unwrap();
        assert!(matches!(
            Checkpoint::verify(&text, &key.public_key()),
            Err(CheckpointError::UnknownKey(_))
        ));
        let text = checkpoint().sign(&key).unwrap().replace("923", "924");
        assert!(matches!(
            Checkpoint::verify(&text, &key.public_key()),
            Err(CheckpointError::BadSignature(_))
        ));
        assert!(Checkpoint::verify("junk", &key.public_key()).is_err());
        assert!(Checkpoint::verify("o\n01\nAAAA\n\n— o AA\n", &key.public_key()).is_err());
    }
}
