//! Helpers shared by the store's integration tests.

/// The random part of a token (`<prefix>_<hex id>_<secret>`). The secret is URL-safe base64 and
/// may itself contain `_`, so it is everything after the second `_`.
pub fn secret_of(token: &str) -> &str {
    token.splitn(3, '_').nth(2).unwrap()
}
