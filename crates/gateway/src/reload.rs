//! Policy reload while serving: the bundle directory is checked for changes every second and
//! reloaded on SIGHUP. Every load, rejected ones included, is logged and recorded in the ledger; a
//! bundle that fails to load leaves the last good one in force.

use std::sync::Arc;
use std::time::Duration;

use warden_ledger as ledger;
use warden_store::LedgerStore;

use crate::config::Config;
use crate::policy_holder::PolicyLoad;
use crate::state::Gateway;

/// How often the bundle directory is checked for changes.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Watches for changes (when the configuration enables reload) and SIGHUP until the process
/// ends.
pub async fn watch(gw: Arc<Gateway>) {
    #[cfg(unix)]
    let mut hangup = gw.hangup.lock().ok().and_then(|mut h| h.take());
    let mut tick = tokio::time::interval(POLL_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        #[cfg(unix)]
        let forced = match hangup.as_mut() {
            Some(signal) => tokio::select! {
                _ = tick.tick() => false,
                _ = signal.recv() => true,
            },
            None => {
                tick.tick().await;
                false
            }
        };
        #[cfg(not(unix))]
        let forced = {
            tick.tick().await;
            false
        };
        if forced {
            tracing::info!("SIGHUP: reloading the policy bundle");
        }
        let load = if forced || gw.config.reload {
            reload_blocking(&gw, forced).await
        } else {
            None
        };
        if let Some(load) = load {
            record(gw.ledger.as_ref(), &gw.config, &load).await;
        }
    }
}

async fn reload_blocking(gw: &Arc<Gateway>, forced: bool) -> Option<PolicyLoad> {
    let holder = gw.policy.clone();
    tokio::task::spawn_blocking(move || {
        if forced {
            Some(holder.reload())
        } else {
            holder.reload_if_changed()
        }
    })
    .await
    .ok()
    .flatten()
}

/// Logs a load and records it in the ledger (an unchanged bundle is neither).
pub async fn record(ledger: &dyn LedgerStore, config: &Config, load: &PolicyLoad) {
    let source = Some(config.bundle.display().to_string());
    let event = match load {
        PolicyLoad::Unchanged { .. } => return,
        PolicyLoad::Loaded { digest, previous } => {
            tracing::info!(bundle = %digest, "policy bundle loaded");
            ledger::PolicyLoad {
                bundle_digest: digest.clone(),
                previous_digest: previous.clone(),
                source,
                error: None,
            }
        }
        PolicyLoad::Rejected { error, in_force } => {
            tracing::error!(
                in_force = in_force.as_deref().unwrap_or("none"),
                "policy bundle rejected; the last good bundle stays in force:\n{error}"
            );
            ledger::PolicyLoad {
                bundle_digest: in_force.clone().unwrap_or_default(),
                previous_digest: in_force.clone(),
                source,
                error: Some(error.clone()),
            }
        }
    };
    let draft = ledger::RecordDraft {
        actor: ledger::Actor {
            principal: Some("warden serve".into()),
            ..ledger::Actor::default()
        },
        bundle_digest: match load {
            PolicyLoad::Loaded { digest, .. } => Some(digest.clone()),
            PolicyLoad::Rejected { in_force, .. } => in_force.clone(),
            PolicyLoad::Unchanged { digest } => Some(digest.clone()),
        },
        event: ledger::Event::PolicyLoad(event),
    };
    if let Err(e) = ledger.append(draft).await {
        tracing::error!("recording the policy load failed: {e}");
    }
}
