//! Budgets at the LLM gateway: before a call goes upstream its worst-case cost is reserved
//! against every limit that applies (run, agent, team, tenant; day, month, total) and its
//! `max_tokens` is set to what the reservation pays for; a stream is metered and ended when the
//! reservation is spent; afterwards the call is settled from the provider's usage figures and a
//! spend record goes to the ledger. See [`hold`] for the life of one reservation.
//!
//! Prices, token counting and cost arithmetic live in `warden-budget`, spending in the store;
//! this module only joins them to requests. It must not parse provider wire formats itself.

pub mod hold;
pub mod meter;
mod settler;
#[cfg(test)]
mod tests;

use std::sync::{Arc, OnceLock};

use serde_json::Value;
use warden_budget::{Micros, PlanError, ScopeKey, ScopeKind, Sizing, TokenCounter, utc_timestamp};
use warden_ledger as ledger;
use warden_llm::{Api, ErrorKind};
use warden_store::{
    Balance, BudgetLimit, LedgerStore, Reservation, ReserveError, ReserveRequest, SqliteBudgets,
};

use crate::config::{BudgetSettings, Unpriced};
use crate::identity::Identity;
pub use hold::Hold;

/// Budgets in force at the gateway.
pub struct Budgets {
    /// The configured limits, prices and reservation lifetime.
    pub settings: BudgetSettings,
    /// Spending and reservations.
    pub store: Arc<SqliteBudgets>,
    settler: settler::Settler,
}

impl std::fmt::Debug for Budgets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Budgets")
            .field("limits", &self.settings.limits.len())
            .finish_non_exhaustive()
    }
}

/// Why a call gets no reservation.
#[derive(Debug, thiserror::Error)]
pub enum BudgetRefusal {
    /// The model has no price and unpriced models are refused.
    #[error(
        "model `{0}` has no price in this gateway's price table, so its cost cannot be held against the budgets; an operator can add it under budgets.prices"
    )]
    Unpriced(String),
    /// The policy's `max_cost_usd` is below the least the call can cost.
    #[error("budget: {0}")]
    CapTooLow(PlanError),
    /// A limit has too little left.
    #[error("{}", exhausted_message(.0, *.1))]
    Exhausted(Box<Balance>, Micros),
    /// A scope id from the request is not usable (e.g. a malformed `Warden-Run-Id`).
    #[error("budget scope: {0}")]
    Scope(String),
    /// The store failed; the call is not let through unaccounted.
    #[error("the budget store failed ({0}); nothing was sent upstream")]
    Store(String),
}

impl BudgetRefusal {
    /// The error kind the agent's SDK sees.
    #[must_use]
    pub fn kind(&self) -> ErrorKind {
        match self {
            BudgetRefusal::Unpriced(_) | BudgetRefusal::Scope(_) => ErrorKind::InvalidRequest,
            BudgetRefusal::CapTooLow(_) | BudgetRefusal::Exhausted(..) => {
                ErrorKind::BudgetExhausted
            }
            BudgetRefusal::Store(_) => ErrorKind::Internal,
        }
    }
}

/// `budget exhausted for run:r1 (total): limit $0.01, spent $0.0095 (+ $0.0004 reserved by calls in flight); this call needs at least $0.0002; resets …`.
fn exhausted_message(balance: &Balance, needed: Micros) -> String {
    let resets = match balance.period.end_ms {
        Some(ms) => format!("resets at {}", utc_timestamp(ms)),
        None => "a total budget never resets".to_owned(),
    };
    format!(
        "budget exhausted for {} ({} window): limit {}, spent {} (+ {} reserved by calls in flight); this call needs at least {}; {resets}",
        balance.scope,
        balance.window,
        balance.limit.unwrap_or_default(),
        balance.spent,
        balance.reserved,
        needed
    )
}

/// What the gateway knows of a call when reserving for it.
#[derive(Debug, Clone, Copy)]
pub struct CallFacts<'a> {
    /// Who calls.
    pub identity: &'a Identity,
    /// The API spoken.
    pub api: Api,
    /// The model asked for.
    pub model: &'a str,
    /// The request body as received (tokens are counted over all of it).
    pub body: &'a [u8],
    /// The agent's own output-token limit.
    pub requested_max_tokens: Option<u64>,
    /// The policy's `max_cost_usd` for this call.
    pub max_cost_usd: Option<f64>,
}

impl Budgets {
    /// Budgets over `store`, writing spend records to `ledger`. Loads the OpenAI tokenizers on a
    /// background thread so the first request does not wait for them.
    pub fn new(
        settings: BudgetSettings,
        store: SqliteBudgets,
        ledger: Arc<dyn LedgerStore>,
    ) -> Arc<Budgets> {
        if let Err(e) = std::thread::Builder::new()
            .name("warden-tokenizers".into())
            .spawn(TokenCounter::warm)
        {
            tracing::debug!("tokenizers load on first use: {e}");
        }
        let store = Arc::new(store);
        Arc::new(Budgets {
            settings,
            settler: settler::Settler::start(store.clone(), ledger),
            store,
        })
    }

