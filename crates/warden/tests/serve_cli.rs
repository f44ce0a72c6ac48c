//! `warden serve` and `warden quickstart` as processes: SIGHUP reloads the bundle, SIGTERM stops
//! cleanly, and the quickstart shows its three decisions and a verified ledger.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use warden_store::{LedgerReader, SqliteReader};

fn warden() -> Command {
    Command::new(env!("CARGO_BIN_EXE_warden"))
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

const RULES_V1: &str = "rules:\n  - id: llm-ok\n    kinds: [llm_request]\n    decision: allow\n    reason: ok\ndefault: deny\n";
const RULES_V2: &str = "rules:\n  - id: llm-ok\n    kinds: [llm_request]\n    decision: allow\n    reason: still ok\ndefault: deny\n";

/// The `policy_load` records of the ledger in `data`.
fn policy_loads(data: &Path) -> Vec<serde_json::Value> {
    let reader = SqliteReader::open(&data.join("warden.db")).unwrap();
    (0..reader.len().unwrap())
        .filter_map(|seq| reader.record_by_seq(seq).unwrap())
        .map(|r| serde_json::from_str::<serde_json::Value>(&r.body).unwrap())
        .filter(|r| r["event"]["type"] == "policy_load")
        .collect()
}

#[test]
fn sighup_reloads_the_bundle_and_sigterm_stops_cleanly() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("bundle")).unwrap();
    std::fs::write(dir.path().join("bundle/rules.yaml"), RULES_V1).unwrap();
    // File watching off: only SIGHUP reloads.
    std::fs::write(
        dir.path().join("warden.yaml"),
        "listen: { agents: \"127.0.0.1:0\", admin: \"127.0.0.1:0\" }\n\
         data_dir: ./data\n\
         policy: { bundle: bundle, reload: false }\n",
    )
    .unwrap();
    let mut child = warden()
        .args(["serve", "--config"])
        .arg(dir.path().join("warden.yaml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(
        first.starts_with("listening on http://127.0.0.1:"),
        "{first}"
    );
    let data = dir.path().join("data");
    assert_eq!(policy_loads(&data).len(), 1);

    std::fs::write(dir.path().join("bundle/rules.yaml"), RULES_V2).unwrap();
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-HUP", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while policy_loads(&data).len() < 2 {
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not reload the bundle"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let loads = policy_loads(&data);
    assert_eq!(
        loads[1]["event"]["previous_digest"],
        loads[0]["event"]["bundle_digest"]
    );

    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let verify = warden()
        .args(["ledger", "verify", "--data-dir"])
        .arg(&data)
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );
}

#[test]
fn a_second_gateway_on_the_same_data_directory_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("bundle")).unwrap();
    std::fs::write(dir.path().join("bundle/rules.yaml"), RULES_V1).unwrap();
    std::fs::write(
        dir.path().join("warden.yaml"),
        "listen: { agents: \"127.0.0.1:0\", admin: \"127.0.0.1:0\" }\ndata_dir: ./data\npolicy: { bundle: bundle }\n",
    )
    .unwrap();
    let mut first = warden()
        .args(["serve", "--config"])
        .arg(dir.path().join("warden.yaml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(first.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    assert!(line.starts_with("listening on"), "{line}");
    let second = warden()
        .args(["serve", "--config"])
        .arg(dir.path().join("warden.yaml"))
        .output()
        .unwrap();
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(second.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("another `warden serve`"), "{stderr}");
}

#[test]
fn a_bundle_that_does_not_load_stops_the_gateway_from_starting() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("bundle")).unwrap();
    std::fs::write(
        dir.path().join("bundle/rules.yaml"),
        "rules:\n  - id: x\n    when: \"tool.name ==\"\n    decision: allow\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("warden.yaml"),
        "data_dir: ./data\npolicy: { bundle: bundle }\n",
    )
    .unwrap();
    let out = warden()
        .args(["serve", "--config"])
        .arg(dir.path().join("warden.yaml"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "it must not claim to listen");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("rules.yaml:3"), "{stderr}");
}

#[test]
fn quickstart_shows_allowed_denied_and_remediated_calls_and_a_verified_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let work = dir.path().join("qs");
    let out = warden()
        .args(["quickstart", "--bundle"])
        .arg(repo().join("policies/baseline"))
        .arg("--dir")
        .arg(&work)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("delivered to the agent: bash({\"command\":\"ls -la /var/log\"})"),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "Warden blocked the call to tool `bash` (outcome: deny; rule: shell-destructive)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("SELECT * FROM customers LIMIT 1000"),
        "{stdout}"
    );
    assert!(stdout.contains("ledger OK"), "{stdout}");
    assert!(
        stdout.contains("HTTP 402: budget exhausted for run:quickstart-run-1 (total window)"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("rm -rf"),
        "the denied command reached the agent: {stdout}"
    );
    assert!(work.join("data/warden.db").is_file());
}
