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

fn insert_records(tx: &rusqlite::Transaction<'_>, sealed: &[SealedRecord]) -> rusqlite::Result<()> {
    let mut stmt = tx.prepare_cached(
        "INSERT INTO ledger_records (seq, hash, agent_id, time_ms, body) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?;
    for s in sealed {
        let body = std::str::from_utf8(&s.bytes).unwrap_or_default();
        stmt.execute(params![
            to_i64(s.record.seq),
            &s.hash.0[..],
            s.record.actor.agent_id.as_deref(),
            to_i64(s.record.time_ms),
            body
        ])?;
    }
    Ok(())
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
