//! The single writer with group commit. Callers queue appends; the writer thread takes
//! everything queued (up to `max_batch`), seals and inserts it in one transaction, writes a
//! checkpoint in the same transaction when one is due, commits (durable as [`Durability`] says),
//! and only then completes each caller.
//!
//! A caller about to wait for its record may commit the queue itself instead
//! ([`Shared::commit_now`]): when no commit is in progress, it takes the writer, commits
//! everything queued with its own record, and returns with the record durable. That spares the
//! two thread wake-ups of the hand-over (to the writer thread and back), which on an idle gateway
//! are about half of an append's latency. It is done only where a commit never waits for a disk
//! flush (`Durability::Process`); a commit that must flush, the writer's share of a log restart,
//! timed checkpoints and recovery after a failed commit stay on the writer thread.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, TryLockError};
use std::time::{Duration, Instant};

use futures_channel::oneshot;
use rusqlite::{Connection, params};
use warden_ledger::{ChainState, LedgerSigningKey, RecordDraft, SealedRecord};

use crate::clock::Clock;
use crate::config::{Durability, LedgerConfig};
use crate::error::{AppendError, StoreError};
use crate::handle::Committed;
use crate::recovery::recover;

/// A queued append.
pub(crate) struct Job {
    pub draft: RecordDraft,
    pub done: oneshot::Sender<Result<Committed, AppendError>>,
}

impl Job {
    /// Fails the append: the writer has stopped.
    pub(crate) fn refuse(self) {
        let _ = self.done.send(Err(AppendError::WriterGone));
    }
}

/// The writer's state.
pub(crate) struct Writer {
    pub conn: Connection,
    pub state: ChainState,
    pub key: Arc<LedgerSigningKey>,
    pub config: LedgerConfig,
    pub clock: Box<dyn Clock>,
    pub checkpointed: u64,
    pub last_checkpoint_at: Instant,
    pub last_time_ms: u64,
    /// A commit failed: the head must be rebuilt from the database (on the writer thread, since
    /// it reads the whole ledger) before the next batch.
    pub stale: bool,
}

/// Appends waiting for a commit.
#[derive(Default)]
struct Queue {
    jobs: Vec<Job>,
    /// No more appends are taken; the writer thread commits what is queued and stops.
    closed: bool,
    /// The writer thread is waiting on `Shared::ready`: only then is a wake-up (a system call)
    /// needed.
    sleeping: bool,
}

/// The writer and its queue, shared by the writer thread and the callers that commit inline.
pub(crate) struct Shared {
    writer: Mutex<Writer>,
    queue: Mutex<Queue>,
    /// Signalled, with `queue` locked, when the writer thread has work: an append queued, a log
    /// restart requested, the queue closed.
    ready: Condvar,
    /// The checkpointer's request for a log restart, which only the writer thread carries out.
    restart: Arc<crate::wal::Restart>,
    /// Whether callers may commit inline (no disk flush per commit).
    inline: bool,
}

