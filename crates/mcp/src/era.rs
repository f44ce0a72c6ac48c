//! Protocol eras and the HTTP headers each requires.
//!
//! - The session era (2025-03-26, 2025-06-18, 2025-11-25): a client opens a session with
//!   `initialize`; the server names it in `Mcp-Session-Id`; later requests carry that header and
//!   `MCP-Protocol-Version`; GET opens a stream for server messages; DELETE ends the session.
//! - The stateless era (2026-07-28): no `initialize` and no session; each POST names its
//!   protocol version (`MCP-Protocol-Version`, and `_meta` may repeat it), its method in
//!   `Mcp-Method` and, when the body has `params.name` or `params.uri`, that value in `Mcp-Name`.
//!   Headers that disagree with the body are refused ([`HeaderError`], JSON-RPC code
//!   [`HEADER_MISMATCH`], HTTP 400) so that nothing routing on headers sees a different call than
//!   the one judged. `Mcp-Name` is checked for the [`NAME_BEARING_METHODS`].

use crate::message::Message;

/// Every protocol version this gateway speaks, oldest first.
pub const SUPPORTED_VERSIONS: [&str; 4] = ["2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28"];
/// The newest session-era version (what an `initialize` asking for something unknown gets).
pub const LATEST_SESSION_VERSION: &str = "2025-11-25";
/// The stateless era's version.
pub const STATELESS_VERSION: &str = "2026-07-28";
/// The JSON-RPC error code for headers that disagree with the body.
pub const HEADER_MISMATCH: i64 = -32020;
/// The JSON-RPC error code for a protocol version this gateway does not speak.
pub const UNSUPPORTED_PROTOCOL_VERSION: i64 = -32022;
/// Methods whose `Mcp-Name` header mirrors a body parameter, and that parameter.
pub const NAME_BEARING_METHODS: [(&str, &str); 3] = [
    ("tools/call", "name"),
    ("prompts/get", "name"),
    ("resources/read", "uri"),
];
/// The `_meta` key carrying a request's protocol version in the stateless era.
pub const META_PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";

/// Which era a request belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    /// 2025-03-26 … 2025-11-25: `initialize`, sessions, GET streams.
    Session,
    /// 2026-07-28: self-describing requests, no session.
    Stateless,
}

impl Era {
    /// The era of a POSTed message, from its `MCP-Protocol-Version` header or its `_meta`.
    pub fn of(protocol_header: Option<&str>, message: &Message) -> Era {
        let meta = message
            .meta()
            .and_then(|m| m.get(META_PROTOCOL_VERSION))
            .and_then(serde_json::Value::as_str);
        if protocol_header == Some(STATELESS_VERSION) || meta == Some(STATELESS_VERSION) {
            Era::Stateless
        } else {
            Era::Session
        }
    }
}

/// The version an `initialize` gets: the one asked for when it is a session-era version this
/// gateway speaks, the newest session-era version otherwise (the stateless era has no
/// `initialize`, so a client asking for it there is answered in the session era).
pub fn negotiate(requested: Option<&str>) -> &'static str {
    SUPPORTED_VERSIONS
        .iter()
        .copied()
        .filter(|v| *v != STATELESS_VERSION)
        .find(|v| Some(*v) == requested)
        .unwrap_or(LATEST_SESSION_VERSION)
}

/// Whether `version` is one this gateway speaks.
pub fn is_supported(version: &str) -> bool {
    SUPPORTED_VERSIONS.contains(&version)
}

/// A stateless-era request whose headers do not match its body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// No `Mcp-Method` header.
    #[error("the Mcp-Method header is required in protocol version 2026-07-28")]
    MissingMethod,
    /// `Mcp-Method` differs from the body's `method`.
    #[error("the Mcp-Method header `{header}` does not match the body's method `{body}`")]
    MethodMismatch {
        /// The header's value.
        header: String,
        /// The body's method.
        body: String,
    },
    /// The body names a tool, prompt or resource but no `Mcp-Name` header does.
    #[error("the Mcp-Name header is required when the body names `{body}`")]
    MissingName {
        /// The name in the body.
        body: String,
    },
    /// `Mcp-Name` differs from the body's `params.name` / `params.uri`, or names something the
    /// body does not.
    #[error("the Mcp-Name header `{header}` does not match the body's `{body}`")]
    NameMismatch {
        /// The header's value.
        header: String,
        /// The body's name (empty when it has none).
        body: String,
    },
    /// `MCP-Protocol-Version` differs from `_meta`'s protocol version.
    #[error("the MCP-Protocol-Version header `{header}` does not match `_meta` `{body}`")]
    VersionMismatch {
        /// The header's value.
        header: String,
        /// The version in `_meta`.
        body: String,
    },
}

/// The headers of a stateless-era POST, as received.
#[derive(Debug, Clone, Copy, Default)]
pub struct StatelessHeaders<'a> {
    /// `MCP-Protocol-Version`.
    pub protocol_version: Option<&'a str>,
    /// `Mcp-Method`.
    pub method: Option<&'a str>,
    /// `Mcp-Name`.
    pub name: Option<&'a str>,
}

