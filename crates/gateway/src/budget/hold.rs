//! One call's reservation, from the moment it is taken until it is settled. A [`Hold`] is
//! settled exactly once: by [`Hold::settle`] when the call ends (from the provider's usage
//! figures, or what can be known of them), or, if it is dropped unsettled (the request failed
//! before an answer), released at no cost. Settlement and its spend record are handed to the
//! settler thread after the answer, off the request's path; a process that dies leaves its
//! reservations to expire.

use std::sync::{Arc, OnceLock};

use warden_budget::{Micros, Price, TokenCounter};
use warden_ledger as ledger;
use warden_llm::Usage;
use warden_store::Reservation;

use super::meter::TokenMeter;
use super::settler::Settle;
use super::{Budgets, CallFacts, actor};

/// How a call ended, for settlement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// A complete answer.
    Complete,
    /// A stream ended by Warden when its reservation was spent.
    Cut,
    /// The call failed or was abandoned after the provider started answering.
    Aborted,
}

/// A call's input tokens as far as they are known.
#[derive(Debug, Clone)]
pub(super) struct InputTokens {
    /// What the reservation was sized by (the bound, or the exact count).
    pub(super) estimate: u64,
    /// The exact count when it is known: at once when the reservation was sized by it,
    /// otherwise filled in by a background tokenizer pass soon after the call starts.
    pub(super) exact: Arc<OnceLock<u64>>,
}

/// A reservation held for one call.
pub struct Hold {
    budgets: Arc<Budgets>,
    reservation: Reservation,
    price: Price,
    model: String,
    input: InputTokens,
    /// The output-token limit the reservation pays for (the request's `max_tokens`).
    pub max_tokens: u64,
    counter: TokenCounter,
    actor: ledger::Actor,
    decision_id: Option<String>,
    settled: bool,
}

impl std::fmt::Debug for Hold {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hold")
            .field("reservation", &self.reservation.id)
            .field("amount", &self.reservation.amount)
            .field("max_tokens", &self.max_tokens)
            .finish_non_exhaustive()
    }
}

impl Hold {
    pub(super) fn new(
        budgets: Arc<Budgets>,
        call: &CallFacts<'_>,
        reservation: Reservation,
        price: Price,
        input: InputTokens,
        max_tokens: u64,
        counter: TokenCounter,
    ) -> Hold {
        Hold {
            budgets,
            reservation,
            price,
            model: call.model.to_owned(),
            input,
            max_tokens,
            counter,
            actor: actor(call.identity),
            decision_id: None,
            settled: false,
        }
    }

    /// The input tokens charged when the provider reports none: the exact count once known,
    /// the estimate the reservation was sized by until then.
    fn input_tokens(&self) -> u64 {
        self.input
            .exact
            .get()
            .copied()
            .unwrap_or(self.input.estimate)
    }

    /// The amount reserved.
    #[must_use]
    pub fn amount(&self) -> Micros {
        self.reservation.amount
    }

    /// Names the request decision record the spend record points to.
    pub fn set_decision_id(&mut self, id: &str) {
        self.decision_id = Some(id.to_owned());
    }

    /// A meter for the call's stream.
    #[must_use]
    pub fn meter(&self) -> TokenMeter {
        TokenMeter::new(self.counter, self.max_tokens)
    }

    /// What the call cost. A complete answer or a cut stream: the provider's figures when it
    /// reported output tokens (charged as reported, even above the reservation), otherwise the
    /// whole reservation (the provider may have produced up to `max_tokens`). An aborted call:
    /// its input and the larger of the output reported and the output metered before it ended,
    /// never more than the reservation; nothing when neither input nor output was seen.
    #[must_use]
    pub fn cost(&self, usage: Usage, metered_output: u64, ending: Ending) -> Micros {
        let input = usage.input_tokens.unwrap_or_else(|| self.input_tokens());
        let cached = usage.cached_input_tokens.unwrap_or(0);
        match (ending, usage.output_tokens) {
            (Ending::Complete | Ending::Cut, Some(output)) => {
                self.price.cost(input, cached, output)
            }
            (Ending::Complete | Ending::Cut, None) => self.reservation.amount,
            (Ending::Aborted, reported) => {
                let output = reported.unwrap_or(0).max(metered_output);
                if output == 0 && usage.input_tokens.is_none() {
                    Micros::ZERO
                } else {
                    self.price
                        .cost(input, cached, output)
                        .min(self.reservation.amount)
                }
            }
        }
    }

    /// Settles the call: in the budgets at once, then in the tables and the ledger (its spend
    /// record) in the background (see [`super::settler`]).
    pub fn settle(mut self, usage: Usage, metered_output: u64, ending: Ending) {
        let actual = self.cost(usage, metered_output, ending);
        let outcome = match ending {
            Ending::Complete => ledger::SpendOutcome::Settled,
            Ending::Cut => ledger::SpendOutcome::Cut,
            Ending::Aborted => ledger::SpendOutcome::Aborted,
        };
        self.finish(actual, usage, outcome, None);
    }

    fn finish(
        &mut self,
        actual: Micros,
        usage: Usage,
        outcome: ledger::SpendOutcome,
        reason: Option<String>,
    ) {
        self.settled = true;
        let budgets = self.budgets.clone();
        let id = self.reservation.id;
        let reserved = self.reservation.amount;
        let spend = ledger::BudgetSpend {
            decision_id: self.decision_id.take(),
            model: std::mem::take(&mut self.model),
            outcome,
            reserved_micro_usd: reserved.0,
            settled_micro_usd: actual.0,
            input_tokens: usage.input_tokens.or_else(|| Some(self.input_tokens())),
            cached_input_tokens: usage.cached_input_tokens,
            output_tokens: usage.output_tokens,
            balances: Vec::new(),
            reason,
        };
        let actor = std::mem::take(&mut self.actor);
        // In the book at once, so the next call sees the money back; durable behind it.
        let settled = budgets.store.settle_behind(id, actual);
        budgets.settler().submit(Settle {
            settled,
            spend,
            actor,
        });
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        if !self.settled {
            let reason = "the request ended before the provider answered".to_owned();
            self.finish(
                Micros::ZERO,
                Usage::default(),
                ledger::SpendOutcome::Aborted,
                Some(reason),
            );
        }
    }
}
