//! The budget book: the in-memory authority on spending, reservations and operator limits while
//! one process owns the store. Reserving, settling and expiring are decided here, under one
//! mutex held by [`crate::SqliteBudgets`], in microseconds and without touching the disk; the
//! store persists what the book decided behind it.
//!
//! The book holds the usage lines it has read or written since the store opened (the rest stay
//! in SQLite until a call needs them), every outstanding reservation and every operator limit.
//!
//! Owns only data structures and arithmetic; must not depend on SQLite, threads or a clock
//! (callers pass `now_ms`).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use warden_budget::{Micros, Period, Window};

use crate::budgets::{Balance, BudgetLimit, StoredLimit};

/// One limit a reservation was taken against, in the period it was taken in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Line {
    /// `kind:id`.
    pub scope: String,
    /// The window.
    pub window: Window,
    /// The period current when the reservation was taken.
    pub period: Period,
    /// The limit in force then.
    pub limit: Micros,
}

impl Line {
    /// The usage line this limit draws on.
    pub fn key(&self) -> UsageKey {
        UsageKey {
            scope: self.scope.clone(),
            window: self.window,
            period_start_ms: self.period.start_ms,
        }
    }
}

/// Spending of one scope in one period of one window.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct UsageKey {
    /// `kind:id`.
    pub scope: String,
    /// The window.
    pub window: Window,
    /// Start of the period, Unix milliseconds.
    pub period_start_ms: u64,
}

/// Settled and reserved amounts of one usage line.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Usage {
    /// Settled spending.
    pub spent: Micros,
    /// Outstanding reservations.
    pub reserved: Micros,
    /// Sequence number of the last write that carried this line to the store.
    pub written_seq: u64,
}

/// An outstanding reservation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Held {
    /// The amount held on every line.
    pub amount: Micros,
    /// The limits it was taken against.
    pub lines: Vec<Line>,
    /// When it expires unless settled.
    pub expires_ms: u64,
}

/// The in-memory state of the budgets.
#[derive(Debug, Default)]
pub(crate) struct BudgetBook {
    limits: HashMap<(String, Window), StoredLimit>,
    usage: HashMap<UsageKey, Usage>,
    held: BTreeMap<u64, Held>,
    next_id: u64,
    next_seq: u64,
}

impl BudgetBook {
    /// A book over the store's operator limits and outstanding reservations; new reservation ids
    /// start after `last_id`.
    pub fn new(limits: Vec<StoredLimit>, held: BTreeMap<u64, Held>, last_id: u64) -> BudgetBook {
        let last_held = held.keys().next_back().copied().unwrap_or(0);
        BudgetBook {
            limits: limits
                .into_iter()
                .map(|l| ((l.scope.clone(), l.window), l))
                .collect(),
            usage: HashMap::new(),
            held,
            next_id: last_id.max(last_held).saturating_add(1),
            next_seq: 1,
        }
    }

