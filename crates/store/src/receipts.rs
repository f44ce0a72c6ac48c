//! Receipt signing for appended records, with a pool of precomputed nonces refilled by a
//! background thread, so that the receipt a request waits for costs microseconds rather than a
//! full Ed25519 signature (see `warden_ledger::nonce`). When a burst empties the pool, receipts
//! are signed the ordinary, deterministic way: slower, never wrong.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;

use warden_ledger::{LedgerSigningKey, Nonce, ReceiptClaims, ReceiptError};

/// Nonces kept ready: enough for a burst of a few hundred decisions.
const CAPACITY: usize = 256;
/// The refill thread wakes when the pool falls below this: close to full, so that it makes a few
/// nonces at a time (each about a signature's worth of CPU) instead of hogging a core for a long
/// refill that would delay requests.
const LOW_WATER: usize = CAPACITY - 8;

/// Signs receipts with the ledger key, from the nonce pool when it has one.
pub(crate) struct ReceiptSigner {
    key: Arc<LedgerSigningKey>,
    pool: Mutex<Pool>,
    refill: Condvar,
}

#[derive(Default)]
struct Pool {
    ready: Vec<Nonce>,
    stopped: bool,
}

impl std::fmt::Debug for ReceiptSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiptSigner")
            .field("key", &self.key)
            .finish_non_exhaustive()
    }
}

impl ReceiptSigner {
    /// A signer for `key` and the thread that keeps its pool filled; stop it with
    /// [`ReceiptSigner::stop`] and join the thread.
    pub(crate) fn start(
        key: Arc<LedgerSigningKey>,
    ) -> std::io::Result<(Arc<ReceiptSigner>, JoinHandle<()>)> {
        let signer = Arc::new(ReceiptSigner {
            key,
            pool: Mutex::new(Pool::default()),
            refill: Condvar::new(),
        });
        let refiller = Arc::clone(&signer);
        let thread = std::thread::Builder::new()
            .name("warden-receipt-nonces".into())
            .spawn(move || refiller.refill())?;
        Ok((signer, thread))
    }

    /// Issues the compact JWS receipt for `claims`.
    pub(crate) fn sign(&self, claims: &ReceiptClaims) -> Result<String, ReceiptError> {
        match self.take() {
            Some(nonce) => warden_ledger::sign_receipt_with_nonce(claims, &self.key, nonce),
            None => warden_ledger::sign_receipt(claims, &self.key),
        }
    }

    /// Ends the refill thread; the nonces left are still used.
    pub(crate) fn stop(&self) {
        self.lock().stopped = true;
        self.refill.notify_all();
    }

    fn take(&self) -> Option<Nonce> {
        let mut pool = self.lock();
        let nonce = pool.ready.pop();
        // Wake the refill thread when the pool crosses the mark; if it is already refilling, it
        // goes on until the pool is full.
        if nonce.is_some() && pool.ready.len() + 1 == LOW_WATER && !pool.stopped {
            self.refill.notify_one();
        }
        nonce
    }

    fn lock(&self) -> MutexGuard<'_, Pool> {
        // The pool holds no invariant a panic could break.
        self.pool.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Fills the pool to capacity, then sleeps until it falls below the low-water mark.
    fn refill(&self) {
        loop {
            {
                let mut pool = self.lock();
                while pool.ready.len() >= CAPACITY && !pool.stopped {
                    pool = self
                        .refill
                        .wait(pool)
                        .unwrap_or_else(PoisonError::into_inner);
                }
                if pool.stopped {
                    return;
                }
            }
            let mut entropy = [0u8; 32];
            if getrandom::fill(&mut entropy).is_err() {
                // Without fresh entropy no nonce is made; receipts fall back to deterministic
                // signatures.
                return;
            }
            let nonce = self.key.nonce(&entropy);
            self.lock().ready.push(nonce);
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use warden_ledger::{Hash, verify_receipt};

    fn claims(seq: u64) -> ReceiptClaims {
        ReceiptClaims {
            iss: "warden.test/ledger".into(),
            sub: None,
            rid: format!("rec_{seq}"),
            seq,
            leaf: Hash::sha256(&seq.to_be_bytes()),
            agent_prev: None,
            iat: 1,
            time_ms: 1_000,
            bundle: None,
            outcome: None,
        }
    }

    #[test]
    fn receipts_verify_whether_or_not_the_pool_has_nonces() {
        let key = Arc::new(LedgerSigningKey::from_seed(&[4u8; 32]));
        let (signer, thread) = ReceiptSigner::start(Arc::clone(&key)).unwrap();
        // More receipts than the pool holds: some use pooled nonces, some may fall back.
        let receipts: Vec<_> = (0..CAPACITY as u64 * 2)
            .map(|seq| signer.sign(&claims(seq)).unwrap())
            .collect();
        signer.stop();
        thread.join().unwrap();
        for (seq, jws) in receipts.iter().enumerate() {
            let verified = verify_receipt(jws, &key.public_key()).unwrap();
            assert_eq!(verified.seq, seq as u64);
        }
        // Once stopped, the signer still signs (from what is left, then deterministically).
        let after = signer.sign(&claims(9_999)).unwrap();
        assert!(verify_receipt(&after, &key.public_key()).is_ok());
    }

    #[test]
    fn the_pool_fills_and_its_nonces_are_used_once() {
        let key = Arc::new(LedgerSigningKey::from_seed(&[5u8; 32]));
        let (signer, thread) = ReceiptSigner::start(Arc::clone(&key)).unwrap();
        for _ in 0..1_000 {
            if signer.lock().ready.len() >= CAPACITY {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        signer.stop();
        thread.join().unwrap();
        assert_eq!(signer.lock().ready.len(), CAPACITY);
        let a = signer.sign(&claims(1)).unwrap();
        let b = signer.sign(&claims(1)).unwrap();
        assert_eq!(signer.lock().ready.len(), CAPACITY - 2);
        // Same claims, different nonces: the signatures differ and both verify.
        assert_ne!(a, b);
        assert!(verify_receipt(&a, &key.public_key()).is_ok());
        assert!(verify_receipt(&b, &key.public_key()).is_ok());
    }
}
