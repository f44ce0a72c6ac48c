//! Incremental Server-Sent Events parser following the WHATWG "event stream interpretation":
//! `data:` lines (several per event), `event:` lines, `:` comments, CRLF / LF / CR line ends, a
//! leading byte-order mark. Each event keeps its original bytes so untouched events can be passed
//! through verbatim.
//!
//! Owns only SSE framing; must not know any provider's event types and must not do I/O.

use crate::ProtocolError;
use std::collections::VecDeque;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// One dispatched SSE event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SseEvent {
    /// The `event:` field, or `None` for the default `message` type. `None` and empty `data` for
    /// a block of comment lines only (keep-alives), which is reported so it can be forwarded.
    pub event: Option<String>,
    /// The `data:` lines joined with `\n`.
    pub data: String,
    /// The event's bytes exactly as received, through its terminating blank line.
    pub raw: Vec<u8>,
    /// Whether this is a comment-only block rather than a real event.
    pub comment_only: bool,
}

/// Incremental SSE parser; feed it bytes in any chunking.
#[derive(Debug)]
pub struct SseParser {
    line: Vec<u8>,
    raw: Vec<u8>,
    event: Option<String>,
    data: String,
    has_data: bool,
    has_comment: bool,
    after_cr: bool,
    at_stream_start: bool,
    max_event_bytes: usize,
}

impl SseParser {
    /// A parser that refuses any event (including its comment lines) longer than
    /// `max_event_bytes`.
    #[must_use]
    pub fn new(max_event_bytes: usize) -> Self {
        SseParser {
            line: Vec::new(),
            raw: Vec::new(),
            event: None,
            data: String::new(),
            has_data: false,
            has_comment: false,
            after_cr: false,
            at_stream_start: true,
            max_event_bytes,
        }
    }

    /// Parses `bytes`, appending every event they complete to `out`.
    ///
    /// # Errors
    /// [`ProtocolError::Malformed`] for a line that is not UTF-8, [`ProtocolError::TooLarge`] for
    /// an event over the limit.
    pub fn push(
        &mut self,
        bytes: &[u8],
        out: &mut VecDeque<SseEvent>,
    ) -> Result<(), ProtocolError> {
        let mut rest = bytes;
        while !rest.is_empty() {
            if std::mem::take(&mut self.after_cr) && rest.first() == Some(&b'\n') {
                // The LF of a CRLF pair. After a dispatch it belongs to no event: drop it (the
                // lone CR already ended the line).
                if !self.raw.is_empty() {
                    self.raw.push(b'\n');
                }
                rest = rest.get(1..).unwrap_or_default();
                continue;
            }
            match rest.iter().position(|b| *b == b'\n' || *b == b'\r') {
                None => {
                    self.line.extend_from_slice(rest);
                    self.raw.extend_from_slice(rest);
                    self.check_size()?;
                    break;
                }
                Some(pos) => {
                    let (head, tail) = rest.split_at(pos);
                    let terminator = tail.first().copied().unwrap_or(b'\n');
                    self.line.extend_from_slice(head);
                    self.raw.extend_from_slice(head);
                    self.raw.push(terminator);
                    self.check_size()?;
                    self.after_cr = terminator == b'\r';
                    rest = tail.get(1..).unwrap_or_default();
                    self.end_line(out)?;
                }
            }
        }
        Ok(())
    }

    /// Whether bytes of an unfinished event are buffered (a stream ending now would lose them).
    #[must_use]
    pub fn has_partial_event(&self) -> bool {
        self.raw.iter().any(|b| !b.is_ascii_whitespace())
    }

    fn check_size(&self) -> Result<(), ProtocolError> {
        if self.raw.len() > self.max_event_bytes {
            return Err(ProtocolError::TooLarge {
                what: "SSE event",
                limit: self.max_event_bytes,
            });
        }
        Ok(())
    }

    fn end_line(&mut self, out: &mut VecDeque<SseEvent>) -> Result<(), ProtocolError> {
        if std::mem::take(&mut self.at_stream_start) && self.line.starts_with(BOM) {
            self.line.drain(..BOM.len());
            self.raw.drain(..BOM.len());
        }
        if self.line.is_empty() {
            self.dispatch(out);
            return Ok(());
        }
        let line = std::mem::take(&mut self.line);
        let text = std::str::from_utf8(&line)
            .map_err(|e| ProtocolError::Malformed(format!("SSE line is not UTF-8: {e}")))?;
        self.field(text);
        self.line = line;
        self.line.clear();
        Ok(())
    }

