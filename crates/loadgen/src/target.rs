//! The endpoint under test: a base URL, the bearer key it expects, and the OpenAI Chat
//! Completions requests the bench sends to it, complete or streamed.
//!
//! The same code talks to the mock provider directly and to Warden in front of it, so the two
//! measurements differ only in what sits behind the URL.

use crate::sse::{SseError, StreamReader};
use std::time::{Duration, Instant};
use thiserror::Error;

/// Why one request did not count as a success.
#[derive(Debug, Error)]
pub enum Failure {
    /// The endpoint answered with a status other than 200.
    #[error("HTTP status {0}")]
    Status(u16),
    /// No complete answer within the request time limit.
    #[error("timed out")]
    Timeout,
    /// The connection could not be opened.
    #[error("connect: {0}")]
    Connect(String),
    /// The connection failed while sending or receiving.
    #[error("transport: {0}")]
    Transport(String),
    /// A complete answer without the text the bench expects (for example the tool call was
    /// blocked instead of released).
    #[error("answer lacks the expected `{0}`")]
    UnexpectedBody(String),
    /// A stream carried an event that is not a Chat Completions chunk.
    #[error("stream: {0}")]
    Stream(#[from] SseError),
    /// A stream closed before `data: [DONE]`, or carried no text.
    #[error("stream ended early (text seen: {text})")]
    Incomplete {
        /// Whether any text arrived before the end.
        text: bool,
    },
}

impl Failure {
    /// A short, stable name for counting failures by kind.
    pub fn kind(&self) -> String {
        match self {
            Failure::Status(code) => format!("status_{code}"),
            Failure::Timeout => "timeout".into(),
            Failure::Connect(_) => "connect".into(),
            Failure::Transport(_) => "transport".into(),
            Failure::UnexpectedBody(_) => "unexpected_body".into(),
            Failure::Stream(_) => "bad_stream".into(),
            Failure::Incomplete { .. } => "incomplete_stream".into(),
        }
    }
}

impl From<reqwest::Error> for Failure {
    fn from(e: reqwest::Error) -> Self {
        if e.is_timeout() {
            Failure::Timeout
        } else if e.is_connect() {
            Failure::Connect(e.to_string())
        } else {
            Failure::Transport(e.to_string())
        }
    }
}

/// When a streamed answer's text started and when the stream ended.
#[derive(Debug, Clone, Copy)]
pub struct StreamTiming {
    /// Arrival of the first non-empty `delta.content`.
    pub first_text: Instant,
    /// Arrival of `data: [DONE]`.
    pub end: Instant,
}

/// An OpenAI-compatible endpoint and the request the bench sends it.
#[derive(Debug, Clone)]
pub struct Target {
    client: reqwest::Client,
    url: String,
    authorization: String,
    complete_body: String,
    stream_body: String,
}

impl Target {
    /// A target at `base` (for example `http://127.0.0.1:8080`) asking `model` for the reply
    /// that `prompt` selects, with `key` as the bearer token.
    pub fn new(
        base: &str,
        key: &str,
        model: &str,
        prompt: &str,
        timeout: Duration,
    ) -> Result<Self, reqwest::Error> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .tcp_nodelay(true)
            .pool_idle_timeout(Duration::from_secs(90))
            .timeout(timeout)
            .build()?;
        let body = |stream: bool| {
            serde_json::json!({
                "model": model,
                "stream": stream,
                "messages": [{ "role": "user", "content": prompt }],
            })
            .to_string()
        };
        Ok(Self {
            client,
            url: format!("{}/v1/chat/completions", base.trim_end_matches('/')),
            authorization: format!("Bearer {key}"),
            complete_body: body(false),
            stream_body: body(true),
        })
    }

    fn post(&self, body: &str) -> reqwest::RequestBuilder {
        self.client
            .post(&self.url)
            .header("authorization", &self.authorization)
            .header("content-type", "application/json")
            .body(body.to_owned())
    }

    /// Sends the complete (non-stream) request and reads the whole answer, which must contain
    /// `expect`.
    pub async fn complete(&self, expect: &str) -> Result<(), Failure> {
        let response = self.post(&self.complete_body).send().await?;
        let status = response.status().as_u16();
        let body = response.bytes().await?;
        if status != 200 {
            return Err(Failure::Status(status));
        }
        if !contains(&body, expect.as_bytes()) {
            return Err(Failure::UnexpectedBody(expect.to_owned()));
        }
        Ok(())
    }

    /// Sends the streamed request and reads it to `data: [DONE]`; `on_open` runs when the
    /// response headers arrive with status 200.
    pub async fn stream(&self, on_open: impl FnOnce()) -> Result<StreamTiming, Failure> {
        let mut response = self.post(&self.stream_body).send().await?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(Failure::Status(status));
        }
        on_open();
        let mut reader = StreamReader::default();
        let mut first_text = None;
        while let Some(chunk) = response.chunk().await? {
            let progress = reader.feed(&chunk)?;
            let now = Instant::now();
            if progress.text && first_text.is_none() {
                first_text = Some(now);
            }
            if progress.done {
                return match first_text {
                    Some(first_text) => Ok(StreamTiming {
                        first_text,
                        end: now,
                    }),
                    None => Err(Failure::Incomplete { text: false }),
                };
            }
        }
        Err(Failure::Incomplete {
            text: first_text.is_some(),
        })
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contains_finds_a_substring() {
        assert!(contains(
            b"{\"finish_reason\":\"tool_calls\"}",
            b"tool_calls"
        ));
        assert!(!contains(b"{\"finish_reason\":\"stop\"}", b"tool_calls"));
        assert!(contains(b"anything", b""));
        assert!(!contains(b"ab", b"abc"));
    }

    #[test]
    fn failures_are_counted_by_kind() {
        assert_eq!(Failure::Status(502).kind(), "status_502");
        assert_eq!(
            Failure::Incomplete { text: true }.kind(),
            "incomplete_stream"
        );
    }
}
