//! Crash test: a `warden ledger bench` writer is SIGKILLed at pseudo-random moments while it is
//! committing batches, many times over. After every restart the ledger verifies, no seq is
//! reused, and every receipt printed before the kill (printed only once its record was durable)
//! still verifies against the ledger.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const ROUNDS: u32 = 20;
const TIME_BUDGET: Duration = Duration::from_secs(240);

fn warden(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_warden"));
    cmd.env("WARDEN_DATA_DIR", dir);
    cmd
}

/// Runs `verify --json` with the given receipts and returns (exit code, report).
fn verify(dir: &Path, receipts: &[&str]) -> (i32, serde_json::Value) {
    let file = dir.join("receipts.txt");
    std::fs::write(&file, receipts.join("\n")).unwrap();
    let out = warden(dir)
        .args(["ledger", "verify", "--json", "--receipts-file"])
        .arg(&file)
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "verify printed no JSON ({e}): {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), report)
}

#[test]
fn sigkill_mid_batch_never_loses_acknowledged_records() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let init = warden(dir).args(["ledger", "init"]).output().unwrap();
    assert!(
        init.status.success(),
        "{}",
        String::from_utf8_lossy(&init.stderr)
    );

    let started = Instant::now();
    let mut rng = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut all: BTreeMap<u64, String> = BTreeMap::new();
    let mut rounds = 0;
    let mut killed_with_receipts = 0;
    while rounds < ROUNDS && started.elapsed() < TIME_BUDGET {
        rounds += 1;
        let mut child = warden(dir)
            .args([
                "ledger",
                "bench",
                "--records",
                "100000000",
                "--writers",
                "2",
                "--in-flight",
                "4",
                "--checkpoint-every",
                "50",
                "--checkpoint-interval-ms",
                "25",
                "--print-receipts",
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<String>>()
        });
        // xorshift: kill after 50..300 ms, somewhere inside a batch.
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        std::thread::sleep(Duration::from_millis(50 + rng % 250));
        child.kill().unwrap(); // SIGKILL on Unix
        child.wait().unwrap();
        let lines = reader.join().unwrap();

        let mut round: Vec<(u64, String)> = Vec::new();
        for line in &lines {
            // A line cut by the kill is not a complete acknowledgement.
            let Some((seq, jws)) = line.split_once('\t') else {
                continue;
            };
            if jws.split('.').count() != 3 {
                continue;
            }
            round.push((seq.parse().unwrap(), jws.to_owned()));
        }
        if !round.is_empty() {
            killed_with_receipts += 1;
        }
        let previous_max = all.keys().next_back().copied();
        for (seq, jws) in &round {
            if let Some(max) = previous_max {
                assert!(
                    *seq > max,
                    "round {rounds}: seq {seq} reused (earlier max {max})"
                );
            }
            assert!(
                all.insert(*seq, jws.clone()).is_none(),
                "seq {seq} acknowledged twice"
            );
        }

        // After every kill the whole ledger verifies (chain, agent chains, checkpoints) and
        // holds every acknowledged record. Receipts are checked all together at the end.
        let (code, report) = verify(dir, &[]);
        assert_eq!(code, 0, "round {rounds}: verify failed: {report}");
        let last = report["report"]["last_seq"].as_u64().unwrap();
        if let Some(max) = all.keys().next_back() {
            assert!(
                last >= *max,
                "acknowledged seq {max} is missing (ledger ends at {last})"
            );
        }
    }
    assert!(rounds >= 5, "only {rounds} rounds ran");
    assert!(
        killed_with_receipts >= rounds / 2,
        "most rounds must kill a busy writer"
    );

    // Every receipt issued before any kill still verifies against the final ledger.
    let receipts: Vec<&str> = all.values().map(String::as_str).collect();
    let (code, report) = verify(dir, &receipts);
    assert_eq!(code, 0, "{report}");
    assert_eq!(report["report"]["receipts"], receipts.len() as u64);
}
