//! Validation: raw script types into [`Script`], with errors that name the line, column and
//! field at fault.

use std::collections::HashSet;
use std::time::Duration;

use serde_saphyr::{Location, Spanned};

use super::raw::{RawCondition, RawFault, RawReply, RawScript, RawToolCall};
use super::{Condition, DEFAULT_CHUNK_SIZE, Fault, Reply, Script, ToolCall, Usage};
use crate::error::MockError;

fn invalid(at: Location, field: impl Into<String>, message: impl Into<String>) -> MockError {
    MockError::Invalid {
        line: at.line(),
        column: at.column(),
        field: field.into(),
        message: message.into(),
    }
}

pub(super) fn script(raw: RawScript) -> Result<Script, MockError> {
    let replies_at = raw.replies.referenced;
    if raw.replies.value.is_empty() {
        return Err(invalid(
            replies_at,
            "replies",
            "a script needs at least one reply",
        ));
    }
    let mut seen = HashSet::new();
    let mut replies = Vec::with_capacity(raw.replies.value.len());
    for (i, reply) in raw.replies.value.into_iter().enumerate() {
        let field = format!("replies[{i}]");
        let name = &reply.value.name;
        if !seen.insert(name.value.clone()) {
            return Err(invalid(
                name.referenced,
                format!("{field}.name"),
                format!("duplicate reply name `{}`", name.value),
            ));
        }
        replies.push(validate_reply(reply, &field)?);
    }
    let fallback = match raw.default {
        Some(name) => replies
            .iter()
            .position(|r| r.name == name.value)
            .ok_or_else(|| {
                invalid(
                    name.referenced,
                    "default",
                    format!("no reply is named `{}`", name.value),
                )
            })?,
        None => replies
            .iter()
            .position(|r| r.when.is_none())
            .ok_or_else(|| {
                invalid(
                    replies_at,
                    "default",
                    "no fallback reply: name one with `default` or add a reply without `when`",
                )
            })?,
    };
    let mut models = Vec::with_capacity(raw.models.len());
    for (i, model) in raw.models.into_iter().enumerate() {
        if model.value.is_empty() {
            return Err(invalid(
                model.referenced,
                format!("models[{i}]"),
                "empty model id",
            ));
        }
        models.push(model.value);
    }
    let api_key = match raw.api_key {
        Some(key) if key.value.is_empty() => {
            return Err(invalid(
                key.referenced,
                "api_key",
                "empty key; omit it to accept any",
            ));
        }
        key => key.map(|k| k.value),
    };
    Ok(Script {
        api_key,
        models,
        replies,
        fallback,
    })
}

