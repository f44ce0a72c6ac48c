//! Raw serde types of a policy file, exactly as written in YAML.
//!
//! These are converted into the validated [`crate::Bundle`] by `bundle.rs`; nothing else reads them.
//! Unknown fields are rejected everywhere, and the fields whose errors must point at a line are
//! wrapped in [`Spanned`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_saphyr::Spanned;

use crate::Outcome;

/// One YAML file of a bundle.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(
    dead_code,
    reason = "name and description document the file; evaluation does not read them"
)]
pub(crate) struct RawPolicyFile {
    /// A short name for the file's rules.
    pub name: Option<String>,
    /// What the file is for.
    pub description: Option<String>,
    /// How tool arguments are understood.
    #[serde(default)]
    pub tools: Vec<Spanned<RawToolMapping>>,
    /// The rules.
    #[serde(default)]
    pub rules: Vec<RawRule>,
    /// The outcome when no rule matches (at most one file of a bundle sets it).
    pub default: Option<Spanned<Outcome>>,
}

/// How the arguments of some tools are understood.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawToolMapping {
    /// Tool names (exact, or with `*` wildcards).
    #[serde(rename = "match")]
    pub names: Vec<String>,
    /// Argument name → analyzer (`shell`, `sql`, `sql:postgres`, `sql:mysql`, `path`, `url`, `patch`).
    #[serde(default)]
    pub args: BTreeMap<String, String>,
}

/// One rule as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRule {
    pub id: Spanned<String>,
    pub description: Option<String>,
    /// Action kinds the rule applies to (all when absent).
    pub kinds: Option<Spanned<Vec<String>>>,
    /// Tool names the rule applies to (exact, or with `*` wildcards; all when absent).
    pub tools: Option<Vec<String>>,
    /// The CEL condition (always true when absent).
    pub when: Option<Spanned<String>>,
    pub decision: Spanned<Outcome>,
    pub reason: Option<String>,
    pub approvers: Option<Vec<String>>,
    pub quorum: Option<Spanned<u32>>,
    pub approval_ttl: Option<Spanned<String>>,
    pub on_timeout: Option<Spanned<Outcome>>,
    pub constraints: Option<Spanned<RawConstraints>>,
    /// Argument name → CEL expression giving its new value.
    pub rewrite: Option<Spanned<BTreeMap<String, String>>>,
}

/// Constraints as written.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConstraints {
    pub max_cost_usd: Option<f64>,
    pub timeout: Option<String>,
    pub read_only: Option<bool>,
}

/// Parses a duration such as `500ms`, `30s`, `15m`, `2h`, `1d` or `1h30m` into milliseconds.
pub fn parse_duration_ms(text: &str) -> Result<u64, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration".into());
    }
    let mut total: u64 = 0;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        if digits == 0 {
            return Err(format!(
                "`{text}` is not a duration (expected e.g. 30s, 15m, 1h30m)"
            ));
        }
        let (number, tail) = rest.split_at(digits);
        let value: u64 = number
            .parse()
            .map_err(|_| format!("`{text}`: number too large"))?;
        let unit_len = tail.chars().take_while(char::is_ascii_alphabetic).count();
        let (unit, tail) = tail.split_at(unit_len);
        let scale = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "" => return Err(format!("`{text}`: missing unit (ms, s, m, h, d)")),
            other => return Err(format!("`{text}`: unknown unit `{other}` (ms, s, m, h, d)")),
        };
        total = value
            .checked_mul(scale)
            .and_then(|v| total.checked_add(v))
            .ok_or_else(|| format!("`{text}`: duration too large"))?;
        rest = tail;
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::parse_duration_ms;

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("15m"), Ok(900_000));
        assert_eq!(parse_duration_ms("1h30m"), Ok(5_400_000));
        assert_eq!(parse_duration_ms("250ms"), Ok(250));
        assert_eq!(parse_duration_ms(" 2d "), Ok(172_800_000));
        assert!(parse_duration_ms("15").is_err());
        assert!(parse_duration_ms("m").is_err());
        assert!(parse_duration_ms("5w").is_err());
        assert!(parse_duration_ms("").is_err());
        assert!(parse_duration_ms("99999999999999999999s").is_err());
        assert!(parse_duration_ms("9999999999999999d").is_err());
    }
}
