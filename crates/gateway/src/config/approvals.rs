//! The `approvals:` section: how long a held call waits for a human, how often a waiting stream
//! is kept alive, and where approval requests are announced.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;
use warden_policy::parse_duration_ms;

use super::Validator;

/// Approval settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApprovalSettings {
    /// How long an agent's response waits for a decision before the call is blocked (or
    /// released, when the rule's `on_timeout` says so), in milliseconds.
    pub wait_ms: u64,
    /// Interval of keep-alive comments on a stream that waits, in milliseconds.
    pub keepalive_ms: u64,
    /// Where new approval requests are announced.
    pub webhooks: Vec<Webhook>,
}

impl Default for ApprovalSettings {
    fn default() -> Self {
        ApprovalSettings {
            wait_ms: 300_000,
            keepalive_ms: 10_000,
            webhooks: Vec::new(),
        }
    }
}

/// A webhook notified of each new approval request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhook {
    /// The URL POSTed to.
    pub url: String,
    /// The body's shape.
    pub format: WebhookFormat,
}

/// The body a webhook receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookFormat {
    /// The approval request as JSON.
    #[default]
    Generic,
    /// `{"text": …}`, as Slack incoming webhooks take it.
    Slack,
}

/// `approvals:` as written.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawApprovals {
    /// How long a held call waits for a decision (`5m`).
    pub wait: Option<String>,
    /// Keep-alive interval for waiting streams (`10s`).
    pub keepalive: Option<String>,
    /// Webhooks announcing new requests.
    #[serde(default)]
    pub webhooks: Vec<RawWebhook>,
}

/// A webhook as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawWebhook {
    /// The URL (http or https).
    pub url: String,
    /// `generic` (default) or `slack`.
    #[serde(default)]
    pub format: WebhookFormat,
}

impl Validator<'_> {
    pub(super) fn approvals(&mut self, raw: Option<&Spanned<RawApprovals>>) -> ApprovalSettings {
        let mut out = ApprovalSettings::default();
        let Some(raw) = raw else {
            return out;
        };
        let at = raw.referenced;
        let r = &raw.value;
        for (field, text, slot) in [
            ("approvals.wait", &r.wait, &mut out.wait_ms),
            ("approvals.keepalive", &r.keepalive, &mut out.keepalive_ms),
        ] {
            if let Some(s) = text {
                match parse_duration_ms(s) {
                    Ok(ms) if ms > 0 => *slot = ms,
                    _ => self.problem(at, field, format!("`{s}` is not a duration (e.g. 5m)")),
                }
            }
        }
        for (i, hook) in r.webhooks.iter().enumerate() {
            if !(hook.url.starts_with("http://") || hook.url.starts_with("https://")) {
                self.problem(
                    at,
                    &format!("approvals.webhooks[{i}].url"),
                    format!("`{}` is not an http(s) URL", hook.url),
                );
                continue;
            }
            out.webhooks.push(Webhook {
                url: hook.url.clone(),
                format: hook.format,
            });
        }
        out
    }
}
