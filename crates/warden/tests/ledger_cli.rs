//! The `warden ledger` commands end to end: init refuses to clobber, the key file is private,
//! verify exits 1 naming the bad seq on a tampered export, and show/tail/export work on both
//! live ledgers and export files.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::Path;
use std::process::{Command, Output};

fn warden(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_warden"))
        .env("WARDEN_DATA_DIR", dir)
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

#[test]
fn init_creates_a_private_key_and_refuses_to_run_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let jwk: serde_json::Value =
        serde_json::from_str(&ok(&warden(dir, &["ledger", "init"]))).unwrap();
    assert_eq!(jwk["kty"], "OKP");
    assert_eq!(jwk["crv"], "Ed25519");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("ledger-signing.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let again = warden(dir, &["ledger", "init"]);
    assert_eq!(again.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already"));
    let printed: serde_json::Value =
        serde_json::from_str(&ok(&warden(dir, &["ledger", "public-key"]))).unwrap();
    assert_eq!(printed, jwk);
    let pem = ok(&warden(dir, &["ledger", "public-key", "--format", "pem"]));
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----"));
}

#[test]
fn verify_names_the_bad_seq_of_a_tampered_export() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    ok(&warden(dir, &["ledger", "init"]));
    ok(&warden(
        dir,
        &[
            "ledger",
            "bench",
            "--records",
            "60",
            "--checkpoint-every",
            "10",
        ],
    ));
    let export = dir.join("export.jsonl");
    ok(&warden(
        dir,
        &["ledger", "export", "-o", export.to_str().unwrap()],
    ));
    let clean = ok(&warden(
        dir,
        &["ledger", "verify", "--ledger", export.to_str().unwrap()],
    ));
    assert!(clean.starts_with("ledger OK"), "{clean}");

    // Rewrite the command inside record 17 of the export.
    let text = std::fs::read_to_string(&export).unwrap();
    let tampered: Vec<String> = text
        .lines()
        .map(|l| {
            if l.contains("\"type\":\"record\"") && l.contains("\"seq\":17,") {
                l.replacen("ls -la", "rm -rf", 1)
            } else {
                l.to_owned()
            }
        })
        .collect();
    assert_ne!(
        tampered.join("\n") + "\n",
        text,
        "the test must change something"
    );
    let bad = dir.join("tampered.jsonl");
    std::fs::write(&bad, tampered.join("\n") + "\n").unwrap();
    let out = warden(
        dir,
        &[
            "ledger",
            "verify",
            "--json",
            "--ledger",
            bad.to_str().unwrap(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert_eq!(report["seq"], 17);
    assert!(
        report["problem"].as_str().unwrap().contains("hash"),
        "{report}"
    );
}

#[test]
fn show_tail_and_filtered_export() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    ok(&warden(dir, &["ledger", "init"]));
    ok(&warden(
        dir,
        &["ledger", "bench", "--records", "30", "--agents", "3"],
    ));
    let shown: serde_json::Value =
        serde_json::from_str(&ok(&warden(dir, &["ledger", "show", "5"]))).unwrap();
    assert_eq!(shown["seq"], 5);
    let id = shown["id"].as_str().unwrap().to_owned();
    let by_id: serde_json::Value =
        serde_json::from_str(&ok(&warden(dir, &["ledger", "show", &id]))).unwrap();
    assert_eq!(by_id, shown);
    let missing = warden(dir, &["ledger", "show", "999"]);
    assert_eq!(missing.status.code(), Some(2));

    let tail = ok(&warden(dir, &["ledger", "tail", "-n", "3"]));
    let seqs: Vec<u64> = tail
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["seq"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(seqs, vec![28, 29, 30]);

    let export = dir.join("agent.jsonl");
    let agent = "bench-agent-1";
    ok(&warden(
        dir,
        &[
            "ledger",
            "export",
            "--agent",
            agent,
            "-o",
            export.to_str().unwrap(),
        ],
    ));
    let out = warden(
        dir,
        &[
            "ledger",
            "verify",
            "--json",
            "--ledger",
            export.to_str().unwrap(),
        ],
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["report"]["partial"], true);
    assert_eq!(report["report"]["records"], 10);
    // show reads export files too: the first record of agent 1's export is there…
    let first_seq = std::fs::read_to_string(&export)
        .unwrap()
        .lines()
        .find_map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).ok()?;
            (v["type"] == "record").then(|| v["seq"].as_u64()).flatten()
        })
        .unwrap();
    let path = export.to_str().unwrap();
    let seq = first_seq.to_string();
    let shown: serde_json::Value = serde_json::from_str(&ok(&warden(
        dir,
        &["ledger", "show", "--ledger", path, &seq],
    )))
    .unwrap();
    assert_eq!(shown["record"]["actor"]["agent_id"], agent);
    // …and a record of another agent is not.
    let other = warden(dir, &["ledger", "show", "--ledger", path, "0"]);
    assert_eq!(other.status.code(), Some(2));
}
