//! `warden policy …` driven as users run it: the real binary, real files, real exit codes.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn warden() -> Command {
    Command::new(env!("CARGO_BIN_EXE_warden"))
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn run(args: &[&str]) -> Output {
    warden().args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn bundle_dir(files: &[(&str, &[u8])]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (name, body) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
    dir
}

const RULES: &[u8] = b"rules:
  - id: no-destructive
    when: shell.destructive
    decision: deny
    reason: Destructive commands are never run.
  - id: shell-ok
    when: shell.present
    decision: allow
default: deny
";

#[test]
fn baseline_bundle_passes_its_fixtures() {
    let dir = repo().join("policies/baseline");
    let out = run(&["policy", "test", dir.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    let last = stdout.lines().last().unwrap_or_default().to_owned();
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let passed: usize = last.split(' ').next().unwrap().parse().unwrap();
    assert!(passed >= 150, "{last}");
    assert!(last.ends_with(" passed, 0 failed"), "{last}");
}

#[test]
fn lint_reports_located_errors_and_exits_1() {
    let dir = bundle_dir(&[
        ("ok.yaml", RULES),
        (
            "bad.yaml",
            b"rules:\n  - id: typo\n    when: shell.destructiv\n    decision: deny\n",
        ),
    ]);
    let out = run(&["policy", "lint", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("bad.yaml:3:"), "{stderr}");
    assert!(
        stderr.contains("unknown field `shell.destructiv`"),
        "{stderr}"
    );

    let good = bundle_dir(&[("ok.yaml", RULES)]);
    let out = run(&["policy", "lint", good.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("ok: 2 rule(s) in 1 file(s), default deny, version sha256:")
    );
}

#[test]
fn lint_refuses_invalid_utf8_and_missing_dirs() {
    let dir = bundle_dir(&[("bin.yaml", b"rules: []\n# \xff\xfe\n")]);
    let out = run(&["policy", "lint", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("not valid UTF-8"),
        "{}",
        text(&out.stderr)
    );
    let out = run(&["policy", "lint", "/nonexistent/bundle"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("is not a directory"));
}

#[test]
fn test_prints_failures_with_explanations() {
    let dir = bundle_dir(&[
        ("p.yaml", RULES),
        (
            "tests/t.yaml",
            b"cases:
  - name: destructive
    action: {kind: tool_call, tool: {name: bash, args: {command: 'rm -rf /'}}}
    expect: deny
    rules: [no-destructive]
  - name: wrong-on-purpose
    action: {kind: tool_call, tool: {name: bash, args: {command: ls}}}
    expect: deny
",
        ),
    ]);
    let out = run(&["policy", "test", dir.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(
            "FAIL tests/t.yaml:6 wrong-on-purpose: expected deny, got allow by [shell-ok]"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("MATCH  shell-ok"), "{stdout}");
    assert_eq!(stdout.lines().last(), Some("1 passed, 1 failed"));
}

#[test]
fn explain_text_and_json() {
    let dir = bundle_dir(&[("p.yaml", RULES)]);
    let input = dir.path().join("action.json");
    std::fs::write(
        &input,
        br#"{"kind":"tool_call","tool":{"name":"bash","args":{"command":"\\rm -rf ~"}}}"#,
    )
    .unwrap();
    let d = dir.path().to_str().unwrap();
    let out = run(&["policy", "explain", d, "--input", input.to_str().unwrap()]);
    assert!(out.status.success());
    let stdout = text(&out.stdout);
    assert!(
        stdout.starts_with("decision: deny\nrules:    no-destructive\n"),
        "{stdout}"
    );
    assert!(stdout.contains("shell.destructive = true"), "{stdout}");

    let out = run(&[
        "policy",
        "explain",
        d,
        "--input",
        input.to_str().unwrap(),
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["decision"]["outcome"], "deny");
    assert_eq!(v["rules"].as_array().unwrap().len(), 2);
    assert_eq!(v["facts"]["shell"]["destructive"], true);
}

#[test]
fn eval_streams_one_decision_per_line_and_survives_bad_lines() {
    let dir = bundle_dir(&[("p.yaml", RULES)]);
    let mut child = warden()
        .args([
            "policy",
            "eval",
            dir.path().to_str().unwrap(),
            "--input",
            "-",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin
        .write_all(
            b"{\"kind\":\"tool_call\",\"tool\":{\"name\":\"bash\",\"args\":{\"command\":\"ls\"}}}\n\
              not json\n\
              \n\
              {\"kind\":\"tool_call\",\"tool\":{\"name\":\"bash\",\"args\":{\"command\":\"rm -rf /\"}}}\n\
              \xff\xfe\n\
              {\"kind\":\"tool_call\",\"bogus\":1}\n",
        )
        .unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 5, "{lines:#?}");
    assert_eq!(lines[0]["outcome"], "allow");
    assert_eq!(lines[1]["line"], 2);
    assert!(
        lines[1]["error"]
            .as_str()
            .unwrap()
            .starts_with("invalid action")
    );
    assert_eq!(lines[2]["outcome"], "deny");
    assert_eq!(lines[2]["rules"][0], "no-destructive");
    assert_eq!(lines[3]["line"], 5);
    assert!(lines[3]["error"].as_str().unwrap().contains("UTF-8"));
    assert!(
        lines[4]["error"]
            .as_str()
            .unwrap()
            .contains("unknown field `bogus`")
    );
}

#[test]
fn every_example_bundle_and_action_loads() {
    // Actions shipped as examples must parse and decide under the baseline bundle.
    let baseline = repo().join("policies/baseline");
    let action = repo().join("examples/actions/destructive-shell.json");
    let out = run(&[
        "policy",
        "explain",
        baseline.to_str().unwrap(),
        "--input",
        action.to_str().unwrap(),
        "--json",
    ]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["decision"]["outcome"], "deny");
    let stream = repo().join("examples/actions/actions.jsonl");
    let out = run(&[
        "policy",
        "eval",
        baseline.to_str().unwrap(),
        "--input",
        stream.to_str().unwrap(),
    ]);
    let outcomes: Vec<String> = text(&out.stdout)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            v.get("outcome")
                .and_then(|o| o.as_str())
                .unwrap_or("error")
                .to_owned()
        })
        .collect();
    // A decoded payload piped into a shell is opaque: held for a human rather than run.
    assert_eq!(
        outcomes,
        [
            "allow",
            "require_approval",
            "require_approval",
            "remediate",
            "deny",
            "error"
        ]
    );
}