/// Locks the queue, which a panic cannot leave half-changed (each change is one `Vec` call).
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The writer after a panic while it was held (not expected: the workspace denies panicking
/// calls): its head may hold records that were sealed but never committed, so it is marked for
/// recovery from the database before the next batch.
fn recovered<'a>(
    poisoned: PoisonError<MutexGuard<'a, Writer>>,
    m: &'a Mutex<Writer>,
) -> MutexGuard<'a, Writer> {
    let mut writer = poisoned.into_inner();
    writer.stale = true;
    m.clear_poison();
    writer
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("inline", &self.inline)
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn new(writer: Writer, restart: Arc<crate::wal::Restart>) -> Self {
        let inline = writer.config.durability == Durability::Process;
        Self {
            writer: Mutex::new(writer),
            queue: Mutex::new(Queue::default()),
            ready: Condvar::new(),
            restart,
            inline,
        }
    }

    /// Queues `job` for the writer thread; once the queue is closed, fails it instead.
    pub(crate) fn enqueue(&self, job: Job) {
        let mut queue = lock(&self.queue);
        if queue.closed {
            drop(queue);
            job.refuse();
            return;
        }
        queue.jobs.push(job);
        if queue.sleeping {
            self.ready.notify_one();
        }
    }

    /// Commits `job`, with everything queued before it, on the calling thread when no commit is in
    /// progress; otherwise queues it for the writer thread. Either way the job's sender is
    /// completed exactly once; once the queue is closed, with a failure.
    pub(crate) fn commit_now(&self, job: Job) {
        // A log restart is the writer thread's: while one is wanted, let it have the writer
        // rather than keep taking it here.
        if !self.inline || self.restart.wanted() {
            self.enqueue(job);
            return;
        }
        let mut writer = match self.writer.try_lock() {
            Ok(writer) => writer,
            Err(TryLockError::Poisoned(p)) => recovered(p, &self.writer),
            Err(TryLockError::WouldBlock) => {
                self.enqueue(job);
                return;
            }
        };
        if writer.stale {
            drop(writer);
            self.enqueue(job);
            return;
        }
        let (mut batch, more) = {
            let mut queue = lock(&self.queue);
            if queue.closed {
                drop(queue);
                job.refuse();
                return;
            }
            // Everything queued goes first: appends made earlier keep their order.
            let take = queue
                .jobs
                .len()
                .min(writer.config.max_batch.saturating_sub(1));
            let batch: Vec<Job> = queue.jobs.drain(..take).collect();
            (batch, !queue.jobs.is_empty())
        };
        batch.push(job);
        writer.commit_batch(&mut batch);
        let stale = writer.stale;
        drop(writer);
        if more || stale || self.restart.wanted() {
            self.wake();
        }
    }

    fn lock_writer(&self) -> MutexGuard<'_, Writer> {
        self.writer
            .lock()
            .unwrap_or_else(|p| recovered(p, &self.writer))
    }

    /// Closes the queue: later appends fail; the writer thread commits what is queued and stops.
    pub(crate) fn close(&self) {
        let mut queue = lock(&self.queue);
        queue.closed = true;
        self.ready.notify_one();
    }

    /// Wakes the writer thread (for work left queued, or a log restart the checkpointer has asked
    /// for).
    pub(crate) fn wake(&self) {
        let _queue = lock(&self.queue);
        self.ready.notify_one();
    }

    /// The writer thread: commits what is queued, finishes log restarts, and writes checkpoints
    /// when due, until the queue is closed; then commits the rest and writes a final checkpoint.
    pub(crate) fn run(&self) {
        let mut wait = self.lock_writer().until_checkpoint_due();
        loop {
            let closed = {
                let mut queue = lock(&self.queue);
                let deadline = Instant::now() + wait;
                while queue.jobs.is_empty() && !queue.closed && !self.restart.wanted() {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        break;
                    }
                    queue.sleeping = true;
                    queue = self
                        .ready
                        .wait_timeout(queue, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                    queue.sleeping = false;
                }
                queue.closed
            };
            let mut writer = self.lock_writer();
            loop {
                writer.recover_if_stale();
                let mut batch: Vec<Job> = {
                    let mut queue = lock(&self.queue);
                    let take = queue.jobs.len().min(writer.config.max_batch);
                    queue.jobs.drain(..take).collect()
                };
                let empty = batch.is_empty();
                writer.commit_batch(&mut batch);
                if self.restart.take() {
                    crate::wal::restart(&writer.conn);
                }
                if empty {
                    break;
                }
            }
            if closed {
                if writer.state.next_seq() > writer.checkpointed {
                    let _ = writer.write_checkpoint_alone();
                }
                return;
            }
            wait = writer.until_checkpoint_due();
        }
    }
}

impl Writer {
    /// How long the writer thread may sleep: until a checkpoint is due by time. With nothing
    /// to anchor, one interval, since callers committing inline may add records meanwhile.
    fn until_checkpoint_due(&self) -> Duration {
        let interval = Duration::from_millis(self.config.checkpoint_interval_ms);
        if self.state.next_seq() == self.checkpointed {
            return interval;
        }
        interval.saturating_sub(self.last_checkpoint_at.elapsed())
    }

    fn checkpoint_due(&self) -> bool {
        let unanchored = self.state.next_seq() - self.checkpointed;
        unanchored > 0
            && (unanchored >= self.config.checkpoint_every
                || self.last_checkpoint_at.elapsed()
                    >= Duration::from_millis(self.config.checkpoint_interval_ms))
    }

    fn now_ms(&mut self) -> u64 {
        // Record times never go backwards, even if the wall clock does.
        self.last_time_ms = self.last_time_ms.max(self.clock.now_ms());
        self.last_time_ms
    }

