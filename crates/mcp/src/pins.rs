//! The pin file: each tool's definition digest for one MCP server, signed with the ledger's
//! Ed25519 key so that whoever can edit the file but not the key cannot approve a changed tool.
//!
//! ```json
//! {
//!   "format": "warden-mcp-pins/1",
//!   "server": "files",
//!   "tools": { "read_file": "sha256:…" },
//!   "key_id": "<RFC 7638 thumbprint of the signing key>",
//!   "signature": "<base64url Ed25519 signature>"
//! }
//! ```
//!
//! The signature covers the RFC 8785 canonical JSON of `{format, server, tools}`. Pure: the
//! caller reads and writes the file.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::json;
use warden_ledger::{LedgerPublicKey, LedgerSigningKey};

/// The `format` of pin files this version writes and reads.
pub const PIN_FORMAT: &str = "warden-mcp-pins/1";

/// Why a pin file is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    /// The text is not a pin file.
    #[error("not a pin file: {0}")]
    Parse(String),
    /// The `format` is not one this version reads.
    #[error("pin file format `{0}` is not {PIN_FORMAT}")]
    Format(String),
    /// The file pins another server's tools.
    #[error("the pin file is for server `{found}`, not `{expected}`")]
    Server {
        /// The server the file names.
        found: String,
        /// The server it was loaded for.
        expected: String,
    },
    /// The signature does not verify with the ledger's public key (edited, or signed by
    /// another key).
    #[error("the pin file's signature does not verify with the ledger key {key_id}")]
    Signature {
        /// The thumbprint of the key tried.
        key_id: String,
    },
    /// The pinned content cannot be put in canonical form.
    #[error("the pin file cannot be canonicalized: {0}")]
    Canonical(String),
}

/// One server's pinned tool digests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PinFile {
    /// The server, as named in the configuration.
    pub server: String,
    /// Tool name → `sha256:<hex>` definition digest.
    pub tools: BTreeMap<String, String>,
}

/// A pin file with its signature, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedPinFile {
    /// Always [`PIN_FORMAT`].
    pub format: String,
    /// The server.
    pub server: String,
    /// Tool name → digest.
    pub tools: BTreeMap<String, String>,
    /// Thumbprint of the signing key.
    pub key_id: String,
    /// base64url (unpadded) Ed25519 signature over the canonical signed content.
    pub signature: String,
}

fn signed_content(format: &str, pins: &PinFile) -> Result<Vec<u8>, PinError> {
    warden_ledger::canonicalize(&json!({
        "format": format,
        "server": pins.server,
        "tools": pins.tools,
    }))
    .map_err(|e| PinError::Canonical(e.to_string()))
}

impl PinFile {
    /// Signs the pins with the ledger key.
    pub fn sign(&self, key: &LedgerSigningKey) -> Result<SignedPinFile, PinError> {
        let content = signed_content(PIN_FORMAT, self)?;
        Ok(SignedPinFile {
            format: PIN_FORMAT.to_owned(),
            server: self.server.clone(),
            tools: self.tools.clone(),
            key_id: key.public_key().key_id(),
            signature: URL_SAFE_NO_PAD.encode(key.sign(&content)),
        })
    }
}

impl SignedPinFile {
    /// Reads a pin file's text (not yet verified).
    pub fn parse(text: &str) -> Result<SignedPinFile, PinError> {
        serde_json::from_str(text).map_err(|e| PinError::Parse(e.to_string()))
    }

    /// The file's text (pretty JSON with a trailing newline).
    pub fn to_text(&self) -> String {
        let mut text = serde_json::to_string_pretty(self).unwrap_or_default();
        text.push('\n');
        text
    }

    /// Verifies the file for `server` with the ledger's public key and returns its pins.
    pub fn verify(&self, key: &LedgerPublicKey, server: &str) -> Result<PinFile, PinError> {
        if self.format != PIN_FORMAT {
            return Err(PinError::Format(self.format.clone()));
        }
        if self.server != server {
            return Err(PinError::Server {
                found: self.server.clone(),
                expected: server.to_owned(),
            });
        }
        let pins = PinFile {
            server: self.server.clone(),
            tools: self.tools.clone(),
        };
        let content = signed_content(&self.format, &pins)?;
        let signature = URL_SAFE_NO_PAD
            .decode(self.signature.as_bytes())
            .unwrap_or_default();
        if !key.verify(&content, &signature) {
            return Err(PinError::Signature {
                key_id: key.key_id(),
            });
        }
        Ok(pins)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn pins() -> PinFile {
        PinFile {
            server: "files".into(),
            tools: BTreeMap::from([("read_file".into(), "sha256:00".into())]),
        }
    }

    #[test]
    fn a_signed_file_round_trips_and_verifies() {
        let key = LedgerSigningKey::from_seed(&[7; 32]);
        let signed = pins().sign(&key).unwrap();
        let text = signed.to_text();
        let read = SignedPinFile::parse(&text).unwrap();
        assert_eq!(read.verify(&key.public_key(), "files").unwrap(), pins());
    }

    #[test]
    fn an_edited_file_does_not_verify() {
        let key = LedgerSigningKey::from_seed(&[7; 32]);
        let mut signed = pins().sign(&key).unwrap();
        signed.tools.insert("read_file".into(), "sha256:ff".into());
        assert!(matches!(
            signed.verify(&key.public_key(), "files"),
            Err(PinError::Signature { .. })
        ));
    }

    #[test]
    fn another_key_or_server_is_refused() {
        let key = LedgerSigningKey::from_seed(&[7; 32]);
        let other = LedgerSigningKey::from_seed(&[8; 32]);
        let signed = pins().sign(&key).unwrap();
        assert!(matches!(
            signed.verify(&other.public_key(), "files"),
            Err(PinError::Signature { .. })
        ));
        assert!(matches!(
            signed.verify(&key.public_key(), "db"),
            Err(PinError::Server { .. })
        ));
        let mut garbled = signed;
        garbled.signature = "!!".into();
        assert!(matches!(
            garbled.verify(&key.public_key(), "files"),
            Err(PinError::Signature { .. })
        ));
    }

    #[test]
    fn malformed_files_are_refused() {
        assert!(matches!(SignedPinFile::parse("{"), Err(PinError::Parse(_))));
        assert!(matches!(
            SignedPinFile::parse(
                r#"{"format":"x","server":"s","tools":{},"key_id":"k","signature":"s","extra":1}"#
            ),
            Err(PinError::Parse(_))
        ));
        let key = LedgerSigningKey::from_seed(&[7; 32]);
        let mut signed = pins().sign(&key).unwrap();
        signed.format = "warden-mcp-pins/9".into();
        assert!(matches!(
            signed.verify(&key.public_key(), "files"),
            Err(PinError::Format(_))
        ));
    }
}
