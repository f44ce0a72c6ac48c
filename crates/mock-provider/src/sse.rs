//! Server-sent events: framing, pacing and injected stream faults.
//!
//! Owns the byte format of SSE frames (`data:`-only for Chat Completions, `event:` + `data:` for
//! Responses and Anthropic) and [`paced_body`], which turns pre-rendered frames into a response
//! body that waits between chunks and can break off mid-stream. Frames are produced lazily one at
//! a time as the client reads, so a slow client holds back the server instead of a buffer.

use std::io;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use serde::Serialize;

/// The terminator of a Chat Completions stream.
pub(crate) const DONE: &[u8] = b"data: [DONE]\n\n";

/// A `data:`-only frame.
pub(crate) fn data(payload: &impl Serialize) -> Result<Bytes, serde_json::Error> {
    let json = serde_json::to_vec(payload)?;
    let mut frame = Vec::with_capacity(json.len() + 8);
    frame.extend_from_slice(b"data: ");
    frame.extend_from_slice(&json);
    frame.extend_from_slice(b"\n\n");
    Ok(Bytes::from(frame))
}

/// An `event:` + `data:` frame.
pub(crate) fn event(name: &str, payload: &impl Serialize) -> Result<Bytes, serde_json::Error> {
    let json = serde_json::to_vec(payload)?;
    let mut frame = Vec::with_capacity(json.len() + name.len() + 16);
    frame.extend_from_slice(b"event: ");
    frame.extend_from_slice(name.as_bytes());
    frame.extend_from_slice(b"\ndata: ");
    frame.extend_from_slice(&json);
    frame.extend_from_slice(b"\n\n");
    Ok(Bytes::from(frame))
}

/// `frame` with its `data:` payload cut in half: a complete SSE event whose JSON is broken.
pub(crate) fn broken(frame: &[u8]) -> Bytes {
    let start = frame
        .windows(6)
        .position(|w| w == b"data: ")
        .map_or(0, |p| p + 6);
    let end = frame.len().saturating_sub(2).max(start);
    let cut = start + (end - start) / 2;
    let mut out = frame.get(..cut).unwrap_or(frame).to_vec();
    out.extend_from_slice(b"\n\n");
    Bytes::from(out)
}

/// How a body is delivered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Pacing {
    /// Wait before the first chunk.
    pub delay: Duration,
    /// Wait between chunks.
    pub chunk_delay: Duration,
    /// After this many chunks, fail the body so the connection is dropped without terminator.
    pub reset_after: Option<u64>,
}

/// `frames` with the one at `index` replaced by a broken copy; past the end, a broken frame is
/// appended.
pub(crate) fn with_malformed(mut frames: Vec<Bytes>, index: u64) -> Vec<Bytes> {
    let slot = usize::try_from(index).ok().and_then(|i| frames.get_mut(i));
    if let Some(frame) = slot {
        *frame = broken(frame);
    } else {
        frames.push(Bytes::from_static(b"data: {\"broken\n\n"));
    }
    frames
}

/// How long a scripted reset waits for the chunks already sent to reach the client.
const FLUSH_BEFORE_RESET: Duration = Duration::from_millis(50);

struct Delivery {
    frames: std::vec::IntoIter<Bytes>,
    sent: u64,
    pacing: Pacing,
}

/// A body that yields `frames` one by one under `pacing`.
pub(crate) fn paced_body(frames: Vec<Bytes>, pacing: Pacing) -> Body {
    let start = Delivery {
        frames: frames.into_iter(),
        sent: 0,
        pacing,
    };
    let stream = futures_util::stream::unfold(start, |mut d| async move {
        if d.pacing.reset_after.is_some_and(|n| d.sent >= n) {
            // Give the server a moment to flush what it has buffered, so the client receives
            // the chunks sent so far; then the error makes it drop the connection. Reached once:
            // the stream ends because `frames` is replaced by an empty iterator.
            tokio::time::sleep(FLUSH_BEFORE_RESET).await;
            d.pacing.reset_after = None;
            d.frames = Vec::new().into_iter();
            let reset = io::Error::new(io::ErrorKind::ConnectionReset, "scripted reset");
            return Some((Err(reset), d));
        }
        let frame = d.frames.next()?;
        let wait = if d.sent == 0 {
            d.pacing.delay
        } else {
            d.pacing.chunk_delay
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
        d.sent += 1;
        Some((Ok(frame), d))
    });
    Body::from_stream(stream)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn frames_have_the_sse_layout() {
        assert_eq!(&data(&json!({"a": 1})).unwrap()[..], b"data: {\"a\":1}\n\n");
        assert_eq!(
            &event("ping", &json!({"type": "ping"})).unwrap()[..],
            b"event: ping\ndata: {\"type\":\"ping\"}\n\n"
        );
    }

    #[test]
    fn broken_frame_keeps_the_event_line_and_cuts_the_json() {
        let frame = event("x", &json!({"type": "content_block_delta", "index": 0})).unwrap();
        let bad = broken(&frame);
        let text = std::str::from_utf8(&bad).unwrap();
        assert!(text.starts_with("event: x\ndata: {"));
        assert!(text.ends_with("\n\n"));
        let json = text.trim_end().strip_prefix("event: x\ndata: ").unwrap();
        assert!(serde_json::from_str::<serde_json::Value>(json).is_err());
    }

    #[test]
    fn malformed_past_the_end_appends_a_broken_frame() {
        let frames = vec![Bytes::from_static(b"data: {}\n\n")];
        let out = with_malformed(frames.clone(), 5);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0], frames[0]);
        let out = with_malformed(frames, 0);
        assert_eq!(out.len(), 1);
        assert_eq!(&out[0][..], b"data: {\n\n");
    }
}
