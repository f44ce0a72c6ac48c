//! The budget writer: one thread that carries what the budget book decided into the `budget_*`
//! tables, behind the requests that decided it. Writes arrive in the order the book made them
//! (they are queued under the book's mutex) and are gathered for up to [`GATHER`], or until a
//! caller waits for them, then written in one transaction (`synchronous=NORMAL`). So the tables
//! take a handful of commits a second however many calls there are, no request waits for the disk,
//! and the ledger's commits seldom meet a budget commit holding the database's write lock. A
//! caller that needs its change on disk (a settlement, an operator's change) queues a barrier and
//! waits for it: the barrier is written at once.
//!
//! Usage lines are written as absolute values (the book's figures at the time), so a later write
//! of a line corrects any earlier one that was lost.
//!
//! Owns the writer thread and its connection; must not decide anything about budgets.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use rusqlite::{Connection, params};
use warden_budget::{Micros, Window};

use crate::budget_book::{Line, Usage, UsageKey};
use crate::budgets::StoredLimit;
use crate::error::StoreError;
use crate::operators::{db_time, open_migrated, to_json};

/// The most messages put in one transaction.
const BATCH: usize = 4096;

/// How long writes nobody waits for are gathered before they are committed.
const GATHER: Duration = Duration::from_millis(100);

/// One change to the budget tables.
#[derive(Debug)]
pub(crate) enum Write {
    /// Usage lines with their current figures.
    Usage(Vec<(UsageKey, Usage)>),
    /// A new reservation.
    Reserve {
        /// Its id.
        id: u64,
        /// The amount held.
        amount: Micros,
        /// The limits it was taken against.
        lines: Vec<Line>,
        /// When it was taken.
        created_ms: u64,
        /// When it expires.
        expires_ms: u64,
    },
    /// A reservation settled or expired.
    Unreserve(u64),
    /// An operator limit set.
    Limit(StoredLimit),
    /// An operator limit removed.
    Unlimit(String, Window),
}

/// What the thread receives: writes that belong together (committed in the same transaction),
/// or a barrier answered once everything queued before it is committed.
enum Message {
    Writes { seq: u64, writes: Vec<Write> },
    Barrier(Sender<Result<(), String>>),
}

/// The handle to the writer thread.
pub(crate) struct BudgetWriter {
    queue: Option<Sender<Message>>,
    thread: Option<JoinHandle<()>>,
    durable: Arc<AtomicU64>,
    healthy: Arc<AtomicBool>,
}

impl BudgetWriter {
    /// Starts the writer on its own connection to `path`.
    pub fn start(path: &Path) -> Result<BudgetWriter, StoreError> {
        let conn = open_migrated(path)?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        // The ledger's checkpointer keeps the log short; budget commits never run a checkpoint.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        let (queue, inbox) = mpsc::channel();
        let durable = Arc::new(AtomicU64::new(0));
        let healthy = Arc::new(AtomicBool::new(true));
        let state = Shared {
            durable: durable.clone(),
            healthy: healthy.clone(),
            failure: Mutex::new(None),
        };
        let thread = std::thread::Builder::new()
            .name("warden-budget-writer".into())
            .spawn(move || run(conn, &inbox, &state))?;
        Ok(BudgetWriter {
            queue: Some(queue),
            thread: Some(thread),
            durable,
            healthy,
        })
    }

    /// Queues `writes` (numbered `seq` by the book) to be committed together.
    pub fn queue(&self, seq: u64, writes: Vec<Write>) {
        self.send(Message::Writes { seq, writes });
    }

    /// Queues a barrier: the receiver answers once everything queued before is committed, with
    /// the first failure since the previous barrier, if any.
    pub fn barrier(&self) -> Receiver<Result<(), String>> {
        let (tx, rx) = mpsc::channel();
        self.send(Message::Barrier(tx));
        rx
    }

    /// The highest sequence number whose writes, and all before them, are committed (0 once a
    /// write has failed: from then on the book keeps every line it holds).
    pub fn durable_seq(&self) -> u64 {
        if self.healthy.load(Ordering::Acquire) {
            self.durable.load(Ordering::Acquire)
        } else {
            0
        }
    }

    fn send(&self, message: Message) {
        // The thread only ends when the queue is dropped, so sending cannot fail while `self`
        // lives; a barrier whose message was lost reports the writer gone to its waiter.
        if let Some(queue) = &self.queue {
            let _ = queue.send(message);
        }
    }
}

