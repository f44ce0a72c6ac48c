//! Token counting for reservations. OpenAI models are counted with their own tokenizer
//! (tiktoken); every other model with a conservative estimate of one token per three bytes,
//! which no mainstream tokenizer undercuts on ordinary text. Counts feed the worst case a
//! reservation covers; settlement always uses the provider's own figures.

use tiktoken_rs::CoreBPE;

/// Bytes per estimated token for models without a known tokenizer, when an upper bound is
/// needed (the input a reservation covers).
const BYTES_PER_TOKEN: u64 = 3;

/// Bytes per token of ordinary text, for metering output as it streams (see
/// [`TokenCounter::stream_tokens`]).
const TYPICAL_BYTES_PER_TOKEN: u64 = 4;

/// Counts tokens the way one model's tokenizer would (or conservatively estimates them).
#[derive(Clone, Copy)]
pub struct TokenCounter {
    bpe: Option<&'static CoreBPE>,
}

impl std::fmt::Debug for TokenCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenCounter")
            .field("tiktoken", &self.bpe.is_some())
            .finish()
    }
}

impl TokenCounter {
    /// The counter for `model`: tiktoken when it is an OpenAI model tiktoken knows (a provider
    /// prefix such as `openai/` is ignored), the estimate otherwise. The first use of each
    /// tokenizer loads its vocabulary (tens of milliseconds); see [`TokenCounter::warm`].
    #[must_use]
    pub fn for_model(model: &str) -> TokenCounter {
        let bare = model.rsplit_once('/').map_or(model, |(_, name)| name);
        let bpe = tiktoken_rs::tokenizer::get_tokenizer(bare)
            .and_then(|t| tiktoken_rs::bpe_for_tokenizer(t).ok());
        TokenCounter { bpe }
    }

    /// The estimating counter (one token per three bytes, rounded up).
    #[must_use]
    pub fn estimate() -> TokenCounter {
        TokenCounter { bpe: None }
    }

    /// Loads the tokenizers of current OpenAI models, so the first request does not pay for it.
    pub fn warm() {
        for model in ["gpt-4o", "gpt-4"] {
            let _ = TokenCounter::for_model(model).count("warm");
        }
    }

    /// Whether this counter uses the model's own tokenizer.
    #[must_use]
    pub fn is_exact(&self) -> bool {
        self.bpe.is_some()
    }

    /// A bound no count of a text of `bytes` bytes exceeds, in constant time: the byte count
    /// for a model's own (byte-level BPE) tokenizer, whose every token stands for at least one
    /// byte; the estimate otherwise (which is what [`TokenCounter::count`] returns for it).
    #[must_use]
    pub fn upper_bound(&self, bytes: usize) -> u64 {
        match self.bpe {
            Some(_) => u64::try_from(bytes).unwrap_or(u64::MAX),
            None => estimate(bytes),
        }
    }

    /// Tokens in `text`.
    #[must_use]
    pub fn count(&self, text: &str) -> u64 {
        match self.bpe {
            Some(bpe) => u64::try_from(bpe.count_ordinary(text)).unwrap_or(u64::MAX),
            None => estimate(text.len()),
        }
    }
}

impl TokenCounter {
    /// Tokens in a stream's output so far, given the text of its latest delta and the running
    /// totals: with the model's tokenizer, the sum over deltas; otherwise one token per four
    /// bytes of all output (ordinary text), so a stream the provider ends at `max_tokens` is not
    /// cut short by a pessimistic estimate. Returns the new total.
    pub fn stream_tokens(&self, running: &mut StreamCount, delta: &str) -> u64 {
        running.bytes = running
            .bytes
            .saturating_add(u64::try_from(delta.len()).unwrap_or(u64::MAX));
        running.tokens = match self.bpe {
            Some(bpe) => running
                .tokens
                .saturating_add(u64::try_from(bpe.count_ordinary(delta)).unwrap_or(u64::MAX)),
            None => running.bytes.div_ceil(TYPICAL_BYTES_PER_TOKEN),
        };
        running.tokens
    }
}

/// Running totals of a metered stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StreamCount {
    /// Output bytes so far.
    pub bytes: u64,
    /// Output tokens so far.
    pub tokens: u64,
}

/// One token per three bytes, rounded up.
fn estimate(bytes: usize) -> u64 {
    u64::try_from(bytes)
        .unwrap_or(u64::MAX)
        .div_ceil(BYTES_PER_TOKEN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openai_models_use_their_tokenizer() {
        let counter = TokenCounter::for_model("gpt-4o-mini-2024-07-18");
        assert!(counter.is_exact());
        assert_eq!(counter.count("hello world"), 2);
        assert!(TokenCounter::for_model("openai/gpt-4.1").is_exact());
    }

    #[test]
    fn streams_are_metered_over_their_whole_output() {
        let estimate = TokenCounter::estimate();
        let mut running = StreamCount::default();
        assert_eq!(estimate.stream_tokens(&mut running, "abcde"), 2);
        assert_eq!(estimate.stream_tokens(&mut running, "fgh"), 2);
        assert_eq!(estimate.stream_tokens(&mut running, "i"), 3);
        let exact = TokenCounter::for_model("gpt-4o");
        let mut running = StreamCount::default();
        assert_eq!(exact.stream_tokens(&mut running, "hello"), 1);
        assert_eq!(exact.stream_tokens(&mut running, " world"), 2);
    }

    #[test]
    fn the_upper_bound_is_never_below_the_count() {
        let exact = TokenCounter::for_model("gpt-4o");
        let estimate = TokenCounter::estimate();
        for text in [
            "",
            "hello world",
            "{\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
            "日本語のテキストと emoji 🦀🦀 and\ttabs\n\n  spaces",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        ] {
            assert!(exact.upper_bound(text.len()) >= exact.count(text), "{text}");
            assert_eq!(estimate.upper_bound(text.len()), estimate.count(text));
        }
        assert_eq!(exact.upper_bound(11), 11);
    }

    #[test]
    fn other_models_are_estimated_conservatively() {
        let counter = TokenCounter::for_model("claude-sonnet-4-5");
        assert!(!counter.is_exact());
        assert_eq!(counter.count("hello world"), 4);
        assert_eq!(counter.count(""), 0);
        // The estimate is never below tiktoken's count of ordinary English.
        let text = "The quick brown fox jumps over the lazy dog, twice, before breakfast.";
        assert!(counter.count(text) >= TokenCounter::for_model("gpt-4o").count(text));
    }
}
