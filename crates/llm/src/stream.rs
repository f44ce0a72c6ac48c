//! The streaming driver: parses upstream SSE bytes, hands each event to the API's state machine,
//! pauses while a complete tool call awaits the caller's verdict, and queues the bytes to send to
//! the agent. Sans-I/O: the caller moves bytes and verdicts; nothing here waits, reads or writes.
//!
//! Owns buffering limits, the order of emitted bytes and error latching. Must not depend on any
//! async runtime, HTTP stack or clock.

use crate::cut::{OutputMeter, Terminus, merge_event_usage, output_text};
use crate::sse::{SseEvent, SseParser};
use crate::{Api, ErrorKind, ProposedCall, ProtocolError, Usage, Verdict};
use std::collections::VecDeque;

/// Size limits for one stream. Exceeding any is [`ProtocolError::TooLarge`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest single SSE event, in bytes.
    pub max_event_bytes: usize,
    /// Longest arguments text of one tool call, in bytes.
    pub max_tool_args_bytes: usize,
    /// Most bytes held back at once (held tool-call events plus events waiting behind a verdict).
    pub max_buffered_bytes: usize,
}

impl Default for Limits {
    /// 1 MiB per event, 1 MiB of arguments per call, 8 MiB held in total.
    fn default() -> Self {
        Limits {
            max_event_bytes: 1 << 20,
            max_tool_args_bytes: 1 << 20,
            max_buffered_bytes: 8 << 20,
        }
    }
}

/// What the caller should do next.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Send these bytes to the agent now.
    Emit(Vec<u8>),
    /// Judge this complete call and pass the verdict to [`StreamRewriter::resolve`]. The stream
    /// is paused until then; polling again yields the same call.
    Judge(ProposedCall),
    /// Nothing to do until more upstream bytes arrive (or the upstream ends).
    NeedInput,
    /// The stream is over; nothing more will be emitted.
    Done,
}

/// What one API's state machine does with events and verdicts.
pub(crate) trait EventMachine {
    /// Handles one event, writing what may go to the agent now into `out`. May queue complete
    /// calls for judgment; the driver then hands it no further event until they are resolved.
    fn on_event(&mut self, event: SseEvent, out: &mut Vec<u8>) -> Result<(), ProtocolError>;
    /// The call awaiting a verdict, if any.
    fn pending(&self) -> Option<&ProposedCall>;
    /// Applies the verdict on the pending call, writing its replacement or release into `out`.
    fn resolve(&mut self, verdict: Verdict, out: &mut Vec<u8>) -> Result<(), ProtocolError>;
    /// The upstream is over and every event was handled: drops incomplete calls, reporting them.
    fn end(&mut self) -> Result<(), ProtocolError>;
    /// Bytes currently held back.
    fn held_bytes(&self) -> usize;
    /// Whether the upstream sent its final event (or an error event): nothing more is due.
    fn finished(&self) -> bool;
    /// Usage figures seen so far.
    fn usage(&self) -> Usage;
    /// Drops the usage-only final chunk where the API has one.
    fn set_strip_usage_chunk(&mut self, _strip: bool) {}
    /// The next `sequence_number` to use for an event Warden appends, where the API has them.
    fn next_sequence_number(&self) -> Option<u64> {
        None
    }
}

/// Streaming rewriter for one upstream response: text flows through as it arrives, each tool
/// call is held until complete, judged by the caller, then released or replaced.
pub struct StreamRewriter {
    api: Api,
    limits: Limits,
    parser: SseParser,
    machine: Box<dyn EventMachine + Send + Sync>,
    events: VecDeque<SseEvent>,
    queued_bytes: usize,
    out: Vec<u8>,
    upstream_over: bool,
    clean: bool,
    ended: bool,
    failure: Option<ProtocolError>,
    meter: Option<Box<dyn OutputMeter>>,
    terminus: Terminus,
    cut: bool,
    /// Usage read from events after a cut (which the machine no longer sees).
    drained: Usage,
}

impl std::fmt::Debug for StreamRewriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamRewriter")
            .field("api", &self.api)
            .field("queued_events", &self.events.len())
            .field("upstream_over", &self.upstream_over)
            .field("failure", &self.failure)
            .finish_non_exhaustive()
    }
}

