//! The settler: one thread that makes finished calls' settlements durable and writes their
//! spend records, a batch at a time. A call is settled in the budget book when it ends (so the
//! next call of the same run sees the money back at once); the settler gathers what ended within
//! [`GATHER`], waits once for the budget tables to commit it, then appends every spend record
//! together, so the ledger commits them in one group instead of one commit per call. Requests
//! never wait for it; the ledger's commits for requests meet fewer commits for settlements.
//!
//! Owns the settlement thread; must not decide costs (the [`super::Hold`] does).

use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use warden_ledger as ledger;
use warden_store::{LedgerStore, Settlement, SqliteBudgets, StoreError};

use super::ledger_balance;

/// How long the first settlement of a batch waits for others to join it.
const GATHER: Duration = Duration::from_millis(100);

/// The most settlements in one batch.
const MOST: usize = 512;

/// A call settled in the book, whose settlement and spend record are still to be written.
pub(crate) struct Settle {
    /// The settlement in the book.
    pub settled: Result<Option<Settlement>, StoreError>,
    /// Its spend record, without the balances after settlement.
    pub spend: ledger::BudgetSpend,
    /// Who made the call.
    pub actor: ledger::Actor,
}

/// The handle to the settlement thread.
pub(crate) struct Settler {
    queue: Option<Sender<Settle>>,
    thread: Option<JoinHandle<()>>,
    store: Arc<SqliteBudgets>,
    ledger: Arc<dyn LedgerStore>,
}

impl Settler {
    /// Starts the thread. Without one (the system refused a thread), settlements run inline.
    pub fn start(store: Arc<SqliteBudgets>, ledger: Arc<dyn LedgerStore>) -> Settler {
        let (queue, inbox) = mpsc::channel();
        let (thread_store, thread_ledger) = (store.clone(), ledger.clone());
        let thread = std::thread::Builder::new()
            .name("warden-budget-settler".into())
            .spawn(move || run(&inbox, &thread_store, &thread_ledger));
        let (queue, thread) = match thread {
            Ok(thread) => (Some(queue), Some(thread)),
            Err(e) => {
                tracing::warn!("budget settlements run inline: {e}");
                (None, None)
            }
        };
        Settler {
            queue,
            thread,
            store,
            ledger,
        }
    }

    /// Queues a settlement (settles it at once if the thread is gone).
    pub fn submit(&self, settle: Settle) {
        let unsent = match &self.queue {
            Some(queue) => queue.send(settle).err().map(|e| e.0),
            None => Some(settle),
        };
        if let Some(settle) = unsent {
            settle_batch(&self.store, &self.ledger, vec![settle]);
        }
    }
}

impl Drop for Settler {
    /// Settles what is still queued, then stops the thread.
    fn drop(&mut self) {
        drop(self.queue.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(inbox: &Receiver<Settle>, store: &SqliteBudgets, ledger: &Arc<dyn LedgerStore>) {
    while let Ok(first) = inbox.recv() {
        let deadline = Instant::now() + GATHER;
        let mut batch = vec![first];
        while batch.len() < MOST {
            match inbox.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(next) => batch.push(next),
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        settle_batch(store, ledger, batch);
    }
}

/// Waits for the tables once for `batch`, then writes its spend records together.
fn settle_batch(store: &SqliteBudgets, ledger: &Arc<dyn LedgerStore>, batch: Vec<Settle>) {
    let committed = store.flush();
    if let Err(e) = &committed {
        tracing::error!("budget settlements are in force but not in the tables: {e}");
    }
    let handles: Vec<_> = batch
        .into_iter()
        .map(|settle| {
            let mut spend = settle.spend;
            match (settle.settled, &committed) {
                (Ok(Some(settlement)), committed) => {
                    spend.balances = settlement.balances.iter().map(ledger_balance).collect();
                    if let Err(e) = committed {
                        spend.reason = Some(format!("settlement not written to the store: {e}"));
                    }
                }
                (Ok(None), _) => {
                    spend.reason = Some("the reservation had already expired".into());
                }
                (Err(e), _) => {
                    tracing::error!("settling a budget reservation failed (it will expire): {e}");
                    spend.reason = Some(format!("settlement failed: {e}"));
                }
            }
            ledger.append(ledger::RecordDraft {
                actor: settle.actor,
                bundle_digest: None,
                event: ledger::Event::Budget(Box::new(spend)),
            })
        })
        .collect();
    // The ledger's writer resolves the handles; this thread only waits for them.
    for handle in handles {
        if let Err(e) = futures_executor::block_on(handle) {
            tracing::error!("a budget spend record could not be written: {e}");
        }
    }
}
