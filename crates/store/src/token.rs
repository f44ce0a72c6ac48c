//! The bearer-secret format agent keys and operator tokens share: `<prefix><id>_<secret>`, where
//! `id` is 12 lowercase hex characters (the public name, shown by `list` and used to revoke) and
//! `secret` is 32 random bytes in base64url without padding. Only a SHA-256 of the secret's bytes
//! is ever stored, and it is compared in constant time.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rusqlite::ErrorCode;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::StoreError;

/// Random bytes in an id (written as twice as many hex characters).
pub(crate) const ID_BYTES: usize = 6;
/// Hex characters in an id.
const ID_LEN: usize = ID_BYTES * 2;
/// Random bytes in a secret.
pub(crate) const SECRET_BYTES: usize = 32;
/// Base64url characters (no padding) encoding [`SECRET_BYTES`].
const SECRET_LEN: usize = 43;
/// Attempts at drawing an unused id before giving up (a clash is a 1 in 2^48 event).
pub(crate) const ID_ATTEMPTS: usize = 4;

/// One kind of bearer secret, told apart by its prefix (`wdn_`, `wdo_`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct TokenFormat {
    prefix: &'static str,
}

impl TokenFormat {
    /// The format whose secrets begin with `prefix`.
    pub(crate) const fn new(prefix: &'static str) -> Self {
        TokenFormat { prefix }
    }

    /// Length of a whole secret: prefix, id, `_`, secret.
    pub(crate) const fn len(self) -> usize {
        self.prefix.len() + ID_LEN + 1 + SECRET_LEN
    }

    /// Splits `presented` into its id and decoded secret; `None` unless it is exactly the prefix,
    /// 12 lowercase hex characters, `_` and 43 canonical base64url characters.
    pub(crate) fn parse(self, presented: &str) -> Option<(&str, [u8; SECRET_BYTES])> {
        if presented.len() != self.len() {
            return None;
        }
        let rest = presented.strip_prefix(self.prefix)?;
        let (id, secret) = rest.split_at_checked(ID_LEN)?;
        let secret = secret.strip_prefix('_')?;
        if !id
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return None;
        }
        let mut bytes = [0u8; SECRET_BYTES];
        let written = URL_SAFE_NO_PAD.decode_slice(secret, &mut bytes).ok()?;
        (written == SECRET_BYTES).then_some((id, bytes))
    }

    /// A fresh random id and secret.
    pub(crate) fn draw(self) -> Result<(String, [u8; SECRET_BYTES]), StoreError> {
        Ok((hex(&random::<ID_BYTES>()?), random::<SECRET_BYTES>()?))
    }

    /// The whole secret as handed out.
    pub(crate) fn render(self, id: &str, secret: &[u8; SECRET_BYTES]) -> String {
        format!("{}{id}_{}", self.prefix, URL_SAFE_NO_PAD.encode(secret))
    }
}

/// SHA-256 of a secret's bytes, as stored.
pub(crate) fn secret_digest(secret: &[u8; SECRET_BYTES]) -> [u8; 32] {
    Sha256::digest(secret).into()
}

/// Whether `secret` hashes to `stored`, compared in constant time.
pub(crate) fn secret_matches(secret: &[u8; SECRET_BYTES], stored: &[u8]) -> bool {
    secret_digest(secret).as_slice().ct_eq(stored).into()
}

/// `true` when an insert failed because the id is already taken.
pub(crate) fn is_id_clash(err: &rusqlite::Error) -> bool {
    err.sqlite_error_code() == Some(ErrorCode::ConstraintViolation)
}

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `N` bytes of OS randomness.
pub(crate) fn random<const N: usize>() -> Result<[u8; N], StoreError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| StoreError::Randomness(e.to_string()))?;
    Ok(bytes)
}