impl StreamRewriter {
    /// A rewriter for a stream of `api` events.
    #[must_use]
    pub fn new(api: Api, limits: Limits) -> Self {
        let machine: Box<dyn EventMachine + Send + Sync> = match api {
            Api::OpenAiChat => Box::new(crate::openai_chat::stream::ChatStream::new(limits)),
            Api::OpenAiResponses => Box::new(
                crate::openai_responses::stream::ResponsesStream::new(limits),
            ),
            Api::Anthropic => Box::new(crate::anthropic::stream::AnthropicStream::new(limits)),
        };
        StreamRewriter {
            api,
            limits,
            parser: SseParser::new(limits.max_event_bytes),
            machine,
            events: VecDeque::new(),
            queued_bytes: 0,
            out: Vec::new(),
            upstream_over: false,
            clean: true,
            ended: false,
            failure: None,
            meter: None,
            terminus: Terminus::default(),
            cut: false,
            drained: Usage::default(),
        }
    }

    /// Meters the output: every event's output text (text, reasoning, tool-call arguments) is
    /// shown to `meter` before it is handled, and when the meter refuses one the stream ends
    /// there as if the model had run out of tokens (see [`Self::was_cut`]). Any tool call still
    /// incomplete at that point is dropped, never released.
    #[must_use]
    pub fn meter_output(mut self, meter: Box<dyn OutputMeter>) -> Self {
        self.meter = Some(meter);
        self
    }

    /// Whether the meter ended the stream. Upstream bytes fed after a cut are only read for
    /// their usage figures (so the caller can settle from them); nothing more is emitted.
    #[must_use]
    pub fn was_cut(&self) -> bool {
        self.cut
    }

    /// Output tokens the meter admitted (0 without a meter).
    #[must_use]
    pub fn metered_output_tokens(&self) -> u64 {
        self.meter.as_ref().map_or(0, |m| m.admitted_tokens())
    }

    /// Drops the final usage-only chunk of an OpenAI chat stream (for agents that did not ask
    /// for `stream_options.include_usage` when the gateway asked upstream for it). Usage is still
    /// recorded. No effect on other APIs.
    #[must_use]
    pub fn strip_usage_chunk(mut self, strip: bool) -> Self {
        self.machine.set_strip_usage_chunk(strip);
        self
    }

