//! `SqliteLedger`: the embedded ledger store. Creating or opening it checks the schema and the
//! signing key, recovers the head, and starts the single writer thread.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{Sender, channel};
use std::thread::JoinHandle;
use std::time::Instant;

use futures_channel::oneshot;
use rusqlite::{Connection, OptionalExtension};
use warden_ledger::{LedgerPublicKey, LedgerSigningKey, RecordDraft};

use crate::LedgerStore;
use crate::clock::Clock;
use crate::config::LedgerConfig;
use crate::error::StoreError;
use crate::handle::AppendHandle;
use crate::receipts::ReceiptSigner;
use crate::recovery::recover;
use crate::schema::{connect, migrate};
use crate::writer::{Job, Shared, Writer};

/// The SQLite-backed ledger.
#[derive(Debug)]
pub struct SqliteLedger {
    path: PathBuf,
    origin: String,
    key: Arc<LedgerSigningKey>,
    receipts: Arc<ReceiptSigner>,
    nonces: Option<JoinHandle<()>>,
    shared: Option<Arc<Shared>>,
    writer: Option<JoinHandle<()>>,
    checkpointer: Option<(Sender<()>, JoinHandle<()>)>,
}

fn meta(conn: &Connection, key: &str) -> Result<Option<String>, StoreError> {
    Ok(conn
        .query_row("SELECT value FROM ledger_meta WHERE key = ?1", [key], |r| {
            r.get(0)
        })
        .optional()?)
}

impl SqliteLedger {
    /// Creates a new ledger in the database at `path` (created if absent) for `key`. Fails if
    /// the database already holds a ledger.
    pub fn create(
        path: &Path,
        key: LedgerSigningKey,
        config: LedgerConfig,
        clock: Box<dyn Clock>,
    ) -> Result<Self, StoreError> {
        let mut conn = connect(path)?;
        migrate(&mut conn)?;
        if meta(&conn, "public_key")?.is_some() {
            return Err(StoreError::AlreadyExists(path.display().to_string()));
        }
        let jwk = serde_json::to_string(&key.public_key().to_jwk()).unwrap_or_default();
        let tx = conn.transaction()?;
        tx.execute(
            "INSERT INTO ledger_meta (key, value) VALUES ('public_key', ?1), ('origin', ?2)",
            [jwk.as_str(), config.origin.as_str()],
        )?;
        tx.commit()?;
        Self::start(path, conn, key, config, clock)
    }

    /// Opens an existing ledger. `config.origin` is replaced by the ledger's recorded origin;
    /// `key` must be the ledger's key.
    pub fn open(
        path: &Path,
        key: LedgerSigningKey,
        mut config: LedgerConfig,
        clock: Box<dyn Clock>,
    ) -> Result<Self, StoreError> {
        let mut conn = connect(path)?;
        migrate(&mut conn)?;
        let not_init = || StoreError::NotInitialized(path.display().to_string());
        let recorded = meta(&conn, "public_key")?.ok_or_else(not_init)?;
        let recorded_kid = serde_json::from_str::<warden_ledger::Jwk>(&recorded)
            .ok()
            .and_then(|j| LedgerPublicKey::from_jwk(&j).ok())
            .map(|k| k.key_id())
            .ok_or_else(|| StoreError::Corrupt("stored public key is not a JWK".into()))?;
        let given = key.public_key().key_id();
        if given != recorded_kid {
            return Err(StoreError::KeyMismatch {
                given,
                recorded: recorded_kid,
            });
        }
        config.origin = meta(&conn, "origin")?.ok_or_else(not_init)?;
        Self::start(path, conn, key, config, clock)
    }

    fn start(
        path: &Path,
        conn: Connection,
        key: LedgerSigningKey,
        config: LedgerConfig,
        clock: Box<dyn Clock>,
    ) -> Result<Self, StoreError> {
        conn.pragma_update(None, "synchronous", config.durability.synchronous())?;
        // The checkpointer thread keeps the log short; commits never wait for a checkpoint.
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        conn.pragma_update(None, "journal_size_limit", crate::wal::KEEP_BYTES)?;
        let (stop_checkpoints, stop) = channel();
        let restart = Arc::new(crate::wal::Restart::default());
        let checkpointer = crate::wal::start(
            path,
            stop,
            crate::wal::WalLimits::for_page_size(conn.pragma_query_value(
                None,
                "page_size",
                |r| r.get(0),
            )?),
            Arc::clone(&restart),
        )?;
        let recovered = recover(&conn)?;
        let key = Arc::new(key);
        let (receipts, nonces) = ReceiptSigner::start(Arc::clone(&key))?;
        let origin = config.origin.clone();
        let writer = Writer {
            conn,
            state: recovered.chain,
            key: Arc::clone(&key),
            config,
            clock,
            checkpointed: recovered.checkpointed,
            last_checkpoint_at: Instant::now(),
            last_time_ms: recovered.last_time_ms,
            stale: false,
        };
        let shared = Arc::new(Shared::new(writer, Arc::clone(&restart)));
        restart.wake_with(&shared);
        let handle = std::thread::Builder::new()
            .name("warden-ledger-writer".into())
            .spawn({
                let shared = Arc::clone(&shared);
                move || shared.run()
            })?;
        Ok(Self {
            path: path.to_owned(),
            origin,
            key,
            receipts,
            nonces: Some(nonces),
            shared: Some(shared),
            writer: Some(handle),
            checkpointer: Some((stop_checkpoints, checkpointer)),
        })
    }

    fn submit(&self, draft: RecordDraft, how: fn(&Shared, Job)) -> AppendHandle {
        let (done, rx) = oneshot::channel();
        let job = Job { draft, done };
        match &self.shared {
            Some(shared) => how(shared, job),
            None => job.refuse(),
        }
        AppendHandle::new(rx, Arc::clone(&self.receipts))
    }

    /// The database path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops the writer after it has committed everything queued and signed a final checkpoint.
    pub fn close(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(shared) = self.shared.take() {
            shared.close();
        }
        if let Some(h) = self.writer.take() {
            let _ = h.join();
        }
        if let Some((stop, h)) = self.checkpointer.take() {
            let _ = stop.send(());
            let _ = h.join();
        }
        self.receipts.stop();
        if let Some(h) = self.nonces.take() {
            let _ = h.join();
        }
    }
}

impl Drop for SqliteLedger {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl LedgerStore for SqliteLedger {
    fn append(&self, draft: RecordDraft) -> AppendHandle {
        self.submit(draft, Shared::enqueue)
    }

    fn append_now(&self, draft: RecordDraft) -> AppendHandle {
        self.submit(draft, Shared::commit_now)
    }

    fn public_key(&self) -> LedgerPublicKey {
        self.key.public_key()
    }

    fn origin(&self) -> &str {
        &self.origin
    }
}