/// Checks a stateless-era request's headers against its body. Responses and notifications
/// posted by a client carry `Mcp-Method` only when they have a method.
pub fn check_headers(headers: StatelessHeaders<'_>, message: &Message) -> Result<(), HeaderError> {
    let meta_version = message
        .meta()
        .and_then(|m| m.get(META_PROTOCOL_VERSION))
        .and_then(serde_json::Value::as_str);
    if let Some(body) = meta_version
        && headers.protocol_version != Some(body)
    {
        return Err(HeaderError::VersionMismatch {
            header: headers.protocol_version.unwrap_or_default().to_owned(),
            body: body.to_owned(),
        });
    }
    let Some(method) = message.method() else {
        return Ok(());
    };
    match headers.method {
        None => return Err(HeaderError::MissingMethod),
        Some(h) if h != method => {
            return Err(HeaderError::MethodMismatch {
                header: h.to_owned(),
                body: method.to_owned(),
            });
        }
        Some(_) => {}
    }
    let Some((_, key)) = NAME_BEARING_METHODS.iter().find(|(m, _)| *m == method) else {
        return Ok(());
    };
    let body = message
        .params()
        .and_then(|p| p.get(*key))
        .and_then(serde_json::Value::as_str);
    let header = headers.name.map(decode_header_value);
    match (header, body) {
        (_, None) => Ok(()),
        (Some(Some(h)), Some(b)) if h == b => Ok(()),
        (None, Some(b)) => Err(HeaderError::MissingName { body: b.to_owned() }),
        (Some(_), Some(b)) => Err(HeaderError::NameMismatch {
            header: headers.name.unwrap_or_default().to_owned(),
            body: b.to_owned(),
        }),
    }
}

/// A header value as sent: verbatim, or decoded from the `=?base64?...?=` form clients use for
/// values that are not visible ASCII. `None` for a malformed encoding (it then matches nothing).
pub fn decode_header_value(value: &str) -> Option<String> {
    use base64::Engine;
    let Some(payload) = value
        .strip_prefix("=?base64?")
        .and_then(|v| v.strip_suffix("?="))
    else {
        return Some(value.to_owned());
    };
    let engine = base64::engine::general_purpose::STANDARD;
    let bytes = engine.decode(payload).ok()?;
    if engine.encode(&bytes) != payload {
        return None;
    }
    String::from_utf8(bytes).ok()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn call(name: &str) -> Message {
        Message::parse(
            format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"{name}","arguments":{{}}}}}}"#
            )
            .as_bytes(),
        )
        .unwrap()
    }

    fn headers<'a>(method: Option<&'a str>, name: Option<&'a str>) -> StatelessHeaders<'a> {
        StatelessHeaders {
            protocol_version: Some(STATELESS_VERSION),
            method,
            name,
        }
    }

    #[test]
    fn the_era_comes_from_the_header_or_meta() {
        let m = call("t");
        assert_eq!(Era::of(Some(STATELESS_VERSION), &m), Era::Stateless);
        assert_eq!(Era::of(Some("2025-06-18"), &m), Era::Session);
        assert_eq!(Era::of(None, &m), Era::Session);
        let meta = Message::parse(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#,
        )
        .unwrap();
        assert_eq!(Era::of(None, &meta), Era::Stateless);
    }

    #[test]
    fn negotiation_keeps_known_session_versions() {
        assert_eq!(negotiate(Some("2025-03-26")), "2025-03-26");
        assert_eq!(negotiate(Some("2025-06-18")), "2025-06-18");
        assert_eq!(negotiate(Some("2024-11-05")), LATEST_SESSION_VERSION);
        assert_eq!(negotiate(Some(STATELESS_VERSION)), LATEST_SESSION_VERSION);
        assert_eq!(negotiate(None), LATEST_SESSION_VERSION);
        assert!(is_supported(STATELESS_VERSION));
        assert!(!is_supported("2024-11-05"));
    }

    #[test]
    fn matching_headers_pass() {
        assert_eq!(
            check_headers(headers(Some("tools/call"), Some("t")), &call("t")),
            Ok(())
        );
        let list = Message::parse(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#).unwrap();
        assert_eq!(
            check_headers(headers(Some("tools/list"), None), &list),
            Ok(())
        );
    }

    #[test]
    fn headers_that_disagree_with_the_body_are_refused() {
        let m = call("delete_all");
        assert_eq!(
            check_headers(headers(None, Some("delete_all")), &m),
            Err(HeaderError::MissingMethod)
        );
        assert!(matches!(
            check_headers(headers(Some("tools/list"), Some("delete_all")), &m),
            Err(HeaderError::MethodMismatch { .. })
        ));
        assert!(matches!(
            check_headers(headers(Some("tools/call"), None), &m),
            Err(HeaderError::MissingName { .. })
        ));
        assert!(matches!(
            check_headers(headers(Some("tools/call"), Some("read_file")), &m),
            Err(HeaderError::NameMismatch { .. })
        ));
    }

    #[test]
    fn names_may_be_base64_encoded() {
        let m = call("t\u{e9}");
        let encoded = "=?base64?dMOp?=";
        assert_eq!(decode_header_value(encoded).as_deref(), Some("t\u{e9}"));
        assert_eq!(
            check_headers(headers(Some("tools/call"), Some(encoded)), &m),
            Ok(())
        );
        assert_eq!(decode_header_value("=?base64?!!?="), None);
        assert!(matches!(
            check_headers(headers(Some("tools/call"), Some("=?base64?!!?=")), &m),
            Err(HeaderError::NameMismatch { .. })
        ));
    }

    #[test]
    fn a_meta_version_must_match_the_header() {
        let m = Message::parse(
            br#"{"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2025-11-25"}}}"#,
        )
        .unwrap();
        assert!(matches!(
            check_headers(headers(Some("tools/list"), None), &m),
            Err(HeaderError::VersionMismatch { .. })
        ));
    }
}
