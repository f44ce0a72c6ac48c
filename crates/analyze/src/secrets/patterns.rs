//! The secret patterns, in priority order (specific formats before generic assignments), each
//! compiled once on first use, together with a [`RegexSet`] of all of them so that text without
//! any secret is rejected in one pass, and the length of the shortest text any pattern can match.

use std::sync::LazyLock;

use regex::{Regex, RegexSet};

/// A compiled detector.
pub(crate) struct Pattern {
    /// Kind reported in detections.
    pub kind: &'static str,
    regex: Option<Regex>,
    /// The pattern source, for the combined set.
    source: &'static str,
    /// Capture group holding the secret (0 = whole match).
    group: usize,
    /// Extra check on the secret text.
    accept: fn(&str) -> bool,
}

impl Pattern {
    /// Byte spans of accepted secrets in `text`.
    pub fn find_all(&self, text: &str) -> Vec<(usize, usize)> {
        let Some(regex) = &self.regex else {
            return Vec::new();
        };
        if self.group == 0 {
            return regex
                .find_iter(text)
                .filter(|m| (self.accept)(m.as_str()))
                .map(|m| (m.start(), m.end()))
                .collect();
        }
        regex
            .captures_iter(text)
            .filter_map(|caps| caps.get(self.group))
            .filter(|m| (self.accept)(m.as_str()))
            .map(|m| (m.start(), m.end()))
            .collect()
    }

    /// Fewest bytes a match of this pattern can span (0 when unknown).
    fn minimum_len(&self) -> usize {
        regex_syntax::parse(self.source)
            .ok()
            .and_then(|hir| hir.properties().minimum_len())
            .unwrap_or(0)
    }
}

fn pattern(
    kind: &'static str,
    source: &'static str,
    group: usize,
    accept: fn(&str) -> bool,
) -> Pattern {
    // Every source below is a constant exercised by the unit tests; a pattern that failed to
    // compile would only disable itself, never panic.
    Pattern {
        kind,
        regex: Regex::new(source).ok(),
        source,
        group,
        accept,
    }
}

fn any(_: &str) -> bool {
    true
}

static PATTERNS: LazyLock<Vec<Pattern>> = LazyLock::new(|| {
    vec![
        pattern(
            "private_key",
            r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?:[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s\\]*)",
            0,
            any,
        ),
        pattern(
            "gcp_service_account_key",
            r#""private_key"\s*:\s*"([^"]{40,})""#,
            1,
            any,
        ),
        pattern(
            "azure_connection_string",
            r"DefaultEndpointsProtocol=https?;AccountName=[^;\s]+;AccountKey=[A-Za-z0-9+/=]{40,}(?:;[^\s;'\x22]+)*",
            0,
            any,
        ),
        pattern(
            "azure_storage_key",
            r"(?i)AccountKey\s*=\s*([A-Za-z0-9+/]{80,}={0,2})",
            1,
            any,
        ),
        pattern("azure_sas_token", r"[?&]sig=([A-Za-z0-9%+/=]{40,})", 1, any),
        pattern(
            "aws_access_key_id",
            r"\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AROA|ANPA|AIPA)[A-Z0-9]{16}\b",
            0,
            any,
        ),
        pattern(
            "aws_secret_access_key",
            r#"(?i)aws.{0,20}?(?:secret|sk).{0,20}?["']?\s*[:=]\s*["']?([A-Za-z0-9/+=]{40})(?:[^A-Za-z0-9/+=]|$)"#,
            1,
            |v| super::shannon_entropy(v) > 3.5,
        ),
        pattern(
            "github_token",
            r"\b(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}\b",
            0,
            any,
        ),
        pattern(
            "github_token",
            r"\bgithub_pat_[A-Za-z0-9_]{50,255}\b",
            0,
            any,
        ),
        pattern("gitlab_token", r"\bglpat-[A-Za-z0-9_\-]{20,}", 0, any),
        pattern(
            "slack_webhook",
            r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/]{20,}",
            0,
            any,
        ),
        pattern("slack_token", r"\bxox[abpre]-[A-Za-z0-9-]{10,}", 0, any),
        pattern(
            "stripe_key",
            r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{20,}\b",
            0,
            any,
        ),
        pattern("anthropic_api_key", r"\bsk-ant-[A-Za-z0-9_\-]{20,}", 0, any),
        pattern(
            "openai_api_key",
            r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_\-]{20,}",
            0,
            |v| {
                !v.starts_with("sk-ant-")
                    && has_digit_and_letter(v)
                    && super::shannon_entropy(v) > 3.5
            },
        ),
        pattern(
            "jwt",
            r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}",
            0,
            is_jwt,
        ),
        pattern(
            "url_password",
            r#"\b[A-Za-z][A-Za-z0-9+.\-]{1,15}://[^\s:/@"'<>]+:([^\s@/"'<>]+)@[^\s/"'<>]+"#,
            1,
            |v| !is_placeholder(v),
        ),
        pattern(
            "generic_secret",
            r#"(?i)(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|auth[_-]?key|credential|client[_-]?secret|private[_-]?key)[A-Za-z0-9_.\-]*["']?\s*(?::|=|:=|=>)\s*["']?([^\s"'`,;(){}<>]{8,})"#,
            1,
            is_generic_secret_value,
        ),
    ]
});