    fn field(&mut self, line: &str) {
        if line.starts_with(':') {
            self.has_comment = true;
            return;
        }
        let (name, value) = match line.split_once(':') {
            Some((name, value)) => (name, value.strip_prefix(' ').unwrap_or(value)),
            None => (line, ""),
        };
        match name {
            "event" => self.event = Some(value.to_owned()),
            "data" => {
                self.data.push_str(value);
                self.data.push('\n');
                self.has_data = true;
            }
            // `id` and `retry` concern reconnection, which is the agent's business; other fields
            // are ignored as the specification requires.
            _ => {}
        }
    }

    fn dispatch(&mut self, out: &mut VecDeque<SseEvent>) {
        let raw = std::mem::take(&mut self.raw);
        let event = self.event.take().filter(|e| !e.is_empty());
        let has_comment = std::mem::take(&mut self.has_comment);
        if !std::mem::take(&mut self.has_data) {
            self.data.clear();
            if has_comment {
                out.push_back(SseEvent {
                    event: None,
                    data: String::new(),
                    raw,
                    comment_only: true,
                });
            }
            return;
        }
        let mut data = std::mem::take(&mut self.data);
        if data.ends_with('\n') {
            data.pop();
        }
        out.push_back(SseEvent {
            event,
            data,
            raw,
            comment_only: false,
        });
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::indexing_slicing, clippy::unwrap_used)]
    use super::*;

    fn parse(input: &[u8]) -> Result<Vec<SseEvent>, ProtocolError> {
        let mut parser = SseParser::new(1 << 20);
        let mut out = VecDeque::new();
        parser.push(input, &mut out)?;
        Ok(out.into_iter().collect())
    }

    #[test]
    fn joins_multiple_data_lines_with_newlines() {
        let events = parse(b"event: x\ndata: a\ndata:b\n\n").unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].event.as_deref(), Some("x"));
        assert_eq!(events[0].data, "a\nb");
        assert_eq!(events[0].raw, b"event: x\ndata: a\ndata:b\n\n");
    }

    #[test]
    fn accepts_crlf_and_cr_line_ends() {
        let events = parse(b"data: a\r\n\r\ndata: b\r\rdata: c\n\n").unwrap();
        let data: Vec<_> = events.iter().map(|e| e.data.as_str()).collect();
        assert_eq!(data, ["a", "b", "c"]);
    }

    #[test]
    fn crlf_split_across_pushes_is_one_line_end() {
        let mut parser = SseParser::new(1 << 20);
        let mut out = VecDeque::new();
        parser.push(b"data: a\r", &mut out).unwrap();
        parser.push(b"\ndata: b\r\n\r", &mut out).unwrap();
        parser.push(b"\n", &mut out).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].data, "a\nb");
    }

    #[test]
    fn comment_blocks_are_reported_and_ignored_inside_events() {
        let events = parse(b": keep-alive\n\ndata: x\n: note\n\n").unwrap();
        assert!(events[0].comment_only);
        assert_eq!(events[1].data, "x");
        assert!(!events[1].comment_only);
    }

    #[test]
    fn empty_data_line_dispatches_an_empty_event() {
        let events = parse(b"data\n\nevent: only\n\n").unwrap();
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].data, "");
        assert_eq!(events[0].event, None);
    }

    #[test]
    fn strips_a_leading_byte_order_mark() {
        let events = parse(b"\xEF\xBB\xBFdata: a\n\n").unwrap();
        assert_eq!(events[0].data, "a");
        assert_eq!(events[0].raw, b"data: a\n\n");
    }

    #[test]
    fn invalid_utf8_is_malformed() {
        assert!(matches!(
            parse(b"data: \xff\n\n"),
            Err(ProtocolError::Malformed(_))
        ));
    }

    #[test]
    fn utf8_split_across_pushes_is_accepted() {
        let mut parser = SseParser::new(1 << 20);
        let mut out = VecDeque::new();
        let bytes = "data: é\n\n".as_bytes();
        parser.push(&bytes[..7], &mut out).unwrap();
        parser.push(&bytes[7..], &mut out).unwrap();
        assert_eq!(out[0].data, "é");
    }

    #[test]
    fn oversize_event_is_refused() {
        let mut parser = SseParser::new(16);
        let mut out = VecDeque::new();
        let err = parser
            .push(b"data: 0123456789abcdef", &mut out)
            .unwrap_err();
        assert!(matches!(err, ProtocolError::TooLarge { limit: 16, .. }));
    }

    #[test]
    fn unfinished_event_is_reported_as_partial() {
        let mut parser = SseParser::new(1 << 20);
        let mut out = VecDeque::new();
        parser.push(b"data: a\n", &mut out).unwrap();
        assert!(out.is_empty());
        assert!(parser.has_partial_event());
    }
}