    /// Feeds raw upstream bytes, in any chunking.
    ///
    /// # Errors
    /// Malformed SSE, UTF-8 or JSON, a limit exceeded, or a stream that ended mid-call. After an
    /// error the rewriter is failed: later calls return the same error and no held call is ever
    /// released, though bytes already safe to send are still yielded by [`Self::poll`].
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), ProtocolError> {
        self.check_usable()?;
        if self.upstream_over {
            return Err(ProtocolError::InvalidState("bytes fed after finish"));
        }
        if self.cut {
            return self.drain_usage(bytes);
        }
        let before = self.events.len();
        let parsed = self.parser.push(bytes, &mut self.events);
        self.queued_bytes += self
            .events
            .iter()
            .skip(before)
            .map(|e| e.raw.len())
            .sum::<usize>();
        self.latch(parsed)?;
        let pumped = self.pump();
        self.latch(pumped)
    }

    /// The upstream ended; `clean` when it closed normally rather than failing.
    ///
    /// # Errors
    /// [`ProtocolError::Truncated`] when a tool call was incomplete (it is dropped), or when an
    /// unclean end came before the upstream's final event (the caller then appends
    /// [`Self::error_event`]); otherwise any error
    /// from the events still to be handled. If a verdict is pending, the check happens when the
    /// last verdict is resolved and [`Self::resolve`] reports it.
    pub fn finish(&mut self, clean: bool) -> Result<(), ProtocolError> {
        self.check_usable()?;
        self.upstream_over = true;
        if self.cut {
            return Ok(());
        }
        // Half an event left in the parser is discarded, as the SSE specification requires; any
        // call it belonged to stays incomplete.
        self.clean = clean;
        let pumped = self.pump();
        self.latch(pumped)
    }

    /// What to do next.
    pub fn poll(&mut self) -> Step {
        if !self.out.is_empty() {
            return Step::Emit(std::mem::take(&mut self.out));
        }
        if self.failure.is_some() || self.ended {
            return Step::Done;
        }
        match self.machine.pending() {
            Some(call) => Step::Judge(call.clone()),
            None => Step::NeedInput,
        }
    }

    /// Applies the verdict on the call last yielded by [`Self::poll`] and continues with the
    /// events behind it.
    ///
    /// # Errors
    /// [`ProtocolError::InvalidState`] when no call awaits a verdict; otherwise any error from
    /// the events handled after it.
    pub fn resolve(&mut self, verdict: Verdict) -> Result<(), ProtocolError> {
        self.check_usable()?;
        if self.machine.pending().is_none() {
            return Err(ProtocolError::InvalidState("no tool call awaits a verdict"));
        }
        let resolved = self.machine.resolve(verdict, &mut self.out);
        self.latch(resolved)?;
        let pumped = self.pump();
        self.latch(pumped)
    }

    /// Usage figures the upstream reported so far.
    #[must_use]
    pub fn usage(&self) -> Usage {
        let mut usage = self.machine.usage();
        usage.input_tokens = self.drained.input_tokens.or(usage.input_tokens);
        usage.output_tokens = self.drained.output_tokens.or(usage.output_tokens);
        usage.cached_input_tokens = self
            .drained
            .cached_input_tokens
            .or(usage.cached_input_tokens);
        usage
    }

    /// Bytes of a provider-shaped error event to append to this stream (numbered after the
    /// events already emitted, for the Responses API).
    #[must_use]
    pub fn error_event(&self, kind: ErrorKind, message: &str) -> Vec<u8> {
        crate::provider_error::error_event_numbered(
            self.api,
            kind,
            message,
            self.machine.next_sequence_number(),
        )
    }

    fn check_usable(&self) -> Result<(), ProtocolError> {
        match &self.failure {
            Some(error) => Err(error.clone()),
            None => Ok(()),
        }
    }

    fn latch(&mut self, result: Result<(), ProtocolError>) -> Result<(), ProtocolError> {
        if let Err(error) = &result {
            self.failure = Some(error.clone());
            self.events.clear();
        }
        result
    }

    /// Shows an event's output text to the meter; `false` when the meter refuses it.
    fn admit(&mut self, event: &SseEvent) -> bool {
        if event.comment_only || event.data.trim() == "[DONE]" {
            return true;
        }
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&event.data) else {
            // Unparseable events are the machine's to report.
            return true;
        };
        self.terminus.observe(self.api, &value);
        let mut text = String::new();
        output_text(self.api, &value, &mut text);
        match (&mut self.meter, text.is_empty()) {
            (Some(meter), false) => meter.admit(&text),
            _ => true,
        }
    }

    /// Ends the stream now with the provider's out-of-tokens ending.
    fn close_early(&mut self) {
        self.cut = true;
        self.ended = true;
        self.upstream_over = false;
        // Events already queued behind the cut are read for usage only.
        for event in std::mem::take(&mut self.events) {
            if let Ok(value) = serde_json::from_str::<serde_json::Value>(&event.data) {
                merge_event_usage(self.api, &value, &mut self.drained);
            }
        }
        self.queued_bytes = 0;
        let tokens = self.metered_output_tokens();
        let ending = self
            .terminus
            .close(self.api, tokens, self.machine.next_sequence_number());
        self.out.extend_from_slice(&ending);
    }

    /// After a cut: reads only the usage figures of the events in `bytes`.
    fn drain_usage(&mut self, bytes: &[u8]) -> Result<(), ProtocolError> {
        let mut events = VecDeque::new();
        // A malformed tail after a cut changes nothing the agent sees; the usage read so far
        // stands.
        let _ = self.parser.push(bytes, &mut events);
        for event in events {
            if let Ok(value) = serde_json::from_str::<serde_json::Value>(&event.data) {
                merge_event_usage(self.api, &value, &mut self.drained);
            }
        }
        Ok(())
    }

    /// Handles queued events until one needs a verdict or none are left.
    fn pump(&mut self) -> Result<(), ProtocolError> {
        while self.machine.pending().is_none() {
            let Some(event) = self.events.pop_front() else {
                break;
            };
            self.queued_bytes = self.queued_bytes.saturating_sub(event.raw.len());
            if self.meter.is_some() && !self.admit(&event) {
                self.close_early();
                return Ok(());
            }
            self.machine.on_event(event, &mut self.out)?;
        }
        if self.queued_bytes + self.machine.held_bytes() > self.limits.max_buffered_bytes {
            return Err(ProtocolError::TooLarge {
                what: "held stream data",
                limit: self.limits.max_buffered_bytes,
            });
        }
        if self.upstream_over && self.events.is_empty() && self.machine.pending().is_none() {
            self.ended = true;
            self.machine.end()?;
            if !self.clean && !self.machine.finished() {
                return Err(ProtocolError::Truncated("the response".into()));
            }
        }
        Ok(())
    }
}
