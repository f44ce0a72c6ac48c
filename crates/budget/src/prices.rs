//! The price table: per model, what a million input, cached-input and output tokens cost, and
//! the most output tokens the model produces. The shipped table (`prices.json`, embedded) is the
//! base; operators override or add models. Costs are computed in integer micro-dollars and
//! rounded up once per call, so a reservation is never below the true cost.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::money::{MICROS_PER_USD, Micros, MoneyError};

/// The shipped price table.
const SHIPPED: &str = include_str!("../prices.json");

/// Output-token ceiling for a model whose price names none.
pub const DEFAULT_MAX_OUTPUT_TOKENS: u64 = 4096;

/// One model's prices, in micro-dollars per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Price {
    /// Per million input tokens.
    pub input: Micros,
    /// Per million input tokens served from the provider's prompt cache.
    pub cached_input: Micros,
    /// Per million output tokens.
    pub output: Micros,
    /// The most output tokens the model produces in one response (used as `max_tokens` when a
    /// request sets none and the budget allows it).
    pub max_output_tokens: u64,
}

/// A price entry as written, in USD per million tokens.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsdPrice {
    /// USD per million input tokens.
    pub input: f64,
    /// USD per million cached input tokens (defaults to the input price).
    #[serde(default)]
    pub cached_input: Option<f64>,
    /// USD per million output tokens.
    pub output: f64,
    /// Output-token ceiling (defaults to 4096).
    #[serde(default)]
    pub max_output_tokens: Option<u64>,
}

/// A price that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PriceError {
    /// One of the amounts is not a valid amount of USD.
    #[error("model `{model}`: {source}")]
    Amount {
        /// The model.
        model: String,
        /// What is wrong with the amount.
        source: MoneyError,
    },
    /// `max_output_tokens` is zero.
    #[error("model `{0}`: max_output_tokens must be at least 1")]
    NoOutput(String),
    /// The shipped table does not parse (a build defect, reported rather than panicking).
    #[error("the shipped price table is malformed: {0}")]
    Shipped(String),
}

#[derive(Deserialize)]
struct ShippedTable {
    models: BTreeMap<String, UsdPrice>,
}

impl UsdPrice {
    /// Converts to micro-dollars.
    ///
    /// # Errors
    /// [`PriceError`] naming `model` when an amount is out of range or no output is allowed.
    pub fn to_price(self, model: &str) -> Result<Price, PriceError> {
        let money = |usd: f64| {
            Micros::from_usd(usd).map_err(|source| PriceError::Amount {
                model: model.to_owned(),
                source,
            })
        };
        let max_output_tokens = self.max_output_tokens.unwrap_or(DEFAULT_MAX_OUTPUT_TOKENS);
        if max_output_tokens == 0 {
            return Err(PriceError::NoOutput(model.to_owned()));
        }
        Ok(Price {
            input: money(self.input)?,
            cached_input: money(self.cached_input.unwrap_or(self.input))?,
            output: money(self.output)?,
            max_output_tokens,
        })
    }
}

impl Price {
    /// The cost of a call, rounded up to the next micro-dollar. `cached` input tokens are the
    /// part of `input` served from cache (charged at the cached price instead).
    #[must_use]
    pub fn cost(&self, input: u64, cached: u64, output: u64) -> Micros {
        let cached = cached.min(input);
        let nano = u128::from(input - cached) * u128::from(self.input.0)
            + u128::from(cached) * u128::from(self.cached_input.0)
            + u128::from(output) * u128::from(self.output.0);
        let micros = nano.div_ceil(u128::from(MICROS_PER_USD));
        Micros(u64::try_from(micros).unwrap_or(u64::MAX))
    }

    /// The most output tokens `budget` pays for after `input` uncached tokens (0 when the input
    /// alone costs more). Free output is capped at the model's ceiling.
    #[must_use]
    pub fn affordable_output(&self, input: u64, budget: Micros) -> u64 {
        // In millionths of a micro-dollar, unrounded, so that a budget of exactly
        // `cost(input, 0, n)` pays for `n` tokens.
        let input_nano = u128::from(input) * u128::from(self.input.0);
        let Some(left) =
            (u128::from(budget.0) * u128::from(MICROS_PER_USD)).checked_sub(input_nano)
        else {
            return 0;
        };
        if self.output.0 == 0 {
            return self.max_output_tokens;
        }
        let tokens = left / u128::from(self.output.0);
        u64::try_from(tokens).unwrap_or(u64::MAX)
    }
}

/// Prices by model name.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PriceTable {
    models: BTreeMap<String, Price>,
}

impl PriceTable {
    /// The table shipped with Warden.
    ///
    /// # Errors
    /// [`PriceError::Shipped`] if the embedded table does not parse (caught by this crate's
    /// tests).
    pub fn shipped() -> Result<PriceTable, PriceError> {
        let raw: ShippedTable =
            serde_json::from_str(SHIPPED).map_err(|e| PriceError::Shipped(e.to_string()))?;
        let mut table = PriceTable::default();
        for (model, usd) in &raw.models {
            table.set(model, usd.to_price(model)?);
        }
        Ok(table)
    }

    /// Sets (adds or replaces) the price of `model`.
    pub fn set(&mut self, model: &str, price: Price) {
        self.models.insert(model.to_owned(), price);
    }