    /// The sequence number of the next write to the store.
    pub fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq = self.next_seq.saturating_add(1);
        seq
    }

    /// Whether the book holds `key` (otherwise the store has to be asked).
    pub fn knows(&self, key: &UsageKey) -> bool {
        self.usage.contains_key(key)
    }

    /// Takes in a usage line read from the store (kept as is when the book already holds it).
    pub fn load(&mut self, key: UsageKey, usage: Usage) {
        self.usage.entry(key).or_insert(usage);
    }

    /// The usage of `key` (zero when nothing was ever spent or reserved on it).
    pub fn usage(&self, key: &UsageKey) -> Usage {
        self.usage.get(key).copied().unwrap_or_default()
    }

    /// The limits that apply: configured ones, replaced or extended by operator-set ones, in
    /// check order (scope order as given, then day, month, total).
    pub fn applicable(
        &self,
        scopes: &[warden_budget::ScopeKey],
        configured: &[BudgetLimit],
        now_ms: u64,
    ) -> Vec<Line> {
        let mut lines = Vec::new();
        for scope in scopes {
            let key = scope.to_string();
            for window in Window::ALL {
                let from_operator = self
                    .limits
                    .get(&(key.clone(), window))
                    .map(|stored| stored.limit);
                let from_config = configured
                    .iter()
                    .find(|c| &c.scope == scope && c.window == window)
                    .map(|c| c.limit);
                if let Some(limit) = from_operator.or(from_config) {
                    lines.push(Line {
                        scope: key.clone(),
                        window,
                        period: window.period(now_ms),
                        limit,
                    });
                }
            }
        }
        lines
    }

    /// The balance of `line` now.
    pub fn balance(&self, line: &Line) -> Balance {
        let usage = self.usage(&line.key());
        Balance {
            scope: line.scope.clone(),
            window: line.window,
            period: line.period,
            limit: Some(line.limit),
            spent: usage.spent,
            reserved: usage.reserved,
        }
    }

    /// Reserves between `min` and `max` on every line at once (the most every line still allows),
    /// marking the lines written by `seq`. Returns the reservation id, amount and the balances
    /// after it.
    ///
    /// # Errors
    /// The balance of the first line with less than `min` left; nothing is reserved then.
    pub fn reserve(
        &mut self,
        lines: Vec<Line>,
        (min, max): (Micros, Micros),
        expires_ms: u64,
        seq: u64,
    ) -> Result<(u64, Micros, Vec<Balance>), Box<Balance>> {
        let mut amount = max;
        let mut balances = Vec::with_capacity(lines.len());
        for line in &lines {
            let balance = self.balance(line);
            let left = balance.remaining().unwrap_or(Micros::ZERO);
            if left < min {
                return Err(Box::new(balance));
            }
            amount = amount.min(left);
            balances.push(balance);
        }
        for (line, balance) in lines.iter().zip(&mut balances) {
            let usage = self.usage.entry(line.key()).or_default();
            usage.reserved = usage.reserved.plus(amount);
            usage.written_seq = seq;
            balance.reserved = usage.reserved;
        }
        let id = self.next_id;
        self.next_id = self.next_id.saturating_add(1);
        self.held.insert(
            id,
            Held {
                amount,
                lines,
                expires_ms,
            },
        );
        Ok((id, amount, balances))
    }

    /// The lines of reservation `id`, if it is outstanding.
    pub fn held_lines(&self, id: u64) -> Option<&[Line]> {
        self.held.get(&id).map(|h| h.lines.as_slice())
    }

    /// Settles reservation `id` at `actual`: its amount leaves `reserved`, `actual` joins `spent`
    /// on every line. Returns what was reserved and the lines with their balances after it, or
    /// `None` when the reservation is not outstanding.
    pub fn settle(
        &mut self,
        id: u64,
        actual: Micros,
        seq: u64,
    ) -> Option<(Micros, Vec<Line>, Vec<Balance>)> {
        let held = self.held.remove(&id)?;
        let mut balances = Vec::with_capacity(held.lines.len());
        for line in &held.lines {
            let usage = self.usage.entry(line.key()).or_default();
            usage.reserved = usage.reserved.minus(held.amount);
            usage.spent = usage.spent.plus(actual);
            usage.written_seq = seq;
            balances.push(self.balance(line));
        }
        Some((held.amount, held.lines, balances))
    }

    /// Reservations whose time is up at `now_ms`, oldest id first.
    pub fn due(&self, now_ms: u64) -> Vec<u64> {
        self.held
            .iter()
            .filter(|(_, h)| h.expires_ms <= now_ms)
            .map(|(id, _)| *id)
            .collect()
    }

    /// Outstanding reservations.
    pub fn outstanding(&self) -> usize {
        self.held.len()
    }

    /// Sets an operator limit.
    pub fn set_limit(&mut self, limit: StoredLimit) {
        self.limits
            .insert((limit.scope.clone(), limit.window), limit);
    }

    /// Removes an operator limit; whether there was one.
    pub fn remove_limit(&mut self, scope: &str, window: Window) -> bool {
        self.limits.remove(&(scope.to_owned(), window)).is_some()
    }

    /// Every operator limit, by scope and window.
    pub fn limits(&self) -> Vec<StoredLimit> {
        let mut out: Vec<StoredLimit> = self.limits.values().cloned().collect();
        out.sort_by(|a, b| (&a.scope, a.window).cmp(&(&b.scope, b.window)));
        out
    }

    /// Sets settled spending of `key` to zero (marking it written by `seq`); whether the line
    /// existed.
    pub fn reset(&mut self, key: &UsageKey, seq: u64) -> bool {
        match self.usage.get_mut(key) {
            Some(usage) => {
                usage.spent = Micros::ZERO;
                usage.written_seq = seq;
                true
            }
            None => false,
        }
    }

    /// Every usage line the book holds in the periods current at `now_ms` (of `scope` only,
    /// when given).
    pub fn current(&self, scope: Option<&str>, now_ms: u64) -> Vec<(UsageKey, Usage)> {
        self.usage
            .iter()
            .filter(|(k, _)| scope.is_none_or(|s| s == k.scope))
            .filter(|(k, _)| k.window.period(now_ms).start_ms == k.period_start_ms)
            .map(|(k, u)| (k.clone(), *u))
            .collect()
    }

    /// Forgets usage lines the store already holds as they are (written by a sequence number up
    /// to `durable_seq`) and no outstanding reservation draws on, so the book does not grow with
    /// every run and period ever seen. Returns how many were forgotten.
    pub fn forget_settled(&mut self, durable_seq: u64) -> usize {
        let drawn: HashSet<UsageKey> = self
            .held
            .values()
            .flat_map(|h| h.lines.iter().map(Line::key))
            .collect();
        let before = self.usage.len();
        self.usage
            .retain(|k, u| u.written_seq > durable_seq || drawn.contains(k));
        before - self.usage.len()
    }
}