/// All pattern sources in one set, same order as [`PATTERNS`]; `None` if it failed to build, in
/// which case every pattern is tried.
static SET: LazyLock<Option<RegexSet>> =
    LazyLock::new(|| RegexSet::new(PATTERNS.iter().map(|p| p.source)).ok());

/// Length of the shortest text any pattern can match.
static SHORTEST: LazyLock<usize> =
    LazyLock::new(|| PATTERNS.iter().map(Pattern::minimum_len).min().unwrap_or(0));

/// Builds every pattern and the combined set now instead of on the first scan. Returns whether
/// every pattern and the set compiled.
pub(crate) fn prepare() -> bool {
    let all = PATTERNS.iter().all(|p| p.regex.is_some());
    let set = SET.is_some();
    let shortest = *SHORTEST > 0;
    all && set && shortest
}

/// Every pattern in priority order.
#[cfg(test)]
pub(crate) fn all() -> &'static [Pattern] {
    &PATTERNS
}

/// The patterns that match somewhere in `text`, in priority order: nothing for text shorter than
/// any secret, else one pass of the combined set picks the patterns worth running in full. Most
/// text holds no secret, and telling that (a search that stops at the first match) costs a
/// fraction of finding which patterns match (a search that tracks every pattern to the end).
pub(crate) fn candidates(text: &str) -> Vec<&'static Pattern> {
    if text.len() < *SHORTEST {
        return Vec::new();
    }
    match SET.as_ref() {
        Some(set) if !set.is_match(text) => Vec::new(),
        Some(set) => set
            .matches(text)
            .iter()
            .filter_map(|index| PATTERNS.get(index))
            .collect(),
        None => PATTERNS.iter().collect(),
    }
}

/// Length of the shortest text any pattern can match.
#[cfg(test)]
pub(crate) fn shortest_match() -> usize {
    *SHORTEST
}

fn has_digit_and_letter(value: &str) -> bool {
    value.chars().any(|c| c.is_ascii_digit()) && value.chars().any(|c| c.is_ascii_alphabetic())
}

/// A JWT's first segment decodes to a JSON object naming an algorithm.
fn is_jwt(token: &str) -> bool {
    let header = token.split('.').next().unwrap_or_default();
    decode_base64url(header).is_some_and(|json| {
        let text = String::from_utf8_lossy(&json);
        text.trim_start().starts_with('{') && text.contains("\"alg\"")
    })
}

fn decode_base64url(input: &str) -> Option<Vec<u8>> {
    let mut bits: u32 = 0;
    let mut count = 0;
    let mut out = Vec::with_capacity(input.len() * 3 / 4);
    for c in input.bytes() {
        let value = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        bits = (bits << 6) | u32::from(value);
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push(((bits >> count) & 0xff) as u8);
        }
    }
    Some(out)
}

/// Template or variable references rather than a literal secret.
fn is_placeholder(value: &str) -> bool {
    let lower = value.to_ascii_lowercase();
    value.starts_with('$')
        || value.starts_with('%')
        || value.starts_with("{{")
        || value.starts_with('<')
        || value
            .chars()
            .all(|c| c == '*' || c == 'x' || c == 'X' || c == '.')
        || [
            "password",
            "passwd",
            "changeme",
            "example",
            "placeholder",
            "redacted",
            "your_",
            "your-",
            "dummy",
            "secret",
        ]
        .iter()
        .any(|word| lower.contains(word))
}

/// A generic assignment's value is a secret when it is not code, not a placeholder, and random enough.
fn is_generic_secret_value(value: &str) -> bool {
    if is_placeholder(value)
        || value.contains("::")
        || value.starts_with("process.")
        || value.starts_with("os.")
        || value.starts_with("env.")
    {
        return false;
    }
    let identifier = value
        .chars()
        .all(|c| c.is_ascii_alphabetic() || c == '_' || c == '.' || c == '-');
    let classes = [
        value.chars().any(|c| c.is_ascii_lowercase()),
        value.chars().any(|c| c.is_ascii_uppercase()),
        value.chars().any(|c| c.is_ascii_digit()),
        value.chars().any(|c| !c.is_ascii_alphanumeric()),
    ]
    .iter()
    .filter(|present| **present)
    .count();
    !identifier && classes >= 2 && super::shannon_entropy(value) >= 3.0
}
