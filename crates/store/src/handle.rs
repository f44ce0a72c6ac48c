//! The result of `append`: a handle that resolves once the record is durable.
//!
//! `AppendHandle` is a `Future` (await it from async code; it never blocks the runtime, the
//! writer thread completes it through a `futures-channel` oneshot) and has a blocking
//! [`AppendHandle::wait`] for synchronous callers. The receipt is signed when the handle
//! resolves, in the caller's thread, so signing cost is spread over callers instead of the
//! single writer (and is small: see [`crate::receipts`]).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use futures_channel::oneshot;
use warden_ledger::{Hash, ReceiptClaims, SealedRecord};

use crate::error::AppendError;
use crate::receipts::ReceiptSigner;

/// What the writer reports for a committed record.
#[derive(Debug, Clone)]
pub struct Committed {
    /// The receipt claims (seq, id, hash, agent link, time, bundle, outcome).
    pub claims: ReceiptClaims,
    /// The sealed record, handed over only so that its memory is freed in the caller's thread:
    /// the single writer thread is the ledger's serial bottleneck.
    pub(crate) _retired: SealedRecord,
}

/// A durable record: where it sits and the signed receipt for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// The record's seq.
    pub seq: u64,
    /// The record id (`rec_…`).
    pub id: String,
    /// The record hash.
    pub hash: Hash,
    /// Compact JWS receipt.
    pub receipt: String,
}

/// Resolves to [`Appended`] once the record's transaction has committed.
#[derive(Debug)]
#[must_use = "the record is only known durable once the handle resolves"]
pub struct AppendHandle {
    rx: oneshot::Receiver<Result<Committed, AppendError>>,
    signer: Option<Arc<ReceiptSigner>>,
}

impl AppendHandle {
    pub(crate) fn new(
        rx: oneshot::Receiver<Result<Committed, AppendError>>,
        signer: Arc<ReceiptSigner>,
    ) -> Self {
        Self {
            rx,
            signer: Some(signer),
        }
    }

    /// A handle that resolves at once with `error`: for stores that fail before queueing.
    pub fn failed(error: AppendError) -> Self {
        let (tx, rx) = oneshot::channel();
        let _ = tx.send(Err(error));
        Self { rx, signer: None }
    }

    /// Resolves once the record is durable, without signing a receipt: for callers that hand
    /// none out (AuthZEN answers, the egress proxy), so they do not pay a signature per record.
    pub async fn committed(self) -> Result<Committed, AppendError> {
        self.rx.await.unwrap_or(Err(AppendError::WriterGone))
    }

    /// Blocks the current thread until the record is durable. Do not call from async code.
    pub fn wait(self) -> Result<Appended, AppendError> {
        futures_executor::block_on(self)
    }
}

impl Future for AppendHandle {
    type Output = Result<Appended, AppendError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let committed = match Pin::new(&mut self.rx).poll(cx) {
            Poll::Pending => return Poll::Pending,
            Poll::Ready(Err(_canceled)) => return Poll::Ready(Err(AppendError::WriterGone)),
            Poll::Ready(Ok(Err(e))) => return Poll::Ready(Err(e)),
            Poll::Ready(Ok(Ok(c))) => c,
        };
        let Some(signer) = &self.signer else {
            return Poll::Ready(Err(AppendError::Receipt("no signing key".into())));
        };
        let receipt = signer
            .sign(&committed.claims)
            .map_err(|e| AppendError::Receipt(e.to_string()));
        Poll::Ready(receipt.map(|receipt| Appended {
            seq: committed.claims.seq,
            id: committed.claims.rid.clone(),
            hash: committed.claims.leaf,
            receipt,
        }))
    }
}