fn validate_reply(reply: Spanned<RawReply>, field: &str) -> Result<Reply, MockError> {
    let at = reply.referenced;
    let raw = reply.value;
    if raw.name.value.is_empty() {
        return Err(invalid(
            raw.name.referenced,
            format!("{field}.name"),
            "empty name",
        ));
    }
    let chunk_size = match raw.chunk_size {
        None => DEFAULT_CHUNK_SIZE,
        Some(size) => match usize::try_from(size.value) {
            Ok(n) if n > 0 => n,
            _ => {
                return Err(invalid(
                    size.referenced,
                    format!("{field}.chunk_size"),
                    "must be a positive number of characters",
                ));
            }
        },
    };
    let tool_calls = raw
        .tool_calls
        .into_iter()
        .enumerate()
        .map(|(i, call)| validate_call(call, &format!("{field}.tool_calls[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let fault = raw
        .fault
        .map(|f| validate_fault(f, &format!("{field}.fault"), !tool_calls.is_empty()))
        .transpose()?;
    let answers = raw.text.is_some() || !tool_calls.is_empty();
    if !answers && !matches!(fault, Some(Fault::Status(_))) {
        return Err(invalid(
            at,
            field,
            "a reply needs `text`, `tool_calls` or a `fault: { status: … }`",
        ));
    }
    Ok(Reply {
        name: raw.name.value,
        when: raw.when.map(|c| validate_condition(c, field)).transpose()?,
        text: raw.text,
        tool_calls,
        chunk_size,
        delay: Duration::from_millis(raw.delay_ms.unwrap_or(0)),
        chunk_delay: Duration::from_millis(raw.chunk_delay_ms.unwrap_or(0)),
        usage: raw.usage.map(|u| Usage {
            input_tokens: u.input_tokens,
            output_tokens: u.output_tokens,
        }),
        finish: raw.finish,
        fault,
    })
}

fn validate_condition(when: Spanned<RawCondition>, field: &str) -> Result<Condition, MockError> {
    let RawCondition {
        last_user_contains,
        model,
        after_tool_result,
    } = when.value;
    if last_user_contains.is_none() && model.is_none() && after_tool_result.is_none() {
        return Err(invalid(
            when.referenced,
            format!("{field}.when"),
            "empty condition: give `last_user_contains`, `model` or `after_tool_result`",
        ));
    }
    Ok(Condition {
        last_user_contains,
        model,
        after_tool_result,
    })
}

fn validate_call(call: Spanned<RawToolCall>, field: &str) -> Result<ToolCall, MockError> {
    let RawToolCall { name, arguments } = call.value;
    if name.value.is_empty() {
        return Err(invalid(
            name.referenced,
            format!("{field}.name"),
            "empty tool name",
        ));
    }
    let arguments = match arguments {
        None => serde_json::Value::Object(serde_json::Map::new()),
        Some(args) if args.value.is_object() => args.value,
        Some(args) => {
            return Err(invalid(
                args.referenced,
                format!("{field}.arguments"),
                "arguments must be a mapping",
            ));
        }
    };
    Ok(ToolCall {
        name: name.value,
        arguments,
    })
}

fn validate_fault(
    fault: Spanned<RawFault>,
    field: &str,
    has_calls: bool,
) -> Result<Fault, MockError> {
    let at = fault.referenced;
    let RawFault {
        status,
        reset_mid_stream,
        malformed_sse,
        truncate_tool_call,
        slow_headers_ms,
        ignore_max_tokens,
    } = fault.value;
    let mut chosen = Vec::new();
    if let Some(code) = status {
        if !(400..=599).contains(&code) {
            return Err(invalid(
                at,
                format!("{field}.status"),
                "must be an HTTP error status (400–599)",
            ));
        }
        chosen.push(Fault::Status(code));
    }
    if let Some(n) = reset_mid_stream {
        chosen.push(Fault::ResetMidStream(n));
    }
    if let Some(n) = malformed_sse {
        chosen.push(Fault::MalformedSse(n));
    }
    match truncate_tool_call {
        Some(true) if !has_calls => {
            return Err(invalid(
                at,
                format!("{field}.truncate_tool_call"),
                "the reply has no tool call to truncate",
            ));
        }
        Some(true) => chosen.push(Fault::TruncateToolCall),
        Some(false) => {
            return Err(invalid(
                at,
                format!("{field}.truncate_tool_call"),
                "set it to true or remove it",
            ));
        }
        None => {}
    }
    if let Some(ms) = slow_headers_ms {
        chosen.push(Fault::SlowHeaders(Duration::from_millis(ms)));
    }
    match ignore_max_tokens {
        Some(true) => chosen.push(Fault::IgnoreMaxTokens),
        Some(false) => {
            return Err(invalid(
                at,
                format!("{field}.ignore_max_tokens"),
                "set it to true or remove it",
            ));
        }
        None => {}
    }
    match chosen.as_slice() {
        [one] => Ok(*one),
        [] => Err(invalid(
            at,
            field,
            "empty fault: give one of `status`, `reset_mid_stream`, `malformed_sse`, `truncate_tool_call`, `slow_headers_ms`, `ignore_max_tokens`",
        )),
        _ => Err(invalid(at, field, "give exactly one kind of fault")),
    }
}