    fn commit_batch(&mut self, batch: &mut Vec<Job>) {
        if batch.is_empty() && !self.checkpoint_due() {
            return;
        }
        let jobs = std::mem::take(batch);
        match self.write(jobs) {
            Ok(done) => {
                for (job, committed) in done {
                    let _ = job.send(Ok(committed));
                }
            }
            Err((jobs, err)) => {
                for job in jobs {
                    let _ = job.send(Err(err.clone()));
                }
                self.stale = true;
            }
        }
    }

    /// After a failed commit, rebuilds the head from what is durable so the next batch links
    /// correctly.
    fn recover_if_stale(&mut self) {
        if !self.stale {
            return;
        }
        if let Ok(state) = recover(&self.conn) {
            self.state = state.chain;
            self.checkpointed = state.checkpointed;
        }
        self.stale = false;
    }

    #[allow(clippy::type_complexity)]
    fn write(
        &mut self,
        jobs: Vec<Job>,
    ) -> Result<
        Vec<(oneshot::Sender<Result<Committed, AppendError>>, Committed)>,
        (
            Vec<oneshot::Sender<Result<Committed, AppendError>>>,
            AppendError,
        ),
    > {
        let mut done = Vec::with_capacity(jobs.len());
        let mut rejected = Vec::new();
        let storage = |e: rusqlite::Error| AppendError::Storage(e.to_string());
        let time_ms = self.now_ms();
        let tx = match self.conn.transaction() {
            Ok(tx) => tx,
            Err(e) => return Err((jobs.into_iter().map(|j| j.done).collect(), storage(e))),
        };
        let mut senders = Vec::with_capacity(jobs.len());
        let mut sealed_all = Vec::with_capacity(jobs.len());
        for job in jobs {
            match self.state.seal(job.draft, time_ms) {
                Ok(sealed) => {
                    sealed_all.push(sealed);
                    senders.push(job.done);
                }
                Err(e) => rejected.push((job.done, AppendError::Rejected(e.to_string()))),
            }
        }
        let result = insert_records(&tx, &sealed_all).and_then(|()| {
            let unanchored = self.state.next_seq() - self.checkpointed;
            let due = unanchored > 0
                && (unanchored >= self.config.checkpoint_every
                    || self.last_checkpoint_at.elapsed()
                        >= Duration::from_millis(self.config.checkpoint_interval_ms));
            if due {
                insert_checkpoint(&tx, &self.state, &self.key, &self.config.origin, time_ms)?;
            }
            tx.commit().map(|()| due)
        });
        for (done_tx, err) in rejected {
            let _ = done_tx.send(Err(err));
        }
        match result {
            Ok(checkpointed) => {
                if checkpointed {
                    self.checkpointed = self.state.next_seq();
                    self.last_checkpoint_at = Instant::now();
                }
                for (sender, sealed) in senders.into_iter().zip(sealed_all) {
                    let claims = sealed.receipt_claims(&self.config.origin);
                    done.push((
                        sender,
                        Committed {
                            claims,
                            _retired: sealed,
                        },
                    ));
                }
                Ok(done)
            }
            Err(e) => Err((senders, storage(e))),
        }
    }

    fn write_checkpoint_alone(&mut self) -> Result<(), StoreError> {
        let time_ms = self.now_ms();
        let tx = self.conn.transaction()?;
        insert_checkpoint(&tx, &self.state, &self.key, &self.config.origin, time_ms)?;
        tx.commit()?;
        self.checkpointed = self.state.next_seq();
        Ok(())
    }
}

/// Records inserted by one multi-row statement: a batch's rows go in groups of this many, so the
/// per-statement cost (start, halt, reset) is paid once per group; the rest go one by one.
const ROWS_PER_INSERT: usize = 16;

/// `INSERT` of one record.
const ONE_ROW_SQL: &str =
    "INSERT INTO ledger_records (seq, hash, agent_id, time_ms, body) VALUES (?,?,?,?,?)";

/// `INSERT` of `rows` records.
fn insert_sql(rows: usize) -> String {
    let mut sql =
        String::from("INSERT INTO ledger_records (seq, hash, agent_id, time_ms, body) VALUES ");
    for row in 0..rows {
        if row > 0 {
            sql.push(',');
        }
        sql.push_str("(?,?,?,?,?)");
    }
    sql
}