    /// The price of `model` and the table entry it came from: the exact name, else the longest
    /// listed name that `model` extends with `-…` (dated and suffixed names such as
    /// `gpt-4o-2024-08-06` or `claude-sonnet-4-5-20250929`). A provider prefix (`openai/`) is
    /// ignored.
    #[must_use]
    pub fn lookup<'a>(&'a self, model: &str) -> Option<(&'a str, &'a Price)> {
        let bare = model.rsplit_once('/').map_or(model, |(_, name)| name);
        for name in [model, bare] {
            if let Some((key, price)) = self.models.get_key_value(name) {
                return Some((key.as_str(), price));
            }
        }
        self.models
            .iter()
            .filter(|(key, _)| {
                bare.strip_prefix(key.as_str())
                    .is_some_and(|rest| rest.starts_with('-'))
            })
            .max_by_key(|(key, _)| key.len())
            .map(|(key, price)| (key.as_str(), price))
    }

    /// Number of models priced.
    #[must_use]
    pub fn len(&self) -> usize {
        self.models.len()
    }

    /// Whether no model is priced.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.models.is_empty()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn price(input: u64, cached: u64, output: u64) -> Price {
        Price {
            input: Micros(input),
            cached_input: Micros(cached),
            output: Micros(output),
            max_output_tokens: 1000,
        }
    }

    #[test]
    fn the_shipped_table_parses_and_prices_known_models() {
        let table = PriceTable::shipped().unwrap();
        assert!(table.len() >= 10);
        let (_, mini) = table.lookup("gpt-4o-mini").unwrap();
        assert_eq!(mini.input, Micros(150_000));
        assert_eq!(mini.output, Micros(600_000));
    }

    #[test]
    fn dated_names_take_their_longest_prefix() {
        let table = PriceTable::shipped().unwrap();
        assert_eq!(table.lookup("gpt-4o-2024-08-06").unwrap().0, "gpt-4o");
        assert_eq!(
            table.lookup("gpt-4o-mini-2024-07-18").unwrap().0,
            "gpt-4o-mini"
        );
        assert_eq!(
            table.lookup("claude-sonnet-4-5-20250929").unwrap().0,
            "claude-sonnet-4-5"
        );
        assert_eq!(table.lookup("openai/gpt-4.1").unwrap().0, "gpt-4.1");
        assert!(table.lookup("gpt-4oops").is_none());
        assert!(table.lookup("llama-3").is_none());
    }

    #[test]
    fn cost_is_exact_and_rounds_up_once() {
        // $0.15 / $0.075 / $0.60 per million.
        let p = price(150_000, 75_000, 600_000);
        assert_eq!(p.cost(1_000_000, 0, 0), Micros(150_000));
        assert_eq!(p.cost(0, 0, 1_000_000), Micros(600_000));
        assert_eq!(p.cost(1_000_000, 1_000_000, 0), Micros(75_000));
        // 10 input + 10 output tokens = 1.5 + 6 = 7.5 micro-dollars, rounded up to 8.
        assert_eq!(p.cost(10, 0, 10), Micros(8));
        assert_eq!(p.cost(0, 0, 0), Micros(0));
    }

    #[test]
    fn affordable_output_never_exceeds_the_budget() {
        let p = price(3_000_000, 300_000, 15_000_000);
        for budget in [0, 1, 7, 100, 12_345, 1_000_000] {
            for input in [0, 1, 50, 3000] {
                let out = p.affordable_output(input, Micros(budget));
                if out > 0 {
                    assert!(p.cost(input, 0, out) <= Micros(budget), "{budget} {input}");
                }
                assert!(
                    p.cost(input, 0, out + 1) > Micros(budget),
                    "{budget} {input}"
                );
            }
        }
    }

    #[test]
    fn a_budget_of_exactly_the_cost_of_n_tokens_pays_for_at_least_n() {
        // $0.15 / $0.60 per million: 36 input tokens cost 5.4 micro-dollars, rounded up they
        // alone would leave nothing of 6 for the one output token 6 pays for.
        let p = price(150_000, 75_000, 600_000);
        for input in [0, 1, 36, 37, 1_000] {
            for n in [1, 2, 10, 999] {
                let out = p.affordable_output(input, p.cost(input, 0, n));
                assert!(out >= n, "{input} {n}: {out}");
            }
        }
    }

    #[test]
    fn overrides_replace_and_add() {
        let mut table = PriceTable::shipped().unwrap();
        table.set("gpt-4o", price(1, 1, 1));
        table.set("mock-model", price(2, 2, 2));
        assert_eq!(
            table.lookup("gpt-4o-2024-08-06").unwrap().1.input,
            Micros(1)
        );
        assert_eq!(table.lookup("mock-model").unwrap().1.output, Micros(2));
    }

    #[test]
    fn bad_prices_are_named() {
        let usd = UsdPrice {
            input: -1.0,
            cached_input: None,
            output: 1.0,
            max_output_tokens: None,
        };
        assert!(matches!(usd.to_price("m"), Err(PriceError::Amount { model, .. }) if model == "m"));
        let none = UsdPrice {
            input: 1.0,
            cached_input: None,
            output: 1.0,
            max_output_tokens: Some(0),
        };
        assert_eq!(none.to_price("m"), Err(PriceError::NoOutput("m".into())));
    }
}
