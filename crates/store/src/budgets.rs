//! Budgets: limits per scope and window, spending per period, and reservations.
//!
//! A call reserves its worst-case cost before it goes upstream: [`SqliteBudgets::reserve`] checks
//! every applicable limit and raises `reserved` on all of them at once, all or nothing, so
//! concurrent calls can never together commit more than a limit. Spending counts what was
//! settled plus what is still reserved. [`SqliteBudgets::settle`] moves a reservation's amount out
//! of `reserved` and the actual cost into `spent`; a reservation nobody settles (its request died)
//! is released by [`SqliteBudgets::expire_due`]. Spending is kept per period (`period_start_ms`
//! of the window at reservation time), so a new day or month starts at zero without a reset, and
//! a late settlement lands in the period it reserved.
//!
//! One process owns the budget tables of a store (the `warden serve` that opened it), so the
//! decisions are made in memory, in the [`BudgetBook`] under one mutex, and the tables follow
//! behind (see [`crate::budget_writer`]): a reservation never waits for the disk or for the
//! ledger's write lock. Settlements and operator changes return once they are committed
//! (`synchronous=NORMAL`, WAL: they survive a crash of the process, not of the machine). A crash
//! can lose reservations queued in the last moments, which belonged to requests that died with
//! the process and would have been released at no cost anyway; the reservations that did reach
//! the tables are loaded again at the next start and expire.
//!
//! Owns the `budget_*` rows; must not depend on HTTP, an async runtime, a clock (callers pass
//! `now_ms`), prices or token counting.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard, PoisonError};

use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use warden_budget::{Micros, Period, ScopeKey, Window};

use crate::budget_book::{BudgetBook, Held, Line, Usage, UsageKey};
use crate::budget_writer::{BudgetWriter, Write, wait};
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

/// Budgets in the embedded store, decided in memory by the process that opened it.
pub struct SqliteBudgets {
    path: PathBuf,
    book: Mutex<BudgetBook>,
    /// Reads usage lines the book does not hold (only under the book's lock).
    reader: Mutex<Connection>,
    writer: BudgetWriter,
}