    /// The scopes of a call, in check order: its run, agent, team and tenant.
    pub fn scopes(identity: &Identity) -> Result<Vec<ScopeKey>, BudgetRefusal> {
        let agent = &identity.agent;
        let candidates = [
            (
                ScopeKind::Run,
                identity.run_id.as_deref().unwrap_or_default(),
            ),
            (ScopeKind::Agent, agent.id.as_str()),
            (ScopeKind::Team, agent.team.as_str()),
            (ScopeKind::Tenant, agent.tenant.as_str()),
        ];
        candidates
            .into_iter()
            .filter(|(_, id)| !id.is_empty())
            .map(|(kind, id)| {
                ScopeKey::new(kind, id).map_err(|e| BudgetRefusal::Scope(e.to_string()))
            })
            .collect()
    }

    /// The configured limits on `scopes` (a limit naming the id wins over one for every id).
    #[must_use]
    pub fn configured(&self, scopes: &[ScopeKey]) -> Vec<BudgetLimit> {
        let mut out: Vec<BudgetLimit> = Vec::new();
        for scope in scopes {
            for exact in [true, false] {
                for limit in &self.settings.limits {
                    let applies = limit.kind == scope.kind
                        && match &limit.id {
                            Some(id) => exact && *id == scope.id,
                            None => !exact,
                        };
                    let taken = out
                        .iter()
                        .any(|l| l.scope == *scope && l.window == limit.window);
                    if applies && !taken {
                        out.push(BudgetLimit {
                            scope: scope.clone(),
                            window: limit.window,
                            limit: limit.limit,
                        });
                    }
                }
            }
        }
        out
    }

    /// Reserves the worst case of a call. `Ok(None)` when nothing needs holding (no limit
    /// applies, or an unpriced model that the configuration lets through).
    ///
    /// # Errors
    /// [`BudgetRefusal`] when the call must not go upstream.
    pub fn reserve(
        self: &Arc<Self>,
        call: &CallFacts<'_>,
        now_ms: u64,
    ) -> Result<Option<Hold>, BudgetRefusal> {
        let Some((_, price)) = self.settings.prices.lookup(call.model) else {
            return match self.settings.unpriced {
                Unpriced::Refuse => Err(BudgetRefusal::Unpriced(call.model.to_owned())),
                Unpriced::Allow => {
                    tracing::warn!(model = call.model, "unpriced model let through uncharged");
                    Ok(None)
                }
            };
        };
        let counter = TokenCounter::for_model(call.model);
        // A cap the policy validated as non-negative; one out of range caps at nothing.
        let call_cap = call
            .max_cost_usd
            .map(|usd| Micros::from_usd(usd).unwrap_or(Micros::ZERO));
        let scopes = Budgets::scopes(call.identity)?;
        let configured = self.configured(&scopes);
        let sizing = |input_tokens| Sizing {
            input_tokens,
            requested_max_tokens: call.requested_max_tokens,
            price: *price,
            call_cap,
        };
        // First with the bound on the input, which costs nothing to compute. When the bound
        // reserves the whole worst case, an exact count could only lower the amount held, never
        // change whether the call goes or its `max_tokens`; otherwise count exactly and reserve
        // again (a tokenizer pass costs about 0.1 µs per byte of the body).
        let bound = sizing(counter.upper_bound(call.body.len()));
        let first = self.reserve_sized(&bound, &scopes, &configured, now_ms);
        let exact_input = Arc::new(OnceLock::new());
        let (sizing, reservation) = match first {
            Ok(Some(r)) if r.amount == bound.worst() || !counter.is_exact() => {
                if counter.is_exact() {
                    count_behind(counter, call.body, Arc::clone(&exact_input));
                }
                (bound, r)
            }
            Ok(None) => return Ok(None),
            Err(refusal) if !counter.is_exact() => return Err(refusal),
            first => {
                if let Ok(Some(r)) = first
                    && let Err(e) = self.store.settle_behind(r.id, Micros::ZERO)
                {
                    return Err(BudgetRefusal::Store(e.to_string()));
                }
                let exact = sizing(counter.count(&String::from_utf8_lossy(call.body)));
                let _ = exact_input.set(exact.input_tokens);
                match self.reserve_sized(&exact, &scopes, &configured, now_ms)? {
                    Some(r) => (exact, r),
                    None => return Ok(None),
                }
            }
        };
        let max_tokens = sizing.max_tokens_for(reservation.amount);
        Ok(Some(Hold::new(
            self.clone(),
            call,
            reservation,
            *price,
            hold::InputTokens {
                estimate: sizing.input_tokens,
                exact: exact_input,
            },
            max_tokens,
            counter,
        )))
    }

