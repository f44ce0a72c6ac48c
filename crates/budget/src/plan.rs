//! Sizing one reservation: the least a call can cost (its input and one output token) and the
//! most (its input and every output token it may produce, capped by a per-call limit), and, once
//! the store has reserved an amount between the two, the `max_tokens` that amount pays for.

use crate::money::Micros;
use crate::prices::Price;

/// What a reservation is sized from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sizing {
    /// Input tokens (an upper bound: counted over the whole request body).
    pub input_tokens: u64,
    /// The output-token limit the agent set, if any.
    pub requested_max_tokens: Option<u64>,
    /// The model's price.
    pub price: Price,
    /// A cap on this one call (the policy constraint `max_cost_usd`).
    pub call_cap: Option<Micros>,
}

/// The range a reservation may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// The least worth reserving: the input and one output token.
    pub min: Micros,
    /// The worst case: the input and every output token allowed.
    pub max: Micros,
}

/// A call no reservation can cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The per-call cap is below the cost of the input and one output token.
    #[error("this call needs at least {needed} but its policy caps it at {cap} (max_cost_usd)")]
    CapTooLow {
        /// The cap.
        cap: Micros,
        /// The least the call costs.
        needed: Micros,
    },
}

impl Sizing {
    /// The output tokens asked for: the agent's limit, else the model's ceiling.
    #[must_use]
    pub fn wanted_output(&self) -> u64 {
        self.requested_max_tokens
            .unwrap_or(self.price.max_output_tokens)
    }

    /// The cost of the input and every output token asked for, before any per-call cap.
    #[must_use]
    pub fn worst(&self) -> Micros {
        self.price
            .cost(self.input_tokens, 0, self.wanted_output().max(1))
    }

    /// The range to reserve in.
    ///
    /// # Errors
    /// [`PlanError::CapTooLow`] when the per-call cap cannot pay for one output token.
    pub fn plan(&self) -> Result<Plan, PlanError> {
        let min = self.price.cost(self.input_tokens, 0, 1);
        let worst = self.worst();
        let max = match self.call_cap {
            Some(cap) if cap < min => return Err(PlanError::CapTooLow { cap, needed: min }),
            Some(cap) => worst.min(cap),
            None => worst,
        };
        Ok(Plan { min, max })
    }

    /// The `max_tokens` a reservation of `reserved` pays for (at least 1 when `reserved` is at
    /// least [`Plan::min`]), never more than was asked for.
    #[must_use]
    pub fn max_tokens_for(&self, reserved: Micros) -> u64 {
        self.price
            .affordable_output(self.input_tokens, reserved)
            .min(self.wanted_output().max(1))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn sizing(requested: Option<u64>, cap: Option<u64>) -> Sizing {
        Sizing {
            input_tokens: 100,
            requested_max_tokens: requested,
            price: Price {
                input: Micros(1_000_000), // $1 / M: 1 micro-dollar per token
                cached_input: Micros(100_000),
                output: Micros(2_000_000), // 2 micro-dollars per token
                max_output_tokens: 500,
            },
            call_cap: cap.map(Micros),
        }
    }

    #[test]
    fn the_worst_case_is_input_plus_every_allowed_output_token() {
        assert_eq!(
            sizing(Some(50), None).plan(),
            Ok(Plan {
                min: Micros(102),
                max: Micros(200)
            })
        );
        // No limit asked: the model's ceiling.
        assert_eq!(sizing(None, None).plan().unwrap().max, Micros(1100));
    }

    #[test]
    fn a_per_call_cap_lowers_the_worst_case_or_refuses() {
        assert_eq!(sizing(None, Some(300)).plan().unwrap().max, Micros(300));
        assert_eq!(
            sizing(None, Some(101)).plan(),
            Err(PlanError::CapTooLow {
                cap: Micros(101),
                needed: Micros(102)
            })
        );
    }

    #[test]
    fn max_tokens_follow_what_was_reserved() {
        let s = sizing(Some(50), None);
        assert_eq!(s.max_tokens_for(Micros(200)), 50);
        assert_eq!(s.max_tokens_for(Micros(150)), 25);
        assert_eq!(s.max_tokens_for(Micros(102)), 1);
        assert_eq!(s.max_tokens_for(Micros(1_000_000)), 50);
    }
}