impl fmt::Debug for SqliteBudgets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteBudgets")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl SqliteBudgets {
    /// Opens (creating if absent, running migrations) the store at `path` (`DATA_DIR/warden.db`)
    /// and loads its operator limits and outstanding reservations. Only one `SqliteBudgets` may
    /// be open on a database at a time: it is the authority on the budget tables.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let reader = open_migrated(path)?;
        let book = BudgetBook::new(
            read_limits(&reader)?,
            read_reservations(&reader)?,
            last_reservation_id(&reader)?,
        );
        Ok(SqliteBudgets {
            path: path.to_owned(),
            book: Mutex::new(book),
            reader: Mutex::new(reader),
            writer: BudgetWriter::start(path)?,
        })
    }

    /// Reserves between `min` and `max` on every applicable limit at once: the most every limit
    /// still allows, up to `max`. `Ok(None)` when no limit applies (nothing to hold). Decided in
    /// memory; the reservation is written to the tables behind the caller.
    ///
    /// # Errors
    /// [`ReserveError::Exhausted`] naming the first limit with less than `min` left (nothing is
    /// reserved then); [`ReserveError::Store`] when a usage line could not be read.
    pub fn reserve(
        &self,
        request: &ReserveRequest<'_>,
        now_ms: u64,
    ) -> Result<Option<Reservation>, ReserveError> {
        let mut book = self.book();
        let lines = book.applicable(request.scopes, request.configured, now_ms);
        if lines.is_empty() {
            return Ok(None);
        }
        self.load_lines(&mut book, &lines)?;
        let expires_ms = now_ms.saturating_add(request.ttl_ms);
        let seq = book.take_seq();
        let (id, amount, balances) = book
            .reserve(lines.clone(), (request.min, request.max), expires_ms, seq)
            .map_err(ReserveError::Exhausted)?;
        let usage = usage_of(&book, &lines);
        self.writer.queue(
            seq,
            vec![
                Write::Usage(usage),
                Write::Reserve {
                    id,
                    amount,
                    lines,
                    created_ms: now_ms,
                    expires_ms,
                },
            ],
        );
        Ok(Some(Reservation {
            id,
            amount,
            balances,
            expires_ms,
        }))
    }

    /// Settles reservation `id` at `actual`: its amount leaves `reserved` and `actual` joins
    /// `spent` on every line, in the periods it was reserved in. `Ok(None)` when the reservation
    /// is unknown (already settled or expired). Returns once the settlement is committed.
    ///
    /// # Errors
    /// The store could not read a usage line, or could not commit the settlement (it stands in
    /// memory all the same).
    pub fn settle(&self, id: u64, actual: Micros) -> Result<Option<Settlement>, StoreError> {
        let mut book = self.book();
        let Some(settlement) = self.settle_in(&mut book, id, actual)? else {
            return Ok(None);
        };
        self.committed(book)?;
        Ok(Some(settlement))
    }

    /// Releases reservation `id` without charging anything.
    pub fn release(&self, id: u64) -> Result<Option<Settlement>, StoreError> {
        self.settle(id, Micros::ZERO)
    }

    /// Settles reservation `id` at `actual` like [`SqliteBudgets::settle`], without waiting for
    /// the tables: the settlement is written behind, and a later [`SqliteBudgets::flush`] (or
    /// any waiting change) returns once it is committed. For callers that settle many
    /// reservations and wait once, or take back a reservation just made at no cost.
    ///
    /// # Errors
    /// A usage line of the reservation could not be read.
    pub fn settle_behind(&self, id: u64, actual: Micros) -> Result<Option<Settlement>, StoreError> {
        let mut book = self.book();
        self.settle_in(&mut book, id, actual)
    }

    /// Releases every reservation whose time is up; returns their ids. Also lets the book forget
    /// usage lines that are safely in the tables and held by no reservation.
    pub fn expire_due(&self, now_ms: u64) -> Result<Vec<u64>, StoreError> {
        let mut book = self.book();
        let due = book.due(now_ms);
        for id in &due {
            self.settle_in(&mut book, *id, Micros::ZERO)?;
        }
        book.forget_settled(self.writer.durable_seq());
        Ok(due)
    }

    /// Outstanding reservations (for operators and tests).
    pub fn outstanding(&self) -> Result<u64, StoreError> {
        Ok(u64::try_from(self.book().outstanding()).unwrap_or(u64::MAX))
    }

    /// Waits until every change made so far is committed to the tables.
    ///
    /// # Errors
    /// A write since the last wait failed.
    pub fn flush(&self) -> Result<(), StoreError> {
        wait(&self.writer.barrier())
    }

    /// Sets the limit of `scope` over `window` (replacing a configured or earlier one). In force
    /// for the next reservation; returns once committed.
    pub fn set_limit(
        &self,
        scope: &ScopeKey,
        window: Window,
        limit: Micros,
        by: &str,
        now_ms: u64,
    ) -> Result<StoredLimit, StoreError> {
        let stored = StoredLimit {
            scope: scope.to_string(),
            window,
            limit,
            set_by: by.to_owned(),
            set_ms: now_ms,
        };
        let mut book = self.book();
        book.set_limit(stored.clone());
        let seq = book.take_seq();
        self.writer.queue(seq, vec![Write::Limit(stored.clone())]);
        self.committed(book)?;
        Ok(stored)
    }

    /// Removes an operator-set limit (a configured one applies again); `false` if none was set.
    pub fn remove_limit(&self, scope: &ScopeKey, window: Window) -> Result<bool, StoreError> {
        let key = scope.to_string();
        let mut book = self.book();
        let removed = book.remove_limit(&key, window);
        let seq = book.take_seq();
        self.writer.queue(seq, vec![Write::Unlimit(key, window)]);
        self.committed(book)?;
        Ok(removed)
    }

    /// Every operator-set limit, by scope and window.
    pub fn limits(&self) -> Result<Vec<StoredLimit>, StoreError> {
        Ok(self.book().limits())
    }

    /// Spending of every scope (or of `scope` only) in the periods current at `now_ms`, without
    /// limits (`limit: None`; the caller knows which apply), ordered by scope and window.
    pub fn spending(
        &self,
        scope: Option<&ScopeKey>,
        now_ms: u64,
    ) -> Result<Vec<Balance>, StoreError> {
        let scope = scope.map(ToString::to_string);
        let book = self.book();
        // The tables hold every line the book does not; the book's figures win where both do.
        let mut current: BTreeMap<UsageKey, Usage> =
            read_current(&lock(&self.reader), scope.as_deref(), now_ms)?;
        current.extend(book.current(scope.as_deref(), now_ms));
        drop(book);
        Ok(current
            .into_iter()
            .map(|(key, usage)| Balance {
                period: key.window.period(now_ms),
                scope: key.scope,
                window: key.window,
                limit: None,
                spent: usage.spent,
                reserved: usage.reserved,
            })
            .collect())
    }

    /// Sets settled spending of `scope` to zero in the current period of `window` (or of every
    /// window); outstanding reservations stay. Returns the number of periods reset, once
    /// committed.
    pub fn reset(
        &self,
        scope: &ScopeKey,
        window: Option<Window>,
        now_ms: u64,
    ) -> Result<usize, StoreError> {
        let keys: Vec<UsageKey> = Window::ALL
            .into_iter()
            .filter(|w| window.is_none_or(|only| only == *w))
            .map(|w| UsageKey {
                scope: scope.to_string(),
                window: w,
                period_start_ms: w.period(now_ms).start_ms,
            })
            .collect();
        let mut book = self.book();
        for key in &keys {
            self.load(&mut book, key)?;
        }
        let seq = book.take_seq();
        let reset: Vec<UsageKey> = keys.into_iter().filter(|k| book.reset(k, seq)).collect();
        let usage = reset.iter().map(|k| (k.clone(), book.usage(k))).collect();
        self.writer.queue(seq, vec![Write::Usage(usage)]);
        self.committed(book)?;
        Ok(reset.len())
    }

    /// Lets go of `book`, then waits until every change queued while it was held is committed
    /// (the barrier is taken before the book is released, so it covers them all).
    fn committed(&self, book: MutexGuard<'_, BudgetBook>) -> Result<(), StoreError> {
        let committed = self.writer.barrier();
        drop(book);
        wait(&committed)
    }

    fn book(&self) -> MutexGuard<'_, BudgetBook> {
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Settles `id` in the book and queues the writes; `None` when it is not outstanding.
    fn settle_in(
        &self,
        book: &mut BudgetBook,
        id: u64,
        actual: Micros,
    ) -> Result<Option<Settlement>, StoreError> {
        let Some(lines) = book.held_lines(id).map(<[Line]>::to_vec) else {
            return Ok(None);
        };
        self.load_lines(book, &lines)?;
        let seq = book.take_seq();
        let Some((reserved, lines, balances)) = book.settle(id, actual, seq) else {
            return Ok(None);
        };
        let usage = usage_of(book, &lines);
        self.writer
            .queue(seq, vec![Write::Usage(usage), Write::Unreserve(id)]);
        Ok(Some(Settlement {
            reserved,
            actual,
            balances,
        }))
    }

    /// Makes sure the book holds the usage lines of `lines`.
    fn load_lines(&self, book: &mut BudgetBook, lines: &[Line]) -> Result<(), StoreError> {
        for line in lines {
            self.load(book, &line.key())?;
        }
        Ok(())
    }

    /// Reads `key` from the tables into the book unless the book already holds it.
    fn load(&self, book: &mut BudgetBook, key: &UsageKey) -> Result<(), StoreError> {
        if book.knows(key) {
            return Ok(());
        }
        if let Some(usage) = read_usage(&lock(&self.reader), key)? {
            book.load(key.clone(), usage);
        }
        Ok(())
    }
}

