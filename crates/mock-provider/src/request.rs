//! What the mock reads from a request body, shared by the three API shapes.
//!
//! Owns [`Request`] and the JSON helpers the API modules use to read the fields selection and
//! usage need. Unknown fields are ignored, as the real providers do for most of them. Must not
//! depend on HTTP.

use serde_json::Value;

use crate::api_error::ApiError;
use crate::script::Prompt;

/// The parts of a request that decide the reply and its shape.
#[derive(Debug, Clone, Default)]
pub(crate) struct Request {
    /// What reply selection looks at.
    pub prompt: Prompt,
    /// `stream: true` was asked for.
    pub stream: bool,
    /// `stream_options.include_usage` (Chat Completions only).
    pub include_usage: bool,
}

/// The required string field `name` of `body`.
pub(crate) fn required_str<'a>(body: &'a Value, name: &'static str) -> Result<&'a str, ApiError> {
    match body.get(name) {
        Some(Value::String(s)) => Ok(s),
        Some(_) => Err(ApiError::InvalidField {
            param: name,
            message: "must be a string".to_owned(),
        }),
        None => Err(missing(name)),
    }
}

/// The required array field `name` of `body`.
pub(crate) fn required_array<'a>(
    body: &'a Value,
    name: &'static str,
) -> Result<&'a [Value], ApiError> {
    match body.get(name) {
        Some(Value::Array(items)) => Ok(items),
        Some(_) => Err(ApiError::InvalidField {
            param: name,
            message: "must be an array".to_owned(),
        }),
        None => Err(missing(name)),
    }
}

/// The optional boolean field `name` of `body` (absent or `null` reads as `false`).
pub(crate) fn flag(body: &Value, name: &'static str) -> Result<bool, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError::InvalidField {
            param: name,
            message: "must be a boolean".to_owned(),
        }),
    }
}

/// The optional token-limit field `name` of `body` (absent or `null` reads as no limit).
pub(crate) fn token_limit(body: &Value, name: &'static str) -> Result<Option<u64>, ApiError> {
    match body.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) if n.is_u64() => Ok(n.as_u64()),
        Some(_) => Err(ApiError::InvalidField {
            param: name,
            message: "must be a non-negative integer".to_owned(),
        }),
    }
}

/// The error for a missing required field.
pub(crate) fn missing(name: &'static str) -> ApiError {
    ApiError::InvalidField {
        param: name,
        message: "is required".to_owned(),
    }
}

/// The text of a message `content`: a string, or the `text` of its text parts joined.
pub(crate) fn text_of(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter(|p| {
                matches!(
                    p.get("type").and_then(Value::as_str),
                    Some("text" | "input_text")
                )
            })
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// Characters in every string inside `value` (object keys excluded), for estimated usage.
pub(crate) fn text_chars(value: Option<&Value>) -> usize {
    let mut total = 0usize;
    let mut pending: Vec<&Value> = value.into_iter().collect();
    while let Some(v) = pending.pop() {
        match v {
            Value::String(s) => total = total.saturating_add(s.chars().count()),
            Value::Array(items) => pending.extend(items),
            Value::Object(map) => pending.extend(map.values()),
            Value::Null | Value::Bool(_) | Value::Number(_) => {}
        }
    }
    total
}

/// The `role` of a message or input item.
pub(crate) fn role(item: &Value) -> Option<&str> {
    item.get("role").and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn text_of_joins_text_parts_and_skips_others() {
        let content = json!([
            {"type": "text", "text": "a"},
            {"type": "image_url", "image_url": {"url": "x"}},
            {"type": "input_text", "text": "b"}
        ]);
        assert_eq!(text_of(Some(&content)), "a\nb");
        assert_eq!(text_of(Some(&json!("plain"))), "plain");
        assert_eq!(text_of(Some(&json!(3))), "");
    }

    #[test]
    fn text_chars_counts_nested_string_values_not_keys() {
        let v = json!([{"role": "user", "content": [{"type": "text", "text": "héllo"}]}]);
        // "user" (4) + "text" (4) + "héllo" (5)
        assert_eq!(text_chars(Some(&v)), 13);
        assert_eq!(text_chars(None), 0);
    }

    #[test]
    fn required_fields_name_the_param() {
        let body = json!({"model": 3});
        assert_eq!(
            required_str(&body, "model").unwrap_err(),
            ApiError::InvalidField {
                param: "model",
                message: "must be a string".into()
            }
        );
        assert_eq!(
            required_array(&body, "messages").unwrap_err(),
            missing("messages")
        );
        assert!(flag(&json!({"stream": "yes"}), "stream").is_err());
        assert!(flag(&json!({"stream": true}), "stream").unwrap());
    }
}
