//! The stream meter: counts the output tokens of a stream as its deltas pass, with the model's
//! tokenizer (or the conservative estimate), and refuses the delta that would take the stream
//! past the output tokens its reservation pays for.

use warden_budget::{StreamCount, TokenCounter};
use warden_llm::OutputMeter;

/// Meters one stream's output against its reservation.
#[derive(Debug)]
pub struct TokenMeter {
    counter: TokenCounter,
    allowance: u64,
    used: StreamCount,
}

impl TokenMeter {
    /// A meter allowing `allowance` output tokens counted with `counter`.
    #[must_use]
    pub fn new(counter: TokenCounter, allowance: u64) -> TokenMeter {
        TokenMeter {
            counter,
            allowance,
            used: StreamCount::default(),
        }
    }
}

impl OutputMeter for TokenMeter {
    fn admit(&mut self, text: &str) -> bool {
        let mut next = self.used;
        if self.counter.stream_tokens(&mut next, text) > self.allowance {
            return false;
        }
        self.used = next;
        true
    }

    fn admitted_tokens(&self) -> u64 {
        self.used.tokens
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delta_that_would_overrun_is_refused() {
        let mut meter = TokenMeter::new(TokenCounter::estimate(), 4);
        assert!(meter.admit("abcdef")); // 6 bytes: 2 tokens
        assert!(meter.admit("abc")); // 9 bytes: 3
        assert!(!meter.admit("abcdefgh")); // would be 17 bytes: 5
        assert_eq!(meter.admitted_tokens(), 3);
        assert!(meter.admit("abcdefg")); // 16 bytes: 4
        assert!(!meter.admit("a"));
    }
}