/// The book's figures for `lines`.
fn usage_of(book: &BudgetBook, lines: &[Line]) -> Vec<(UsageKey, Usage)> {
    lines
        .iter()
        .map(|line| {
            let key = line.key();
            let usage = book.usage(&key);
            (key, usage)
        })
        .collect()
}

fn read_usage(conn: &Connection, key: &UsageKey) -> Result<Option<Usage>, StoreError> {
    Ok(conn
        .prepare_cached(
            "SELECT spent_micros, reserved_micros FROM budget_usage
             WHERE scope = ?1 AND window = ?2 AND period_start_ms = ?3",
        )?
        .query_row(
            params![key.scope, key.window.name(), db_time(key.period_start_ms)],
            |r| {
                Ok(Usage {
                    spent: Micros(stored_time(r, 0)?),
                    reserved: Micros(stored_time(r, 1)?),
                    written_seq: 0,
                })
            },
        )
        .optional()?)
}

/// The usage lines in the tables for the periods current at `now_ms`.
fn read_current(
    conn: &Connection,
    scope: Option<&str>,
    now_ms: u64,
) -> Result<BTreeMap<UsageKey, Usage>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT scope, window, period_start_ms, spent_micros, reserved_micros
         FROM budget_usage WHERE (?1 IS NULL OR scope = ?1) AND window = ?2
             AND period_start_ms = ?3",
    )?;
    let mut out = BTreeMap::new();
    for window in Window::ALL {
        let rows = stmt.query_map(
            params![
                scope,
                window.name(),
                db_time(window.period(now_ms).start_ms)
            ],
            |r| {
                Ok((
                    UsageKey {
                        scope: r.get(0)?,
                        window: window_column(r, 1)?,
                        period_start_ms: stored_time(r, 2)?,
                    },
                    Usage {
                        spent: Micros(stored_time(r, 3)?),
                        reserved: Micros(stored_time(r, 4)?),
                        written_seq: 0,
                    },
                ))
            },
        )?;
        for row in rows {
            let (key, usage) = row?;
            out.insert(key, usage);
        }
    }
    Ok(out)
}

