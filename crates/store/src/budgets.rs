//! Budgets: limits per scope and window, spending per period, and reservations.
//!
//! A call reserves its worst-case cost before it goes upstream: [`SqliteBudgets::reserve`] checks
//! every applicable limit and raises `reserved` on all of them in one `BEGIN IMMEDIATE`
//! transaction, all or nothing, so concurrent calls can never together commit more than a limit.
//! Spending counts what was settled plus what is still reserved. [`SqliteBudgets::settle`] moves a
//! reservation's amount out of `reserved` and the actual cost into `spent`; a reservation nobody
//! settles (its request died with its process) is released by [`SqliteBudgets::expire_due`].
//! Spending is kept per period (`period_start_ms` of the window at reservation time), so a new day
//! or month starts at zero without a reset, and a late settlement lands in the period it reserved.
//!
//! The connection runs with `synchronous=NORMAL` (WAL): a commit survives a crash of the process
//! but not of the machine, which for reservations (that expire) and spending (also in the
//! ledger) is the right trade for a commit that stays off the disk's flush latency.
//!
//! Owns the `budget_*` rows; must not depend on HTTP, an async runtime, a clock (callers pass
//! `now_ms`), prices or token counting.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior, params};
use serde::{Deserialize, Serialize};
use warden_budget::{Micros, Period, ScopeKey, Window};

use crate::error::StoreError;
use crate::operators::{db_time, lock, open_migrated, stored_time};

/// A limit that applies to one call: a scope, a window and the most it may spend per period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BudgetLimit {
    /// Whose spending.
    pub scope: ScopeKey,
    /// Over which window.
    pub window: Window,
    /// The most spent (settled plus reserved) per period.
    pub limit: Micros,
}

/// A limit set by an operator, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredLimit {
    /// `kind:id`.
    pub scope: String,
    /// The window.
    pub window: Window,
    /// The limit.
    pub limit: Micros,
    /// The operator who set it.
    pub set_by: String,
    /// When, Unix milliseconds.
    pub set_ms: u64,
}

/// One limit's state in one period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    /// `kind:id`.
    pub scope: String,
    /// The window.
    pub window: Window,
    /// The period (its end is when the budget resets).
    pub period: Period,
    /// The limit (`None` when spending is shown for a scope that has no limit any more).
    pub limit: Option<Micros>,
    /// Settled spending in the period.
    pub spent: Micros,
    /// Outstanding reservations in the period.
    pub reserved: Micros,
}

impl Balance {
    /// What is left: limit − spent − reserved (zero when over).
    #[must_use]
    pub fn remaining(&self) -> Option<Micros> {
        self.limit.map(|l| l.minus(self.spent).minus(self.reserved))
    }
}

/// What to reserve: the limits that apply and the range of the amount.
#[derive(Debug, Clone, Copy)]
pub struct ReserveRequest<'a> {
    /// The scopes of the call (run, agent, team, tenant); operator-set limits on them apply.
    pub scopes: &'a [ScopeKey],
    /// Limits from configuration; an operator-set limit on the same scope and window replaces
    /// one of these.
    pub configured: &'a [BudgetLimit],
    /// The least worth reserving (the call is refused below it).
    pub min: Micros,
    /// The most to reserve (the call's worst case).
    pub max: Micros,
    /// How long the reservation lives unless settled.
    pub ttl_ms: u64,
}

/// A reservation held for one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// Its id (pass it to [`SqliteBudgets::settle`]).
    pub id: u64,
    /// The amount reserved on every line (between the request's `min` and `max`).
    pub amount: Micros,
    /// The balances after reserving.
    pub balances: Vec<Balance>,
    /// When it expires unless settled.
    pub expires_ms: u64,
}

/// A reservation settled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settlement {
    /// What had been reserved.
    pub reserved: Micros,
    /// The actual cost charged.
    pub actual: Micros,
    /// The balances after settling.
    pub balances: Vec<Balance>,
}

