//! The `warden keys` commands end to end: create prints the key alone on stdout, list shows it
//! without the secret, revoke works once, `--config` refuses agents it does not list, and a key
//! created by the binary is accepted at once by a store held open in this process while its
//! ledger appends.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use warden_ledger::{Actor, Event, KeyChange, LedgerSigningKey, RecordDraft};
use warden_store::{FixedClock, LedgerConfig, LedgerStore, SqliteKeys, SqliteLedger};

fn warden(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warden"))
        .env_remove("WARDEN_DATA_DIR")
        .args(args)
        .output()
        .unwrap()
}

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn create(dir: &Path, agent: &str) -> String {
    let out = warden(&[
        "keys",
        "create",
        "--agent",
        agent,
        "--data-dir",
        dir.to_str().unwrap(),
    ]);
    let stdout = ok(&out);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one key line: {stdout:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("shown only once"), "{stderr}");
    assert!(
        !stderr.contains(lines[0]),
        "the key is not repeated on stderr"
    );
    lines[0].to_owned()
}

fn key_id(key: &str) -> &str {
    &key[4..16]
}

#[test]
fn create_list_and_revoke() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("fresh/data");
    let dir_arg = dir.to_str().unwrap();
    let key = create(&dir, "billing-bot");
    assert!(key.starts_with("wdn_") && key.len() == 60, "{key}");
    let id = key_id(&key);

    let table = ok(&warden(&["keys", "list", "--data-dir", dir_arg]));
    assert!(table.starts_with("ID"), "{table}");
    assert!(
        table.contains(id) && table.contains("billing-bot"),
        "{table}"
    );
    assert!(!table.contains(&key[17..]), "list shows no secret: {table}");

    let json = ok(&warden(&["keys", "list", "--json", "--data-dir", dir_arg]));
    let rows: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["key_id"], id);
    assert_eq!(rows[0]["agent_id"], "billing-bot");
    assert!(rows[0]["revoked_ms"].is_null());
    assert!(!json.contains(&key[17..]));

    let store = SqliteKeys::open(&dir.join("warden.db")).unwrap();
    assert!(store.authenticate(&key).unwrap().is_some());

    let revoked = warden(&["keys", "revoke", id, "--data-dir", dir_arg]);
    assert!(revoked.status.success());
    assert_eq!(store.authenticate(&key).unwrap(), None);
    let json = ok(&warden(&["keys", "list", "--json", "--data-dir", dir_arg]));
    assert!(json.contains("\"revoked_ms\":") && !json.contains("\"revoked_ms\":null"));

    let again = warden(&["keys", "revoke", id, "--data-dir", dir_arg]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("no live key"));
}

#[test]
fn list_and_revoke_do_not_create_a_store() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("nothing-here");
    let out = warden(&["keys", "list", "--data-dir", dir.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no Warden store"));
    assert!(!dir.exists());
}

#[test]
fn a_store_must_be_named() {
    let out = warden(&["keys", "create", "--agent", "bot"]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--config"));
}

fn write_config(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("warden.yaml");
    std::fs::write(
        &path,
        "data_dir: state\npolicy: { bundle: policies }\nagents:\n  billing-bot: { tenant: acme, team: payments }\n  dev-bot: { tenant: acme, team: platform }\n",
    )
    .unwrap();
    path
}

#[test]
fn config_names_the_data_dir_and_the_known_agents() {
    let tmp = tempfile::tempdir().unwrap();
    let config = write_config(tmp.path());
    let config_arg = config.to_str().unwrap();

    let out = warden(&[
        "keys", "create", "--agent", "dev-bot", "--config", config_arg,
    ]);
    let key = ok(&out).trim_end().to_owned();
    let store = SqliteKeys::open(&tmp.path().join("state/warden.db")).unwrap();
    assert_eq!(
        store.authenticate(&key).unwrap().unwrap().agent_id,
        "dev-bot"
    );

    let refused = warden(&["keys", "create", "--agent", "rogue", "--config", config_arg]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(refused.stdout.is_empty());
    let message = String::from_utf8_lossy(&refused.stderr);
    for part in ["\"rogue\"", "agents:", config_arg, "billing-bot, dev-bot"] {
        assert!(message.contains(part), "{part} in {message}");
    }
    assert_eq!(store.list().unwrap().len(), 1, "nothing issued for rogue");
}

#[test]
fn a_key_created_by_the_binary_is_accepted_at_once_by_a_running_store() {
    let tmp = tempfile::tempdir().unwrap();
    let db = tmp.path().join("warden.db");
    let ledger = Arc::new(
        SqliteLedger::create(
            &db,
            LedgerSigningKey::from_seed(&[9u8; 32]),
            LedgerConfig::default(),
            Box::new(FixedClock(1)),
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
                let draft = RecordDraft {
                    actor: Actor::default(),
                    bundle_digest: None,
                    event: Event::KeyChange(KeyChange {
                        key_id: "k".into(),
                        change: "created".into(),
                        previous_key_id: None,
                    }),
                };
                ledger.append(draft).wait().unwrap();
                appended += 1;
            }
            appended
        })
    };
    for agent in ["a", "b", "c"] {
        let key = create(tmp.path(), agent);
        let info = gateway_keys.authenticate(&key).unwrap().unwrap();
        assert_eq!(info.agent_id, agent);
    }
    stop.store(true, Ordering::Relaxed);
    assert!(appender.join().unwrap() > 0);
}
