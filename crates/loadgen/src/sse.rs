//! Reading an OpenAI Chat Completions event stream as it arrives: when the first text byte
//! (`choices[].delta.content`) shows up, and whether the stream ended with `data: [DONE]`.
//!
//! Pure: fed byte chunks in arrival order, in whatever pieces the network delivers them.

use serde::Deserialize;
use thiserror::Error;

/// An event the stream carried that is not a Chat Completions chunk.
#[derive(Debug, Error, PartialEq)]
pub enum SseError {
    /// A `data:` line that is neither `[DONE]` nor a JSON chunk.
    #[error("a data line is not a JSON chunk: {0}")]
    BadChunk(String),
    /// A `data:` line that is not UTF-8.
    #[error("a data line is not UTF-8")]
    NotUtf8,
}

/// What a chunk of stream bytes revealed.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Progress {
    /// At least one text byte arrived in this chunk.
    pub text: bool,
    /// The `[DONE]` terminator arrived in this chunk.
    pub done: bool,
}

/// An event stream being read; holds at most one incomplete line between chunks.
#[derive(Debug, Default)]
pub struct StreamReader {
    pending: Vec<u8>,
}

#[derive(Deserialize)]
struct ChatChunk {
    #[serde(default)]
    choices: Vec<Choice>,
}

#[derive(Deserialize)]
struct Choice {
    #[serde(default)]
    delta: Option<Delta>,
}

#[derive(Deserialize)]
struct Delta {
    #[serde(default)]
    content: Option<String>,
}

impl StreamReader {
    /// Feeds the next chunk of bytes; reports whether it held text or the terminator.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Progress, SseError> {
        self.pending.extend_from_slice(bytes);
        let mut progress = Progress::default();
        let mut consumed = 0;
        while let Some(offset) = self
            .pending
            .get(consumed..)
            .and_then(|rest| rest.iter().position(|&b| b == b'\n'))
        {
            let line = self
                .pending
                .get(consumed..consumed + offset)
                .unwrap_or_default();
            let seen = read_line(line)?;
            progress.text |= seen.text;
            progress.done |= seen.done;
            consumed += offset + 1;
        }
        self.pending.drain(..consumed);
        Ok(progress)
    }
}

fn read_line(line: &[u8]) -> Result<Progress, SseError> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let Some(data) = line.strip_prefix(b"data:") else {
        return Ok(Progress::default());
    };
    let data = std::str::from_utf8(data)
        .map_err(|_| SseError::NotUtf8)?
        .trim();
    if data == "[DONE]" {
        return Ok(Progress {
            text: false,
            done: true,
        });
    }
    let chunk: ChatChunk =
        serde_json::from_str(data).map_err(|e| SseError::BadChunk(e.to_string()))?;
    let text = chunk.choices.iter().any(|c| {
        c.delta
            .as_ref()
            .and_then(|d| d.content.as_deref())
            .is_some_and(|t| !t.is_empty())
    });
    Ok(Progress { text, done: false })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const ROLE: &str = "data: {\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n";
    const TEXT: &str = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n";

    #[test]
    fn an_empty_content_delta_is_not_the_first_token() {
        let mut reader = StreamReader::default();
        assert_eq!(reader.feed(ROLE.as_bytes()).unwrap(), Progress::default());
    }

    #[test]
    fn a_content_delta_is_text() {
        let mut reader = StreamReader::default();
        let progress = reader.feed(TEXT.as_bytes()).unwrap();
        assert!(progress.text && !progress.done);
    }

    #[test]
    fn text_split_across_chunks_is_seen_when_its_line_completes() {
        let mut reader = StreamReader::default();
        let (head, tail) = TEXT.split_at(20);
        assert!(!reader.feed(head.as_bytes()).unwrap().text);
        assert!(reader.feed(tail.as_bytes()).unwrap().text);
    }

    #[test]
    fn the_terminator_ends_the_stream() {
        let mut reader = StreamReader::default();
        let progress = reader.feed(b"data: [DONE]\r\n\r\n").unwrap();
        assert!(progress.done && !progress.text);
    }

    #[test]
    fn comments_and_other_fields_are_skipped() {
        let mut reader = StreamReader::default();
        let progress = reader.feed(b": keep-alive\nevent: x\nid: 3\n\n").unwrap();
        assert_eq!(progress, Progress::default());
    }

    #[test]
    fn a_broken_chunk_is_an_error() {
        let mut reader = StreamReader::default();
        assert!(matches!(
            reader.feed(b"data: {\"choices\":[\n"),
            Err(SseError::BadChunk(_))
        ));
    }
}
