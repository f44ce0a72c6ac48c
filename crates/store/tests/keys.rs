//! Agent API keys on real database files: issue and authenticate, nothing secret at rest,
//! refusal of wrong, revoked and malformed keys (a table of hostile strings and a property),
//! and a key issued through one connection accepted at once through another while the ledger
//! writer appends to the same file.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use common::secret_of;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use rusqlite::Connection;
use warden_ledger::{Actor, Event, KeyChange, LedgerSigningKey, RecordDraft};
use warden_store::{FixedClock, LedgerConfig, LedgerStore, SqliteKeys, SqliteLedger};

fn store() -> (tempfile::TempDir, SqliteKeys) {
    let dir = tempfile::tempdir().unwrap();
    let keys = SqliteKeys::open(&dir.path().join("warden.db")).unwrap();
    (dir, keys)
}

#[test]
fn sqlite_keys_is_send_and_sync() {
    fn shared<T: Send + Sync>() {}
    shared::<SqliteKeys>();
}

#[test]
fn a_created_key_authenticates_its_agent() {
    let (_dir, keys) = store();
    let issued = keys.create("billing-bot", 1_000).unwrap();
    assert_eq!(issued.agent_id, "billing-bot");
    assert_eq!(issued.key_id.len(), 12);
    assert!(
        issued
            .secret
            .starts_with(&format!("wdn_{}_", issued.key_id))
    );
    assert_eq!(issued.secret.len(), 60);
    let info = keys.authenticate(&issued.secret).unwrap().unwrap();
    assert_eq!(info.agent_id, "billing-bot");
    assert_eq!(info.key_id, issued.key_id);
    assert_eq!(info.created_ms, 1_000);
    assert_eq!(info.revoked_ms, None);
}

#[test]
fn keys_are_distinct() {
    let (_dir, keys) = store();
    let a = keys.create("bot", 1).unwrap();
    let b = keys.create("bot", 1).unwrap();
    assert_ne!(a.key_id, b.key_id);
    assert_ne!(a.secret, b.secret);
}

#[test]
fn the_stored_row_holds_no_secret() {
    let (dir, keys) = store();
    let issued = keys.create("bot", 5).unwrap();
    let secret_part = secret_of(&issued.secret).to_owned();
    let conn = Connection::open(dir.path().join("warden.db")).unwrap();
    let mut stmt = conn.prepare("SELECT * FROM keys_agent").unwrap();
    let columns = stmt.column_count();
    let mut rows = stmt.query([]).unwrap();
    let mut seen = 0;
    while let Some(row) = rows.next().unwrap() {
        seen += 1;
        for col in 0..columns {
            let bytes: Vec<u8> = match row.get_ref(col).unwrap() {
                rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => {
                    t.to_vec()
                }
                other => format!("{other:?}").into_bytes(),
            };
            let text = String::from_utf8_lossy(&bytes);
            assert!(
                !text.contains(&secret_part),
                "column {col} holds the secret"
            );
            assert!(!text.contains(&issued.secret), "column {col} holds the key");
        }
    }
    assert_eq!(seen, 1);
}

#[test]
fn wrong_secret_wrong_id_and_revoked_keys_are_refused() {
    let (_dir, keys) = store();
    let issued = keys.create("bot", 1).unwrap();
    let other = keys.create("other", 2).unwrap();

    // The right id with another key's secret.
    let swapped = format!("wdn_{}_{}", issued.key_id, secret_of(&other.secret));
    assert_eq!(keys.authenticate(&swapped).unwrap(), None);
    // An id nobody holds with a real secret.
    let unknown = issued.secret.replacen(&issued.key_id, "000000000000", 1);
    assert_eq!(keys.authenticate(&unknown).unwrap(), None);

    assert!(keys.revoke(&issued.key_id, 10).unwrap());
    assert_eq!(keys.authenticate(&issued.secret).unwrap(), None);
    assert!(!keys.revoke(&issued.key_id, 11).unwrap(), "already revoked");
    assert!(!keys.revoke("nosuchkey000", 11).unwrap());
    assert_eq!(
        keys.authenticate(&other.secret).unwrap().unwrap().agent_id,
        "other"
    );
}

#[test]
fn a_key_in_use_is_refused_as_soon_as_another_process_revokes_it() {
    let (dir, keys) = store();
    let issued = keys.create("bot", 1).unwrap();
    let other = keys.create("other", 2).unwrap();
    // Used twice: the second answer comes from the keys remembered in memory.
    for _ in 0..2 {
        assert_eq!(
            keys.authenticate(&issued.secret).unwrap().unwrap().agent_id,
            "bot"
        );
        assert_eq!(
            keys.authenticate(&other.secret).unwrap().unwrap().agent_id,
            "other"
        );
    }
    // A remembered id is no shortcut for a wrong secret.
    let swapped = format!("wdn_{}_{}", issued.key_id, secret_of(&other.secret));
    assert_eq!(keys.authenticate(&swapped).unwrap(), None);

    // `warden keys revoke` in another process: its own store on the same file.
    let revoker = SqliteKeys::open(&dir.path().join("warden.db")).unwrap();
    assert!(revoker.revoke(&issued.key_id, 10).unwrap());
    assert_eq!(keys.authenticate(&issued.secret).unwrap(), None);
    assert_eq!(keys.authenticate(&issued.secret).unwrap(), None);
    assert_eq!(
        keys.authenticate(&other.secret).unwrap().unwrap().agent_id,
        "other",
        "the other key is still accepted (read again from the database)"
    );
}