    /// Reserves for a call sized by `sizing` on the limits of `scopes`.
    fn reserve_sized(
        &self,
        sizing: &Sizing,
        scopes: &[ScopeKey],
        configured: &[BudgetLimit],
        now_ms: u64,
    ) -> Result<Option<Reservation>, BudgetRefusal> {
        let plan = sizing.plan().map_err(BudgetRefusal::CapTooLow)?;
        let request = ReserveRequest {
            scopes,
            configured,
            min: plan.min,
            max: plan.max,
            ttl_ms: self.settings.reservation_ttl_ms,
        };
        match self.store.reserve(&request, now_ms) {
            Ok(reserved) => Ok(reserved),
            Err(ReserveError::Exhausted(balance)) => {
                Err(BudgetRefusal::Exhausted(balance, plan.min))
            }
            Err(ReserveError::Store(e)) => Err(BudgetRefusal::Store(e.to_string())),
        }
    }

    /// Where finished calls are settled.
    pub(crate) fn settler(&self) -> &settler::Settler {
        &self.settler
    }
}

/// Counts `body`'s tokens exactly off the request path and leaves the count in `cell`, so that a
/// call settled without the provider's figures (an abandoned stream) is charged for its real
/// input rather than the bound it was admitted on. Outside a runtime it counts at once.
fn count_behind(counter: TokenCounter, body: &[u8], cell: Arc<OnceLock<u64>>) {
    let body = body.to_vec();
    let count = move || {
        let _ = cell.set(counter.count(&String::from_utf8_lossy(&body)));
    };
    match tokio::runtime::Handle::try_current() {
        Ok(runtime) => {
            runtime.spawn_blocking(count);
        }
        Err(_) => count(),
    }
}

/// The ledger record of a call refused for lack of budget.
#[must_use]
pub fn refusal_record(
    identity: &Identity,
    model: &str,
    refusal: &BudgetRefusal,
) -> ledger::RecordDraft {
    let balances = match refusal {
        BudgetRefusal::Exhausted(balance, _) => vec![ledger_balance(balance)],
        _ => Vec::new(),
    };
    ledger::RecordDraft {
        actor: actor(identity),
        bundle_digest: None,
        event: ledger::Event::Budget(Box::new(ledger::BudgetSpend {
            decision_id: None,
            model: model.to_owned(),
            outcome: ledger::SpendOutcome::Refused,
            reserved_micro_usd: 0,
            settled_micro_usd: 0,
            input_tokens: None,
            cached_input_tokens: None,
            output_tokens: None,
            balances,
            reason: Some(refusal.to_string()),
        })),
    }
}

/// The ledger's actor for a call.
pub(crate) fn actor(identity: &Identity) -> ledger::Actor {
    ledger::Actor {
        agent_id: Some(identity.agent.id.clone()),
        tenant: Some(identity.agent.tenant.clone()).filter(|t| !t.is_empty()),
        key_id: Some(identity.key_id.clone()),
        run_id: identity.run_id.clone(),
        ..ledger::Actor::default()
    }
}

/// A store balance as the ledger records it.
pub(crate) fn ledger_balance(balance: &Balance) -> ledger::BudgetBalance {
    ledger::BudgetBalance {
        scope: balance.scope.clone(),
        window: balance.window.name().to_owned(),
        limit_micro_usd: balance.limit.unwrap_or_default().0,
        spent_micro_usd: balance.spent.0,
        reserved_micro_usd: balance.reserved.0,
        resets_ms: balance.period.end_ms,
    }
}

/// Sets the request's output-token limit to what the reservation pays for. Returns whether the
/// body changed.
///
/// # Errors
/// The body is not a JSON object (already refused earlier in practice).
pub fn apply_max_tokens(
    api: Api,
    json: &mut Value,
    hold: &Hold,
    requested: Option<u64>,
) -> Result<bool, warden_llm::ProtocolError> {
    let effective = warden_llm::clamp_max_tokens(api, json, hold.max_tokens)?;
    Ok(Some(effective) != requested)
}

/// Releases reservations whose requests died without settling, every few seconds.
pub async fn expire_reservations(budgets: Arc<Budgets>) {
    let every = std::time::Duration::from_millis(
        (budgets.settings.reservation_ttl_ms / 4).clamp(1_000, 60_000),
    );
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        let store = budgets.store.clone();
        let now = crate::approvals::now_ms();
        match tokio::task::spawn_blocking(move || store.expire_due(now)).await {
            Ok(Ok(expired)) if !expired.is_empty() => {
                tracing::warn!(
                    count = expired.len(),
                    "budget reservations expired unsettled"
                );
            }
            Ok(Err(e)) => tracing::error!("expiring budget reservations: {e}"),
            _ => {}
        }
    }
}