impl Drop for BudgetWriter {
    /// Writes what is still queued, then stops the thread.
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Waits for a barrier's answer.
pub(crate) fn wait(barrier: &Receiver<Result<(), String>>) -> Result<(), StoreError> {
    match barrier.recv() {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(StoreError::BudgetWrite(e)),
        Err(_) => Err(StoreError::BudgetWrite(
            "the budget writer has stopped".into(),
        )),
    }
}

struct Shared {
    durable: Arc<AtomicU64>,
    healthy: Arc<AtomicBool>,
    failure: Mutex<Option<String>>,
}

fn run(mut conn: Connection, inbox: &Receiver<Message>, shared: &Shared) {
    while let Ok(first) = inbox.recv() {
        let deadline = Instant::now() + GATHER;
        let mut waited_for = matches!(first, Message::Barrier(_));
        let mut batch = vec![first];
        while batch.len() < BATCH {
            let next = if waited_for {
                inbox.try_recv().ok()
            } else {
                inbox
                    .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                    .ok()
            };
            let Some(next) = next else { break };
            waited_for |= matches!(next, Message::Barrier(_));
            batch.push(next);
        }
        let mut barriers = Vec::new();
        let mut last_seq = None;
        let mut writes = Vec::new();
        for message in batch {
            match message {
                Message::Writes { seq, writes: w } => {
                    last_seq = Some(seq);
                    writes.extend(w);
                }
                Message::Barrier(tx) => barriers.push(tx),
            }
        }
        if !writes.is_empty() {
            match commit(&mut conn, &writes) {
                Ok(()) => {
                    if let Some(seq) = last_seq {
                        shared.durable.fetch_max(seq, Ordering::AcqRel);
                    }
                }
                Err(e) => {
                    shared.healthy.store(false, Ordering::Release);
                    let mut failure = shared
                        .failure
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner);
                    failure.get_or_insert_with(|| e.to_string());
                }
            }
        }
        if !barriers.is_empty() {
            let failure = shared
                .failure
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            for barrier in barriers {
                let _ = barrier.send(failure.clone().map_or(Ok(()), Err));
            }
        }
    }
}

fn commit(conn: &mut Connection, writes: &[Write]) -> Result<(), StoreError> {
    let tx = conn.transaction()?;
    for write in writes {
        apply(&tx, write)?;
    }
    tx.commit()?;
    Ok(())
}

fn apply(tx: &rusqlite::Transaction<'_>, write: &Write) -> Result<(), StoreError> {
    match write {
        Write::Usage(lines) => {
            let mut put = tx.prepare_cached(
                "INSERT INTO budget_usage (scope, window, period_start_ms, spent_micros, reserved_micros)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(scope, window, period_start_ms)
                 DO UPDATE SET spent_micros = excluded.spent_micros,
                     reserved_micros = excluded.reserved_micros",
            )?;
            for (key, usage) in lines {
                put.execute(params![
                    key.scope,
                    key.window.name(),
                    db_time(key.period_start_ms),
                    db_time(usage.spent.0),
                    db_time(usage.reserved.0)
                ])?;
            }
        }
        Write::Reserve {
            id,
            amount,
            lines,
            created_ms,
            expires_ms,
        } => {
            tx.prepare_cached(
                "INSERT OR REPLACE INTO budget_reservations
                     (reservation_id, amount_micros, lines, created_ms, expires_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                db_time(*id),
                db_time(amount.0),
                to_json(lines)?,
                db_time(*created_ms),
                db_time(*expires_ms)
            ])?;
        }
        Write::Unreserve(id) => {
            tx.prepare_cached("DELETE FROM budget_reservations WHERE reservation_id = ?1")?
                .execute([db_time(*id)])?;
        }
        Write::Limit(limit) => {
            tx.prepare_cached(
                "INSERT INTO budget_limits (scope, window, limit_micros, set_by, set_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT(scope, window) DO UPDATE SET limit_micros = excluded.limit_micros,
                     set_by = excluded.set_by, set_ms = excluded.set_ms",
            )?
            .execute(params![
                limit.scope,
                limit.window.name(),
                db_time(limit.limit.0),
                limit.set_by,
                db_time(limit.set_ms)
            ])?;
        }
        Write::Unlimit(scope, window) => {
            tx.prepare_cached("DELETE FROM budget_limits WHERE scope = ?1 AND window = ?2")?
                .execute(params![scope, window.name()])?;
        }
    }
    Ok(())
}