fn read_limits(conn: &Connection) -> Result<Vec<StoredLimit>, StoreError> {
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

fn read_reservations(conn: &Connection) -> Result<BTreeMap<u64, Held>, StoreError> {
    let mut stmt = conn.prepare_cached(
        "SELECT reservation_id, amount_micros, lines, expires_ms FROM budget_reservations",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            stored_time(r, 0)?,
            Micros(stored_time(r, 1)?),
            r.get::<_, String>(2)?,
            stored_time(r, 3)?,
        ))
    })?;
    let mut held = BTreeMap::new();
    for row in rows {
        let (id, amount, lines, expires_ms) = row?;
        let lines: Vec<Line> = serde_json::from_str(&lines)
            .map_err(|e| StoreError::Corrupt(format!("reservation {id}: {e}")))?;
        held.insert(
            id,
            Held {
                amount,
                lines,
                expires_ms,
            },
        );
    }
    Ok(held)
}

/// The highest reservation id ever handed out by the tables.
fn last_reservation_id(conn: &Connection) -> Result<u64, StoreError> {
    let seq: Option<i64> = conn
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = 'budget_reservations'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    Ok(seq.and_then(|s| u64::try_from(s).ok()).unwrap_or(0))
}

fn window_column(row: &rusqlite::Row<'_>, col: usize) -> rusqlite::Result<Window> {
    let text: String = row.get(col)?;
    text.parse()
        .map_err(|e| crate::operators::stored_value(col, e))
}
