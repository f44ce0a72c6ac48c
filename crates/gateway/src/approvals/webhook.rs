//! Webhook notifications of new approval requests: a generic JSON body, or Slack's `{"text"}`.
//! Sent in the background with a short time limit, so a webhook that is down or slow never
//! delays or loses the request itself.

use std::time::Duration;

use serde_json::json;

use super::ApprovalView;
use crate::config::{Webhook, WebhookFormat};

/// Time limit for one notification.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Sends the notification in the background.
pub(super) fn notify(http: reqwest::Client, hook: Webhook, approval: ApprovalView) {
    tokio::spawn(async move {
        let body = match hook.format {
            WebhookFormat::Generic => json!({"type": "approval_requested", "approval": approval}),
            WebhookFormat::Slack => json!({"text": format!(
                "Warden: agent `{}` wants to call `{}` and needs approval ({} of group {}). Rules: {}. Reason: {} Approve with `warden approvals approve {}` or deny with `warden approvals deny {}`.",
                approval.agent,
                approval.tool,
                approval.quorum,
                if approval.approvers.is_empty() { "any".to_owned() } else { approval.approvers.join(" or ") },
                approval.rules.join(", "),
                approval.reason,
                approval.id,
                approval.id,
            )}),
        };
        let sent = http
            .post(&hook.url)
            .timeout(TIMEOUT)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await;
        match sent {
            Ok(r) if r.status().is_success() => {}
            Ok(r) => {
                tracing::warn!(url = %hook.url, status = r.status().as_u16(), "approval webhook refused the notification")
            }
            Err(e) => tracing::warn!(url = %hook.url, "approval webhook unreachable: {e}"),
        }
    });
}
