//! The `budgets:` section: limits per scope and window in USD, price overrides, what happens to
//! a model without a price, and how long a reservation lives if its request dies.
//!
//! Without the section budgets are off: no price is needed and nothing is reserved. With it,
//! every LLM call is priced and reserved against every limit that applies to it.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use serde_saphyr::Spanned;
use warden_budget::{Micros, PriceTable, ScopeKind, UsdPrice, Window};
use warden_policy::parse_duration_ms;

use super::Validator;

/// Budget settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetSettings {
    /// Limits from configuration (operators may replace or add limits through the admin API).
    pub limits: Vec<ConfiguredLimit>,
    /// The shipped price table with the configured overrides applied.
    pub prices: PriceTable,
    /// What happens to a call to a model without a price.
    pub unpriced: Unpriced,
    /// How long a reservation lives unless settled, in milliseconds.
    pub reservation_ttl_ms: u64,
}

/// A configured limit: one scope kind, for one id or for every id of that kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfiguredLimit {
    /// The kind of scope.
    pub kind: ScopeKind,
    /// The id; `None` gives every agent, team, tenant or run its own budget of this size.
    pub id: Option<String>,
    /// The window.
    pub window: Window,
    /// The limit per period.
    pub limit: Micros,
}

/// What happens to a call to a model the price table does not know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Unpriced {
    /// Refused with an error naming the model (the default): never silently free.
    #[default]
    Refuse,
    /// Let through without reserving or charging anything (logged and recorded as unpriced).
    Allow,
}

/// `budgets:` as written.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBudgets {
    /// Limits.
    #[serde(default)]
    pub limits: Vec<RawLimit>,
    /// Prices by model, in USD per million tokens, added to or replacing the shipped table.
    #[serde(default)]
    pub prices: BTreeMap<String, RawPrice>,
    /// `refuse` (default) or `allow` calls to models without a price.
    #[serde(default)]
    pub unpriced_models: Unpriced,
    /// How long a reservation lives if its request dies without settling (default `10m`).
    pub reservation_ttl: Option<String>,
}

/// A limit as written.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLimit {
    /// `agent`, `team`, `tenant` or `run`.
    pub scope: String,
    /// The agent, team, tenant or run id; omitted: each one of that kind gets this limit.
    pub id: Option<String>,
    /// `day`, `month` or `total` (days and months in UTC).
    pub window: String,
    /// The limit in USD per window.
    pub usd: f64,
}

/// A price as written, in USD per million tokens.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPrice {
    /// Input tokens.
    pub input: f64,
    /// Input tokens read from the provider's cache (default: the input price).
    pub cached_input: Option<f64>,
    /// Output tokens.
    pub output: f64,
    /// The most output tokens the model produces (default 4096).
    pub max_output_tokens: Option<u64>,
}

/// Default reservation lifetime: ten minutes.
const DEFAULT_TTL_MS: u64 = 600_000;

impl Validator<'_> {
    pub(super) fn budgets(&mut self, raw: Option<&Spanned<RawBudgets>>) -> Option<BudgetSettings> {
        let raw = raw?;
        let at = raw.referenced;
        let r = &raw.value;
        let mut prices = match PriceTable::shipped() {
            Ok(table) => table,
            Err(e) => {
                self.problem(at, "budgets", e.to_string());
                PriceTable::default()
            }
        };
        for (model, p) in &r.prices {
            let usd = UsdPrice {
                input: p.input,
                cached_input: p.cached_input,
                output: p.output,
                max_output_tokens: p.max_output_tokens,
            };
            match usd.to_price(model) {
                Ok(price) => prices.set(model, price),
                Err(e) => self.problem(at, &format!("budgets.prices.{model}"), e.to_string()),
            }
        }
        let mut limits = Vec::new();
        for (i, l) in r.limits.iter().enumerate() {
            let field = format!("budgets.limits[{i}]");
            let kind = l.scope.parse::<ScopeKind>();
            let window = l.window.parse::<Window>();
            let limit = Micros::from_usd(l.usd);
            let id_ok =
                l.id.as_deref()
                    .is_none_or(|id| !id.is_empty() && !id.chars().any(char::is_control));
            match (kind, window, limit) {
                (Err(_), _, _) => self.problem(
                    at,
                    &format!("{field}.scope"),
                    format!("`{}` is not a scope (agent, team, tenant, run)", l.scope),
                ),
                (_, Err(e), _) => self.problem(at, &format!("{field}.window"), e.to_string()),
                (_, _, Err(e)) => self.problem(at, &format!("{field}.usd"), e.to_string()),
                _ if !id_ok => self.problem(
                    at,
                    &format!("{field}.id"),
                    "an id must be non-empty, without control characters".into(),
                ),
                (Ok(kind), Ok(window), Ok(limit)) => limits.push(ConfiguredLimit {
                    kind,
                    id: l.id.clone(),
                    window,
                    limit,
                }),
            }
        }
        let mut reservation_ttl_ms = DEFAULT_TTL_MS;
        if let Some(s) = &r.reservation_ttl {
            match parse_duration_ms(s) {
                Ok(ms) if ms > 0 => reservation_ttl_ms = ms,
                _ => self.problem(
                    at,
                    "budgets.reservation_ttl",
                    format!("`{s}` is not a duration (e.g. 10m)"),
                ),
            }
        }
        Some(BudgetSettings {
            limits,
            prices,
            unpriced: r.unpriced_models,
            reservation_ttl_ms,
        })
    }
}
