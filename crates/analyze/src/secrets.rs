//! Detection and redaction of credentials in free text (prompts, tool arguments, tool results).
//!
//! Provider-specific token formats are matched by regular expressions compiled once; generic
//! `password=` / `token:` style assignments are accepted only when the value has enough Shannon
//! entropy and does not look like code or a placeholder, to keep prose and source code quiet.
//! Pure: no I/O; offsets are byte offsets on `char` boundaries.

mod patterns;

/// One detected secret.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Detection {
    /// Kind of secret (`aws_access_key_id`, `github_token`, `private_key`, `generic_secret`, ...).
    pub kind: String,
    /// Byte offset of the first byte of the secret.
    pub start: usize,
    /// Byte offset one past the last byte of the secret.
    pub end: usize,
}

/// Compiles the patterns now rather than on the first scan, so that a server's first request does
/// not pay for it. Returns `false` if a pattern failed to compile (scans still use the others).
pub fn prepare() -> bool {
    patterns::prepare()
}

/// Finds secrets in `text`, ordered by position, never overlapping.
pub fn scan(text: &str) -> Vec<Detection> {
    let mut found: Vec<Detection> = Vec::new();
    for pattern in patterns::candidates(text) {
        for (start, end) in pattern.find_all(text) {
            let overlaps = found.iter().any(|d| start < d.end && d.start < end);
            if !overlaps && text.is_char_boundary(start) && text.is_char_boundary(end) {
                found.push(Detection {
                    kind: pattern.kind.to_owned(),
                    start,
                    end,
                });
            }
        }
    }
    found.sort_by_key(|d| (d.start, d.end));
    found
}

/// Replaces each detected span with `[REDACTED:<kind>]`; spans that overlap are merged and spans
/// outside `text` or off `char` boundaries are ignored.
pub fn redact(text: &str, detections: &[Detection]) -> String {
    let mut spans: Vec<&Detection> = detections
        .iter()
        .filter(|d| d.start < d.end && text.get(d.start..d.end).is_some())
        .collect();
    spans.sort_by_key(|d| (d.start, std::cmp::Reverse(d.end)));
    let mut out = String::with_capacity(text.len());
    let mut cursor = 0;
    for span in spans {
        if span.end <= cursor {
            continue;
        }
        let start = span.start.max(cursor);
        out.push_str(text.get(cursor..start).unwrap_or_default());
        if start == span.start {
            out.push_str("[REDACTED:");
            out.push_str(&span.kind);
            out.push(']');
        }
        cursor = span.end;
    }
    out.push_str(text.get(cursor..).unwrap_or_default());
    out
}

/// Shannon entropy of `value` in bits per character.
pub fn shannon_entropy(value: &str) -> f64 {
    let mut counts = std::collections::HashMap::new();
    let mut total = 0_usize;
    for c in value.chars() {
        *counts.entry(c).or_insert(0_usize) += 1;
        total += 1;
    }
    if total == 0 {
        return 0.0;
    }
    let total = total as f64;
    counts
        .values()
        .map(|&n| {
            let p = n as f64 / total;
            -p * p.log2()
        })
        .sum()
}

#[cfg(test)]
mod tests;
