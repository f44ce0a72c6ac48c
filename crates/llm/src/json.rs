//! Small helpers for reading and writing provider JSON without panicking, and for writing SSE
//! events. Must not know any provider's semantics.

use crate::ProtocolError;
use serde_json::{Map, Value};

/// The string at `key`, if present and a string.
pub(crate) fn str_at<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// The unsigned integer at `key`, if present and one.
pub(crate) fn u64_at(value: &Value, key: &str) -> Option<u64> {
    value.get(key).and_then(Value::as_u64)
}

/// Parses one SSE `data` payload as JSON.
pub(crate) fn parse_data(data: &str) -> Result<Value, ProtocolError> {
    serde_json::from_str(data)
        .map_err(|e| ProtocolError::Malformed(format!("event data is not JSON: {e}")))
}

/// The object inside `value`, or a precise error naming `what`.
pub(crate) fn object_mut<'a>(
    value: &'a mut Value,
    what: &str,
) -> Result<&'a mut Map<String, Value>, ProtocolError> {
    value
        .as_object_mut()
        .ok_or_else(|| ProtocolError::Malformed(format!("{what} is not a JSON object")))
}

/// Serializes `value` as one SSE event, with an `event:` line when `name` is given.
pub(crate) fn write_event(out: &mut Vec<u8>, name: Option<&str>, value: &Value) {
    if let Some(name) = name {
        out.extend_from_slice(b"event: ");
        out.extend_from_slice(name.as_bytes());
        out.push(b'\n');
    }
    out.extend_from_slice(b"data: ");
    // Writing a `Value` into a Vec cannot fail: every map key is a string.
    if serde_json::to_writer(&mut *out, value).is_err() {
        out.extend_from_slice(b"null");
    }
    out.extend_from_slice(b"\n\n");
}

/// Collects the text of a content field: a string, or an array of parts carrying `text`.
pub(crate) fn collect_text(content: &Value, out: &mut String) {
    match content {
        Value::String(s) => push_line(out, s),
        Value::Array(parts) => {
            for part in parts {
                if let Some(text) = str_at(part, "text") {
                    push_line(out, text);
                } else if let Some(inner) = part.get("content") {
                    collect_text(inner, out);
                }
            }
        }
        _ => {}
    }
}

/// Appends `text` to `out` on its own line.
pub(crate) fn push_line(out: &mut String, text: &str) {
    if text.is_empty() {
        return;
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out.push_str(text);
}