#[test]
fn list_is_newest_first_with_revocations() {
    let (_dir, keys) = store();
    let old = keys.create("a", 100).unwrap();
    let new = keys.create("b", 200).unwrap();
    keys.revoke(&old.key_id, 300).unwrap();
    let listed = keys.list().unwrap();
    let ids: Vec<_> = listed.iter().map(|k| k.key_id.as_str()).collect();
    assert_eq!(ids, [new.key_id.as_str(), old.key_id.as_str()]);
    assert_eq!(listed[1].revoked_ms, Some(300));
    assert_eq!(listed[0].revoked_ms, None);
    assert_eq!(listed[0].created_ms, 200);
}

#[test]
fn hostile_strings_are_not_keys() {
    let (_dir, keys) = store();
    let issued = keys.create("bot", 1).unwrap();
    let secret = issued.secret.clone();
    let id = issued.key_id.clone();
    let long = "wdn_".to_owned() + &"a".repeat(1 << 20);
    let hostile: Vec<String> = vec![
        String::new(),
        "wdn_".into(),
        "wdn__".into(),
        format!("wdn_{id}_"),
        format!("wdn_{id}_!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!"),
        format!("wdn_{id}_{}", "=".repeat(43)),
        format!("Bearer {secret}"),
        format!("{secret} "),
        format!(" {secret}"),
        format!("{secret}\n"),
        format!("{secret}A"),
        secret[..secret.len() - 1].to_owned(),
        secret.to_uppercase(),
        secret.replacen("wdn_", "WDN_", 1),
        secret.replacen('_', "-", 1),
        secret.replace('_', "\u{0}"),
        format!("wdn_{id}_{}", "\u{fffd}".repeat(15)),
        format!("wdn_{}_{}", "é".repeat(6), &secret[17..]),
        format!("wdn_{id}_{}", "é".repeat(21) + "A"),
        long,
    ];
    for text in &hostile {
        assert_eq!(keys.authenticate(text).unwrap(), None, "{text:?}");
    }
    assert!(keys.authenticate(&secret).unwrap().is_some());
}

#[test]
fn arbitrary_text_never_authenticates() {
    let (_dir, keys) = store();
    let issued = keys.create("bot", 1).unwrap();
    let mut runner = TestRunner::new(ProptestConfig::with_cases(512));
    let inputs = (".{0,80}", "[A-Za-z0-9_-]{0,50}");
    runner
        .run(&inputs, |(text, tail)| {
            prop_assert_eq!(keys.authenticate(&text).unwrap(), None);
            let forged = format!("wdn_{}_{tail}", issued.key_id);
            prop_assume!(forged != issued.secret);
            prop_assert_eq!(keys.authenticate(&forged).unwrap(), None);
            Ok(())
        })
        .unwrap();
}

fn ledger_draft() -> RecordDraft {
    RecordDraft {
        actor: Actor {
            principal: Some("keys test".into()),
            ..Actor::default()
        },
        bundle_digest: None,
        event: Event::KeyChange(KeyChange {
            key_id: "test".into(),
            change: "created".into(),
            previous_key_id: None,
        }),
    }
}

#[test]
fn a_key_created_through_one_store_is_accepted_by_another_while_the_ledger_appends() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("warden.db");
    let ledger = Arc::new(
        SqliteLedger::create(
            &db,
            LedgerSigningKey::from_seed(&[3u8; 32]),
            LedgerConfig::default(),
            Box::new(FixedClock(1_000)),
        )
        .unwrap(),
    );
    let gateway_keys = SqliteKeys::open(&db).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let appender = {
        let (ledger, stop) = (Arc::clone(&ledger), Arc::clone(&stop));
        std::thread::spawn(move || {
            let mut appended = 0u64;
            while !stop.load(Ordering::Relaxed) {
                ledger.append(ledger_draft()).wait().unwrap();
                appended += 1;
            }
            appended
        })
    };
    // The admin side: its own connection, as `warden keys create` in another process has.
    let mut issued = Vec::new();
    for i in 0..20 {
        let admin_keys = SqliteKeys::open(&db).unwrap();
        let key = admin_keys.create(&format!("agent-{i}"), 2_000 + i).unwrap();
        drop(admin_keys);
        let info = gateway_keys.authenticate(&key.secret).unwrap().unwrap();
        assert_eq!(info.agent_id, format!("agent-{i}"));
        issued.push(key);
    }
    let revoker = SqliteKeys::open(&db).unwrap();
    assert!(revoker.revoke(&issued[0].key_id, 9_000).unwrap());
    assert_eq!(gateway_keys.authenticate(&issued[0].secret).unwrap(), None);
    stop.store(true, Ordering::Relaxed);
    let appended = appender.join().unwrap();
    assert!(appended > 0, "the ledger appended while keys were issued");
    assert_eq!(gateway_keys.list().unwrap().len(), 20);
}
