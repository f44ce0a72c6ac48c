//! JSON-RPC 2.0 messages as MCP uses them. A [`Message`] reads the envelope (id, method) and
//! keeps the whole JSON object, so forwarding it forwards every field, known or not.
//!
//! Batches (JSON arrays) were allowed by the 2025-03-26 revision only and removed after it; they
//! are refused with [`MessageError::Batch`] rather than half-understood.

use serde_json::{Map, Value};

/// Why bytes are not one JSON-RPC 2.0 message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// The bytes are not JSON.
    #[error("the body is not JSON: {0}")]
    Json(String),
    /// A JSON array: a batch, which this gateway does not accept.
    #[error("JSON-RPC batches are not supported; send one message per request")]
    Batch,
    /// JSON, but not an object.
    #[error("a JSON-RPC message must be a JSON object")]
    NotObject,
    /// `jsonrpc` is missing or not `"2.0"`.
    #[error("`jsonrpc` must be \"2.0\"")]
    Version,
    /// `method` is present but not a string.
    #[error("`method` must be a string")]
    Method,
    /// `id` is present but neither a string nor an integer.
    #[error("`id` must be a string or an integer")]
    Id,
    /// Neither `method` nor `result` / `error`: not a request, notification or response.
    #[error("the message has no `method`, `result` or `error`")]
    Shape,
    /// `params` is present but neither an object nor an array.
    #[error("`params` must be an object or an array")]
    Params,
}

/// What a message is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    /// A request: has `method` and `id`; expects a response.
    Request,
    /// A notification: has `method`, no `id`.
    Notification,
    /// A response: has `id` and `result` or `error`.
    Response,
}

/// One JSON-RPC message, its envelope read, its JSON kept whole.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    kind: MessageKind,
    object: Map<String, Value>,
}

impl Message {
    /// Reads one message from `bytes`.
    pub fn parse(bytes: &[u8]) -> Result<Message, MessageError> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|e| MessageError::Json(e.to_string()))?;
        Message::from_value(value)
    }

    /// Reads one message from a JSON value.
    pub fn from_value(value: Value) -> Result<Message, MessageError> {
        let object = match value {
            Value::Object(object) => object,
            Value::Array(_) => return Err(MessageError::Batch),
            _ => return Err(MessageError::NotObject),
        };
        if object.get("jsonrpc").and_then(Value::as_str) != Some("2.0") {
            return Err(MessageError::Version);
        }
        let id = object.get("id");
        if let Some(id) = id
            && !(id.is_string() || id.is_i64() || id.is_u64())
        {
            return Err(MessageError::Id);
        }
        if let Some(params) = object.get("params")
            && !(params.is_object() || params.is_array())
        {
            return Err(MessageError::Params);
        }
        let kind = match (object.get("method"), id) {
            (Some(Value::String(_)), Some(_)) => MessageKind::Request,
            (Some(Value::String(_)), None) => MessageKind::Notification,
            (Some(_), _) => return Err(MessageError::Method),
            (None, Some(_)) if object.contains_key("result") || object.contains_key("error") => {
                MessageKind::Response
            }
            (None, _) => return Err(MessageError::Shape),
        };
        Ok(Message { kind, object })
    }

    /// What the message is.
    pub fn kind(&self) -> MessageKind {
        self.kind
    }

    /// The id (requests and responses).
    pub fn id(&self) -> Option<&Value> {
        self.object.get("id")
    }

    /// The method (requests and notifications).
    pub fn method(&self) -> Option<&str> {
        self.object.get("method").and_then(Value::as_str)
    }

    /// The params, when present.
    pub fn params(&self) -> Option<&Value> {
        self.object.get("params")
    }

    /// The params, mutable (inserted as an empty object when absent).
    pub fn params_mut(&mut self) -> &mut Value {
        self.object
            .entry("params")
            .or_insert_with(|| Value::Object(Map::new()))
    }

    /// `params.name` (`tools/call`, `prompts/get`) or else `params.uri` (`resources/read`, …):
    /// what the stateless era's `Mcp-Name` header must carry.
    pub fn target_name(&self) -> Option<&str> {
        let params = self.params()?;
        params
            .get("name")
            .and_then(Value::as_str)
            .or_else(|| params.get("uri").and_then(Value::as_str))
    }

    /// `params._meta`, when present.
    pub fn meta(&self) -> Option<&Map<String, Value>> {
        self.params()?.get("_meta")?.as_object()
    }

    /// Replaces the id, returning the old one (used to multiplex several clients' requests on
    /// one upstream connection).
    pub fn replace_id(&mut self, id: Value) -> Option<Value> {
        self.object.insert("id".into(), id)
    }

    /// The message as JSON.
    pub fn to_value(&self) -> Value {
        Value::Object(self.object.clone())
    }

    /// The message as JSON, consuming it.
    pub fn into_value(self) -> Value {
        Value::Object(self.object)
    }

    /// The message as bytes.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(&self.object).unwrap_or_default()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kinds_are_read_from_the_envelope() {
        let request = Message::parse(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#);
        assert_eq!(request.unwrap().kind(), MessageKind::Request);
        let note = Message::parse(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
        assert_eq!(note.unwrap().kind(), MessageKind::Notification);
        let response = Message::parse(br#"{"jsonrpc":"2.0","id":"a","result":{}}"#);
        assert_eq!(response.unwrap().kind(), MessageKind::Response);
    }

    #[test]
    fn bad_messages_get_precise_errors() {
        let cases: [(&[u8], MessageError); 8] = [
            (b"{", MessageError::Json(String::new())),
            (b"[]", MessageError::Batch),
            (b"3", MessageError::NotObject),
            (br#"{"id":1,"method":"x"}"#, MessageError::Version),
            (
                br#"{"jsonrpc":"2.0","id":1,"method":3}"#,
                MessageError::Method,
            ),
            (
                br#"{"jsonrpc":"2.0","id":1.5,"method":"x"}"#,
                MessageError::Id,
            ),
            (br#"{"jsonrpc":"2.0","id":1}"#, MessageError::Shape),
            (
                br#"{"jsonrpc":"2.0","id":1,"method":"x","params":3}"#,
                MessageError::Params,
            ),
        ];
        for (bytes, want) in cases {
            let got = Message::parse(bytes).unwrap_err();
            match (&got, &want) {
                (MessageError::Json(_), MessageError::Json(_)) => {}
                _ => assert_eq!(got, want, "{}", String::from_utf8_lossy(bytes)),
            }
        }
    }

    #[test]
    fn unknown_fields_survive_an_id_swap() {
        let mut m = Message::parse(
            br#"{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{"name":"t","arguments":{},"x-extra":[1]},"vendor":true}"#,
        )
        .unwrap();
        assert_eq!(m.replace_id(json!("w-1")), Some(json!(7)));
        let v = m.to_value();
        assert_eq!(v["id"], json!("w-1"));
        assert_eq!(v["vendor"], json!(true));
        assert_eq!(v["params"]["x-extra"], json!([1]));
        assert_eq!(m.target_name(), Some("t"));
    }

    #[test]
    fn target_name_falls_back_to_the_uri() {
        let m = Message::parse(
            br#"{"jsonrpc":"2.0","id":1,"method":"resources/read","params":{"uri":"file:///a"}}"#,
        )
        .unwrap();
        assert_eq!(m.target_name(), Some("file:///a"));
    }
}
