//! `Proxy-Authorization`: the Warden key an agent's HTTP client presents to the proxy, as Basic
//! credentials (the key as password, or as user name with no password:
//! `HTTPS_PROXY=http://KEY@host:port`) or as a Bearer token. Pure.

use base64::Engine;

/// The key in a `Proxy-Authorization` value, if it carries one.
pub fn proxy_key(value: &str) -> Option<String> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    let rest = rest.trim();
    let key = if scheme.eq_ignore_ascii_case("bearer") {
        rest.to_owned()
    } else if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(rest)
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (user, password) = text.split_once(':').unwrap_or((text.as_str(), ""));
        let key = if password.is_empty() { user } else { password };
        percent_decoded(key)
    } else {
        return None;
    };
    (!key.is_empty()).then_some(key)
}

/// Clients percent-encode userinfo taken from a proxy URL inconsistently; Warden keys never
/// contain `%`, so decoding is harmless.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (b, hex) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(credentials: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(credentials)
        )
    }

    #[test]
    fn keys_are_read_from_basic_and_bearer() {
        assert_eq!(proxy_key(&basic("agent:wdn_a_b")), Some("wdn_a_b".into()));
        assert_eq!(proxy_key(&basic("wdn_a_b:")), Some("wdn_a_b".into()));
        assert_eq!(proxy_key(&basic("wdn_a_b")), Some("wdn_a_b".into()));
        assert_eq!(proxy_key(&basic("x:wdn%5Fa_b")), Some("wdn_a_b".into()));
        assert_eq!(proxy_key("Bearer wdn_c_d"), Some("wdn_c_d".into()));
        assert_eq!(proxy_key("bearer   wdn_c_d "), Some("wdn_c_d".into()));
    }

    #[test]
    fn anything_else_carries_no_key() {
        assert_eq!(proxy_key("Basic !!!notbase64"), None);
        assert_eq!(proxy_key(&basic(":")), None);
        assert_eq!(proxy_key("Digest x"), None);
        assert_eq!(proxy_key("Bearer"), None);
        assert_eq!(proxy_key(""), None);
        assert_eq!(proxy_key("Basic %"), None);
    }
}
