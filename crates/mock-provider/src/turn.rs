//! A reply bound to one request: ids, timestamp, finish reason, usage and chunking.
//!
//! Owns [`Turn`], the provider-neutral input of every renderer. Ids come from a per-server
//! request counter and the timestamp from the injected clock, so a response is a pure function
//! of the script, the request and those two numbers. Must not depend on HTTP.

use serde_json::{Map, Value};

use crate::script::{Fault, Finish, Prompt, Reply, Usage};

/// Characters per estimated token.
const CHARS_PER_TOKEN: usize = 4;

/// One reply, ready to render for one request.
#[derive(Debug, Clone)]
pub(crate) struct Turn<'a> {
    /// Model named by the request, echoed back.
    pub model: &'a str,
    /// Request number on this server; every id derives from it.
    pub seq: u64,
    /// Seconds since the Unix epoch.
    pub created: u64,
    /// Assistant text.
    pub text: Option<&'a str>,
    /// Tool calls, in order.
    pub calls: Vec<Call>,
    /// Why the model stopped.
    pub finish: Finish,
    /// Reported token counts.
    pub usage: Usage,
    /// Characters per delta.
    pub chunk_size: usize,
    /// The turn ends inside the last call's arguments: streams stop there without terminator.
    pub truncated: bool,
}

/// One tool call, encoded once for all shapes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Call {
    /// Tool name.
    pub name: String,
    /// Arguments as the JSON string OpenAI sends (cut short in a truncated turn).
    pub arguments: String,
    /// Arguments as the object Anthropic sends (empty in a truncated turn).
    pub input: Value,
}

impl<'a> Turn<'a> {
    /// Binds `reply` to a request for `prompt`.
    pub(crate) fn new(
        reply: &'a Reply,
        prompt: &'a Prompt,
        seq: u64,
        created: u64,
    ) -> Result<Self, serde_json::Error> {
        let mut calls = reply
            .tool_calls
            .iter()
            .map(|c| {
                let input = sorted(&c.arguments);
                Ok(Call {
                    name: c.name.clone(),
                    arguments: serde_json::to_string(&input)?,
                    input,
                })
            })
            .collect::<Result<Vec<_>, serde_json::Error>>()?;
        let mut text = reply.text.as_deref();
        let output_chars = text.map_or(0, |t| t.chars().count())
            + calls
                .iter()
                .map(|c| c.arguments.chars().count())
                .sum::<usize>();
        let mut output_tokens = tokens(output_chars);
        // A reply longer than the request allows is cut like a model out of tokens: the text is
        // shortened to the limit, tool calls are dropped and the finish reason is `length`.
        let overruns = reply.fault == Some(Fault::IgnoreMaxTokens);
        let limited = prompt
            .max_tokens
            .filter(|&limit| output_tokens > limit && !overruns);
        if let Some(limit) = limited {
            let chars =
                usize::try_from(limit).map_or(usize::MAX, |l| l.saturating_mul(CHARS_PER_TOKEN));
            text = text.map(|t| prefix(t, chars));
            calls.clear();
            output_tokens = limit;
        }
        let usage = reply.usage.unwrap_or(Usage {
            input_tokens: tokens(prompt.chars).max(1),
            output_tokens,
        });
        let truncated = reply.fault == Some(Fault::TruncateToolCall) && !calls.is_empty();
        if truncated {
            calls.truncate(1);
            for call in &mut calls {
                let half = call.arguments.chars().count() / 2;
                call.arguments = prefix(&call.arguments, half).to_owned();
                call.input = Value::Object(Map::new());
            }
        }
        let finish = match (truncated || limited.is_some(), reply.finish) {
            (true, _) => Finish::Length,
            (false, Some(finish)) => finish,
            (false, None) if calls.is_empty() => Finish::Stop,
            (false, None) => Finish::ToolCalls,
        };
        Ok(Turn {
            model: &prompt.model,
            seq,
            created,
            text,
            calls,
            finish,
            usage,
            chunk_size: reply.chunk_size,
            truncated,
        })
    }

    /// The turn's id with `prefix`, e.g. `chatcmpl-mock000001`.
    pub(crate) fn id(&self, prefix: &str) -> String {
        format!("{prefix}mock{:06}", self.seq)
    }

    /// The id of the `index`th part of the turn with `prefix`, e.g. `call_mock000001_0`.
    pub(crate) fn part_id(&self, prefix: &str, index: usize) -> String {
        format!("{prefix}mock{:06}_{index}", self.seq)
    }

    /// Total tokens.
    pub(crate) fn total_tokens(&self) -> u64 {
        self.usage
            .input_tokens
            .saturating_add(self.usage.output_tokens)
    }
}

fn tokens(chars: usize) -> u64 {
    u64::try_from(chars.div_ceil(CHARS_PER_TOKEN)).unwrap_or(u64::MAX)
}

