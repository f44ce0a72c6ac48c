//! Untrusted bytes — receipts, checkpoint notes, export lines, stored records — are rejected
//! with an error, never a panic.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use warden_ledger::export::parse_line;
use warden_ledger::{Checkpoint, LedgerSigningKey, RecordEntry, Verifier, verify_receipt};

fn key() -> LedgerSigningKey {
    LedgerSigningKey::from_seed(&[3u8; 32])
}

proptest! {
    #[test]
    fn receipts_never_panic(text in ".{0,200}", dots in "[A-Za-z0-9_-]{0,40}\\.[A-Za-z0-9_-]{0,60}\\.[A-Za-z0-9_-]{0,90}") {
        prop_assert!(verify_receipt(&text, &key().public_key()).is_err());
        prop_assert!(verify_receipt(&dots, &key().public_key()).is_err());
    }

    #[test]
    fn checkpoints_never_panic(origin in "[a-z./]{0,20}", size in "[0-9]{0,22}", root in "[A-Za-z0-9+/=]{0,50}", sig in ".{0,100}") {
        let text = format!("{origin}\n{size}\n{root}\n\n\u{2014} {origin} {sig}\n");
        let _ = Checkpoint::verify(&text, &key().public_key());
        let _ = Checkpoint::verify(&sig, &key().public_key());
    }

    #[test]
    fn export_lines_and_records_never_panic(text in ".{0,300}", seq in any::<u64>()) {
        let _ = parse_line(&text, 1);
        let mut v = Verifier::new(key().public_key(), None);
        let body = format!(r#"{{"v":1,"seq":{seq},"prev":"{text}","actor":{{}}}}"#);
        let _ = v.record(RecordEntry { stored_seq: Some(seq), claimed_hash: None, bytes: body.as_bytes(), proof: None });
        let _ = v.record(RecordEntry { stored_seq: None, claimed_hash: None, bytes: text.as_bytes(), proof: None });
        let _ = v.checkpoint(&text);
        let _ = v.finish();
    }
}