fn insert_records(tx: &rusqlite::Transaction<'_>, sealed: &[SealedRecord]) -> rusqlite::Result<()> {
    static GROUP_SQL: std::sync::LazyLock<String> =
        std::sync::LazyLock::new(|| insert_sql(ROWS_PER_INSERT));
    let mut groups = sealed.chunks_exact(ROWS_PER_INSERT);
    if groups.len() > 0 {
        let mut stmt = tx.prepare_cached(&GROUP_SQL)?;
        for group in &mut groups {
            for (row, s) in group.iter().enumerate() {
                bind_record(&mut stmt, row * 5, s)?;
            }
            stmt.raw_execute()?;
        }
    }
    let rest = groups.remainder();
    if !rest.is_empty() {
        let mut stmt = tx.prepare_cached(ONE_ROW_SQL)?;
        for s in rest {
            bind_record(&mut stmt, 0, s)?;
            stmt.raw_execute()?;
        }
    }
    Ok(())
}

/// Binds one record's five columns after the first `offset` parameters.
fn bind_record(
    stmt: &mut rusqlite::CachedStatement<'_>,
    offset: usize,
    s: &SealedRecord,
) -> rusqlite::Result<()> {
    let body = std::str::from_utf8(&s.bytes)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    stmt.raw_bind_parameter(offset + 1, to_i64(s.record.seq))?;
    stmt.raw_bind_parameter(offset + 2, &s.hash.0[..])?;
    stmt.raw_bind_parameter(offset + 3, s.record.actor.agent_id.as_deref())?;
    stmt.raw_bind_parameter(offset + 4, to_i64(s.record.time_ms))?;
    stmt.raw_bind_parameter(offset + 5, body)
}

fn insert_checkpoint(
    tx: &rusqlite::Transaction<'_>,
    state: &ChainState,
    key: &LedgerSigningKey,
    origin: &str,
    time_ms: u64,
) -> rusqlite::Result<()> {
    let checkpoint = state.checkpoint(origin);
    let note = checkpoint
        .sign(key)
        .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
    tx.prepare_cached(
        "INSERT INTO ledger_checkpoints (size, root, note, time_ms) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        to_i64(checkpoint.size),
        &checkpoint.root.0[..],
        note,
        to_i64(time_ms)
    ])?;
    Ok(())
}

/// SQLite integers are signed; seqs and times stay far below `i64::MAX`.
pub(crate) fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use warden_ledger::{Actor, Event, Halt};

    fn draft(i: u64) -> RecordDraft {
        RecordDraft {
            actor: Actor {
                agent_id: (!i.is_multiple_of(3)).then(|| format!("agent-{}", i % 3)),
                ..Actor::default()
            },
            bundle_digest: None,
            event: Event::Halt(Halt {
                agent_id: format!("agent-{i}"),
                lifted: false,
                reason: None,
            }),
        }
    }

    /// A stored row: seq, hash, agent id, time, body.
    type Row = (i64, Vec<u8>, Option<String>, i64, String);

    #[test]
    fn batches_of_any_size_store_every_record_in_order() {
        let mut conn = Connection::open_in_memory().unwrap();
        crate::schema::migrate(&mut conn).unwrap();
        let mut state = ChainState::new();
        let mut all = Vec::new();
        // Below, at, and around multiples of the rows inserted per statement.
        for size in [
            1,
            ROWS_PER_INSERT - 1,
            ROWS_PER_INSERT,
            2 * ROWS_PER_INSERT + 5,
        ] {
            let sealed: Vec<SealedRecord> = (0..size)
                .map(|_| state.seal(draft(state.next_seq()), 7).unwrap())
                .collect();
            let tx = conn.transaction().unwrap();
            insert_records(&tx, &sealed).unwrap();
            tx.commit().unwrap();
            all.extend(sealed);
        }
        let mut stmt = conn
            .prepare("SELECT seq, hash, agent_id, time_ms, body FROM ledger_records ORDER BY seq")
            .unwrap();
        let rows: Vec<Row> = stmt
            .query_map([], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
            })
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows.len(), all.len());
        for (row, s) in rows.iter().zip(&all) {
            assert_eq!(row.0, to_i64(s.record.seq));
            assert_eq!(row.1, s.hash.0.to_vec());
            assert_eq!(row.2, s.record.actor.agent_id);
            assert_eq!(row.3, 7);
            assert_eq!(row.4.as_bytes(), &s.bytes[..]);
        }
    }
}