/// The first `chars` characters of `text`.
fn prefix(text: &str, chars: usize) -> &str {
    let end = text
        .char_indices()
        .nth(chars)
        .map_or(text.len(), |(i, _)| i);
    text.get(..end).unwrap_or(text)
}

/// `value` with every object's keys in sorted order, whatever map type `serde_json` was built
/// with, so encoded arguments are reproducible.
pub(crate) fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for key in keys {
                if let Some(v) = map.get(key) {
                    out.insert(key.clone(), sorted(v));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// `text` split into pieces of at most `size` characters (none for empty text).
pub(crate) fn chunks(text: &str, size: usize) -> Vec<&str> {
    let size = size.max(1);
    let mut pieces = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let cut = rest.char_indices().nth(size).map_or(rest.len(), |(i, _)| i);
        let (piece, tail) = rest.split_at(cut);
        pieces.push(piece);
        rest = tail;
    }
    pieces
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use crate::script::Script;

    #[test]
    fn chunks_split_on_characters_not_bytes() {
        assert_eq!(chunks("héllo wörld", 4), vec!["héll", "o wö", "rld"]);
        assert_eq!(chunks("", 4), Vec::<&str>::new());
        assert_eq!(chunks("ab", 0), vec!["a", "b"]);
    }

    #[test]
    fn usage_is_estimated_at_four_characters_per_token() {
        let script = Script::from_yaml("replies:\n  - name: a\n    text: \"123456789\"\n").unwrap();
        let prompt = Prompt {
            chars: 10,
            ..Prompt::default()
        };
        let turn = Turn::new(&script.replies()[0], &prompt, 1, 0).unwrap();
        assert_eq!(
            turn.usage,
            Usage {
                input_tokens: 3,
                output_tokens: 3
            }
        );
        assert_eq!(turn.finish, Finish::Stop);
    }

    #[test]
    fn truncated_turn_keeps_half_of_the_first_call() {
        let yaml = "replies:\n  - name: a\n    tool_calls:\n      - { name: f, arguments: { k: \"abcdefgh\" } }\n      - { name: g }\n    fault: { truncate_tool_call: true }\n";
        let script = Script::from_yaml(yaml).unwrap();
        let prompt = Prompt::default();
        let turn = Turn::new(&script.replies()[0], &prompt, 1, 0).unwrap();
        assert_eq!(turn.calls.len(), 1);
        assert_eq!(turn.calls[0].arguments, "{\"k\":\"ab");
        assert_eq!(turn.finish, Finish::Length);
        assert!(turn.truncated);
    }

    #[test]
    fn a_reply_over_the_token_limit_is_cut_to_it() {
        let yaml = "replies:\n  - name: a\n    text: \"0123456789abcdef\"\n    tool_calls: [{ name: f }]\n";
        let script = Script::from_yaml(yaml).unwrap();
        let prompt = Prompt {
            max_tokens: Some(2),
            ..Prompt::default()
        };
        let turn = Turn::new(&script.replies()[0], &prompt, 1, 0).unwrap();
        assert_eq!(turn.text, Some("01234567"));
        assert!(turn.calls.is_empty());
        assert_eq!(turn.finish, Finish::Length);
        assert_eq!(turn.usage.output_tokens, 2);

        let roomy = Prompt {
            max_tokens: Some(6),
            ..Prompt::default()
        };
        let turn = Turn::new(&script.replies()[0], &roomy, 1, 0).unwrap();
        assert_eq!(turn.text, Some("0123456789abcdef"));
        assert_eq!(turn.calls.len(), 1);
        assert_eq!(turn.finish, Finish::ToolCalls);
    }

    #[test]
    fn a_provider_that_overruns_the_limit_reports_what_it_produced() {
        let yaml = "replies:\n  - name: a\n    text: \"0123456789abcdef\"\n    fault: { ignore_max_tokens: true }\n";
        let script = Script::from_yaml(yaml).unwrap();
        let prompt = Prompt {
            max_tokens: Some(2),
            ..Prompt::default()
        };
        let turn = Turn::new(&script.replies()[0], &prompt, 1, 0).unwrap();
        assert_eq!(turn.text, Some("0123456789abcdef"));
        assert_eq!(turn.finish, Finish::Stop);
        assert_eq!(turn.usage.output_tokens, 4);
    }

    #[test]
    fn arguments_encode_with_sorted_keys() {
        let yaml = "replies:\n  - name: a\n    tool_calls:\n      - { name: f, arguments: { z: 1, a: { y: 2, b: 3 } } }\n";
        let script = Script::from_yaml(yaml).unwrap();
        let prompt = Prompt::default();
        let turn = Turn::new(&script.replies()[0], &prompt, 7, 0).unwrap();
        assert_eq!(turn.calls[0].arguments, r#"{"a":{"b":3,"y":2},"z":1}"#);
        assert_eq!(turn.finish, Finish::ToolCalls);
        assert_eq!(turn.part_id("call_", 1), "call_mock000007_1");
    }
}
