//! The single writer with group commit. Callers queue appends on a channel; the writer takes
//! everything queued (up to `max_batch`), seals and inserts it in one transaction, writes a
//! checkpoint in the same transaction when one is due, commits (durable: WAL with
//! `synchronous=FULL`), and only then completes each caller.

use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use futures_channel::oneshot;
use rusqlite::{Connection, params};
use warden_ledger::{ChainState, LedgerSigningKey, RecordDraft, SealedRecord};

use crate::clock::Clock;
use crate::config::LedgerConfig;
use crate::error::{AppendError, StoreError};
use crate::handle::Committed;
use crate::recovery::recover;

/// A queued append.
pub(crate) struct Job {
    pub draft: RecordDraft,
    pub done: oneshot::Sender<Result<Committed, AppendError>>,
}

/// The writer's state.
pub(crate) struct Writer {
    pub conn: Connection,
    pub state: ChainState,
    pub key: std::sync::Arc<LedgerSigningKey>,
    pub config: LedgerConfig,
    pub clock: Box<dyn Clock>,
    pub checkpointed: u64,
    pub last_checkpoint_at: Instant,
    pub last_time_ms: u64,
    /// The checkpointer's request to finish a checkpoint so that the log starts over.
    pub restart: std::sync::Arc<crate::wal::Restart>,
}

impl Writer {
    /// Runs until every sender is dropped, then writes a final checkpoint.
    pub fn run(mut self, rx: Receiver<Job>) {
        let mut batch: Vec<Job> = Vec::with_capacity(self.config.max_batch);
        loop {
            let wait = self.until_checkpoint_due();
            match rx.recv_timeout(wait) {
                Ok(job) => batch.push(job),
                Err(RecvTimeoutError::Timeout) => {}
                Err(RecvTimeoutError::Disconnected) => break,
            }
            while batch.len() < self.config.max_batch {
                match rx.try_recv() {
                    Ok(job) => batch.push(job),
                    Err(_) => break,
                }
            }
            self.commit_batch(&mut batch);
            if self.restart.take() {
                crate::wal::restart(&self.conn);
            }
        }
        self.commit_batch(&mut batch);
        if self.state.next_seq() > self.checkpointed {
            let _ = self.write_checkpoint_alone();
        }
    }

    fn until_checkpoint_due(&self) -> Duration {
        if self.state.next_seq() == self.checkpointed {
            return Duration::from_secs(3600);
        }
        let interval = Duration::from_millis(self.config.checkpoint_interval_ms);
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
                // Rebuild the head from what is durable so the next batch links correctly.
                if let Ok(state) = recover(&self.conn) {
                    self.state = state.chain;
                    self.checkpointed = state.checkpointed;
                }
            }
        }
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