/// Why nothing was reserved.
#[derive(Debug, thiserror::Error)]
pub enum ReserveError {
    /// A limit has less left than the call's least cost; the first such limit (runs first, then
    /// agent, team, tenant; day before month before total).
    #[error("budget {scope} ({window}) is exhausted", scope = .0.scope, window = .0.window)]
    Exhausted(Box<Balance>),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<rusqlite::Error> for ReserveError {
    fn from(e: rusqlite::Error) -> Self {
        ReserveError::Store(StoreError::Sqlite(e))
    }
}

/// A line of a reservation, as stored with it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Line {
    scope: String,
    window: Window,
    period: Period,
    limit: Micros,
}

/// Budgets in the embedded store.
pub struct SqliteBudgets {
    path: PathBuf,
    conn: Mutex<Connection>,
}

impl fmt::Debug for SqliteBudgets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteBudgets")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteBudgets {
    /// Opens (creating if absent, running migrations) the store at `path` (`DATA_DIR/warden.db`).
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = open_migrated(path)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        Ok(SqliteBudgets {
            path: path.to_owned(),
            conn: Mutex::new(conn),
        })
    }

    /// Reserves between `min` and `max` on every applicable limit at once: the most every limit
    /// still allows, up to `max`. `Ok(None)` when no limit applies (nothing to hold).
    ///
    /// # Errors
    /// [`ReserveError::Exhausted`] naming the first limit with less than `min` left (nothing is
    /// reserved then); [`ReserveError::Store`] when the store fails.
    pub fn reserve(
        &self,
        request: &ReserveRequest<'_>,
        now_ms: u64,
    ) -> Result<Option<Reservation>, ReserveError> {
        let mut conn = lock(&self.conn);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let lines = applicable(&tx, request, now_ms)?;
        if lines.is_empty() {
            return Ok(None);
        }
        let mut balances = Vec::with_capacity(lines.len());
        let mut amount = request.max;
        for line in &lines {
            let balance = read_balance(&tx, line)?;
            let left = balance.remaining().unwrap_or(Micros::ZERO);
            if left < request.min {
                return Err(ReserveError::Exhausted(Box::new(balance)));
            }
            amount = amount.min(left);
            balances.push(balance);
        }
        {
            let mut add = tx.prepare_cached(
                "INSERT INTO budget_usage (scope, window, period_start_ms, spent_micros, reserved_micros)
                 VALUES (?1, ?2, ?3, 0, ?4)
                 ON CONFLICT(scope, window, period_start_ms)
                 DO UPDATE SET reserved_micros = reserved_micros + excluded.reserved_micros",
            )?;
            for (line, balance) in lines.iter().zip(&mut balances) {
                add.execute(params![
                    line.scope,
                    line.window.name(),
                    db_time(line.period.start_ms),
                    db_time(amount.0)
                ])?;
                balance.reserved = balance.reserved.plus(amount);
            }
        }
        let expires_ms = now_ms.saturating_add(request.ttl_ms);
        let id: i64 = tx
            .prepare_cached(
                "INSERT INTO budget_reservations (amount_micros, lines, created_ms, expires_ms)
                 VALUES (?1, ?2, ?3, ?4) RETURNING reservation_id",
            )?
            .query_row(
                params![
                    db_time(amount.0),
                    crate::operators::to_json(&lines)?,
                    db_time(now_ms),
                    db_time(expires_ms)
                ],
                |r| r.get(0),
            )?;
        tx.commit()?;
        Ok(Some(Reservation {
            id: u64::try_from(id).unwrap_or(0),
            amount,
            balances,
            expires_ms,
        }))
    }

    /// Settles reservation `id` at `actual`: its amount leaves `reserved` and `actual` joins
    /// `spent` on every line, in the periods it was reserved in. `Ok(None)` when the reservation
    /// is unknown (already settled or expired).
    pub fn settle(&self, id: u64, actual: Micros) -> Result<Option<Settlement>, StoreError> {
        let mut conn = lock(&self.conn);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let settled = settle_in(&tx, id, actual)?;
        tx.commit()?;
        Ok(settled)
    }

    /// Releases reservation `id` without charging anything.
    pub fn release(&self, id: u64) -> Result<Option<Settlement>, StoreError> {
        self.settle(id, Micros::ZERO)
    }

    /// Releases every reservation whose time is up; returns their ids.
    pub fn expire_due(&self, now_ms: u64) -> Result<Vec<u64>, StoreError> {
        let mut conn = lock(&self.conn);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let due: Vec<i64> = tx
            .prepare_cached(
                "SELECT reservation_id FROM budget_reservations WHERE expires_ms <= ?1
                 ORDER BY reservation_id",
            )?
            .query_map([db_time(now_ms)], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut expired = Vec::with_capacity(due.len());
        for id in due {
            let id = u64::try_from(id).unwrap_or(0);
            settle_in(&tx, id, Micros::ZERO)?;
            expired.push(id);
        }
        tx.commit()?;
        Ok(expired)
    }

    /// Outstanding reservations (for operators and tests).
    pub fn outstanding(&self) -> Result<u64, StoreError> {
        let n: i64 =
            lock(&self.conn)
                .query_row("SELECT COUNT(*) FROM budget_reservations", [], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Sets the limit of `scope` over `window` (replacing a configured or earlier one).
    pub fn set_limit(
        &self,
        scope: &ScopeKey,
        window: Window,
        limit: Micros,
        by: &str,
        now_ms: u64,
    ) -> Result<StoredLimit, StoreError> {
        lock(&self.conn).execute(
            "INSERT INTO budget_limits (scope, window, limit_micros, set_by, set_ms)
             VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(scope, window) DO UPDATE SET limit_micros = excluded.limit_micros,
                 set_by = excluded.set_by, set_ms = excluded.set_ms",
            params![
                scope.to_string(),
                window.name(),
                db_time(limit.0),
                by,
                db_time(now_ms)
            ],
        )?;
        Ok(StoredLimit {
            scope: scope.to_string(),
            window,
            limit,
            set_by: by.to_owned(),
            set_ms: now_ms,
        })
    }

    /// Removes an operator-set limit (a configured one applies again); `false` if none was set.
    pub fn remove_limit(&self, scope: &ScopeKey, window: Window) -> Result<bool, StoreError> {
        let n = lock(&self.conn).execute(
            "DELETE FROM budget_limits WHERE scope = ?1 AND window = ?2",
            params![scope.to_string(), window.name()],
        )?;
        Ok(n > 0)
    }

    /// Every operator-set limit, by scope and window.
    pub fn limits(&self) -> Result<Vec<StoredLimit>, StoreError> {
        let conn = lock(&self.conn);
        let mut stmt = conn.prepare_cached(
            "SELECT scope, window, limit_micros, set_by, set_ms FROM budget_limits
             ORDER BY scope, window",
        )?;
        let rows = stmt.query_map([], |r| {
            Ok(StoredLimit {
                scope: r.get(0)?,
                window: window_column(r, 1)?,
                limit: Micros(stored_time(r, 2)?),
                set_by: r.get(3)?,
                set_ms: stored_time(r, 4)?,
            })
        })?;
        Ok(rows.collect::<Result<Vec<_>, _>>()?)
    }

    /// Spending of every scope (or of `scope` only) in the periods current at `now_ms`, without
    /// limits (`limit: None`; the caller knows which apply).
    pub fn spending(
        &self,
        scope: Option<&ScopeKey>,
        now_ms: u64,
    ) -> Result<Vec<Balance>, StoreError> {
        let conn = lock(&self.conn);
        let mut stmt = conn.prepare_cached(
            "SELECT scope, window, period_start_ms, spent_micros, reserved_micros
             FROM budget_usage WHERE ?1 IS NULL OR scope = ?1 ORDER BY scope, window",
        )?;
        let rows = stmt.query_map([scope.map(ToString::to_string)], |r| {
            let window = window_column(r, 1)?;
            Ok(Balance {
                scope: r.get(0)?,
                window,
                period: Period {
                    start_ms: stored_time(r, 2)?,
                    end_ms: None,
                },
                limit: None,
                spent: Micros(stored_time(r, 3)?),
                reserved: Micros(stored_time(r, 4)?),
            })
        })?;
        let mut out = Vec::new();
        for row in rows {
            let mut balance = row?;
            let current = balance.window.period(now_ms);
            if balance.period.start_ms == current.start_ms {
                balance.period = current;
                out.push(balance);
            }
        }
        Ok(out)
    }

    /// Sets settled spending of `scope` to zero in the current period of `window` (or of every
    /// window); outstanding reservations stay. Returns the number of periods reset.
    pub fn reset(
        &self,
        scope: &ScopeKey,
        window: Option<Window>,
        now_ms: u64,
    ) -> Result<usize, StoreError> {
        let conn = lock(&self.conn);
        let mut n = 0;
        for w in Window::ALL {
            if window.is_some_and(|only| only != w) {
                continue;
            }
            n += conn.execute(
                "UPDATE budget_usage SET spent_micros = 0
                 WHERE scope = ?1 AND window = ?2 AND period_start_ms = ?3",
                params![
                    scope.to_string(),
                    w.name(),
                    db_time(w.period(now_ms).start_ms)
                ],
            )?;
        }
        Ok(n)
    }
}

/// The limits that apply: configured ones, replaced or extended by operator-set ones, in check
/// order (scope order as given, then day, month, total).
fn applicable(
    tx: &Transaction<'_>,
    request: &ReserveRequest<'_>,
    now_ms: u64,
) -> Result<Vec<Line>, StoreError> {
    let mut stmt =
        tx.prepare_cached("SELECT window, limit_micros FROM budget_limits WHERE scope = ?1")?;
    let mut lines = Vec::new();
    for scope in request.scopes {
        let key = scope.to_string();
        let stored: Vec<(Window, Micros)> = stmt
            .query_map([&key], |r| {
                Ok((window_column(r, 0)?, Micros(stored_time(r, 1)?)))
            })?
            .collect::<Result<_, _>>()?;
        for window in Window::ALL {
            let from_store = stored.iter().find(|(w, _)| *w == window).map(|(_, l)| *l);
            let configured = request
                .configured
                .iter()
                .find(|c| &c.scope == scope && c.window == window)
                .map(|c| c.limit);
            if let Some(limit) = from_store.or(configured) {
                lines.push(Line {
                    scope: key.clone(),
                    window,
                    period: window.period(now_ms),
                    limit,
                });
            }
        }
    }
    Ok(lines)
}

/// The balance of `line` in its period.
fn read_balance(tx: &Transaction<'_>, line: &Line) -> Result<Balance, StoreError> {
    let (spent, reserved) = tx
        .prepare_cached(
            "SELECT spent_micros, reserved_micros FROM budget_usage
             WHERE scope = ?1 AND window = ?2 AND period_start_ms = ?3",
        )?
        .query_row(
            params![
                line.scope,
                line.window.name(),
                db_time(line.period.start_ms)
            ],
            |r| Ok((stored_time(r, 0)?, stored_time(r, 1)?)),
        )
        .optional()?
        .unwrap_or((0, 0));
    Ok(Balance {
        scope: line.scope.clone(),
        window: line.window,
        period: line.period,
        limit: Some(line.limit),
        spent: Micros(spent),
        reserved: Micros(reserved),
    })
}

fn settle_in(
    tx: &Transaction<'_>,
    id: u64,
    actual: Micros,
) -> Result<Option<Settlement>, StoreError> {
    let found: Option<(i64, String)> = tx
        .prepare_cached(
            "DELETE FROM budget_reservations WHERE reservation_id = ?1
             RETURNING amount_micros, lines",
        )?
        .query_row([db_time(id)], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    let Some((amount, lines)) = found else {
        return Ok(None);
    };
    let reserved = Micros(u64::try_from(amount).unwrap_or(0));
    let lines: Vec<Line> = serde_json::from_str(&lines)
        .map_err(|e| StoreError::Corrupt(format!("reservation {id}: {e}")))?;
    let mut balances = Vec::with_capacity(lines.len());
    let mut update = tx.prepare_cached(
        "UPDATE budget_usage
         SET reserved_micros = MAX(reserved_micros - ?4, 0), spent_micros = spent_micros + ?5
         WHERE scope = ?1 AND window = ?2 AND period_start_ms = ?3",
    )?;
    for line in &lines {
        update.execute(params![
            line.scope,
            line.window.name(),
            db_time(line.period.start_ms),
            db_time(reserved.0),
            db_time(actual.0)
        ])?;
        balances.push(read_balance(tx, line)?);
    }
    Ok(Some(Settlement {
        reserved,
        actual,
        balances,
    }))
}

fn window_column(row: &rusqlite::Row<'_>, col: usize) -> rusqlite::Result<Window> {
    let text: String = row.get(col)?;
    text.parse()
        .map_err(|e| crate::operators::stored_value(col, e))
}
