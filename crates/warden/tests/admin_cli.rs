//! The `warden admin token` commands end to end with the built binary: create prints the token
//! alone on stdout and it authenticates with its role and groups, list shows operators without
//! secrets (table and JSON), revoke works once, `--group` is refused for roles other than
//! approver, bad names are refused, `--config` names the data directory, and list/revoke do not
//! create a store.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::Path;
use std::process::{Command, Output};

use warden_store::{Role, SqliteOperators};

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

fn create(dir: &Path, extra: &[&str]) -> String {
    let mut args = vec![
        "admin",
        "token",
        "create",
        "--data-dir",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = warden(&args);
    let stdout = ok(&out);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 1, "one token line: {stdout:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("shown only once"), "{stderr}");
    assert!(
        !stderr.contains(lines[0]),
        "the token is not repeated on stderr"
    );
    lines[0].to_owned()
}

#[test]
fn create_list_and_revoke() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("fresh/data");
    let dir_arg = dir.to_str().unwrap();
    let token = create(
        &dir,
        &[
            "--name",
            "oncall-lead",
            "--role",
            "approver",
            "--group",
            "security-team",
            "--group",
            "dba",
        ],
    );
    assert!(token.starts_with("wdo_") && token.len() == 60, "{token}");
    let id = &token[4..16];
    let secret = &token[17..];

    let store = SqliteOperators::open(&dir.join("warden.db")).unwrap();
    let op = store.authenticate(&token).unwrap().unwrap();
    assert_eq!(op.id, id);
    assert_eq!(op.name, "oncall-lead");
    assert_eq!(op.role, Role::Approver);
    assert_eq!(op.groups, ["dba", "security-team"]);

    let table = ok(&warden(&["admin", "token", "list", "--data-dir", dir_arg]));
    assert!(table.starts_with("ID"), "{table}");
    for part in [id, "oncall-lead", "approver", "dba,security-team"] {
        assert!(table.contains(part), "{part} in {table}");
    }
    assert!(!table.contains(secret), "list shows no secret: {table}");

    let json = ok(&warden(&[
        "admin",
        "token",
        "list",
        "--json",
        "--data-dir",
        dir_arg,
    ]));
    let rows: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["id"], id);
    assert_eq!(rows[0]["name"], "oncall-lead");
    assert_eq!(rows[0]["role"], "approver");
    assert_eq!(
        rows[0]["groups"],
        serde_json::json!(["dba", "security-team"])
    );
    assert!(rows[0]["created_ms"].as_u64().unwrap() > 0);
    assert!(rows[0]["revoked_ms"].is_null());
    assert!(!json.contains(secret));

    let revoked = warden(&["admin", "token", "revoke", id, "--data-dir", dir_arg]);
    assert!(revoked.status.success());
    assert_eq!(store.authenticate(&token).unwrap(), None);
    let json = ok(&warden(&[
        "admin",
        "token",
        "list",
        "--json",
        "--data-dir",
        dir_arg,
    ]));
    assert!(json.contains("\"revoked_ms\":") && !json.contains("\"revoked_ms\":null"));

    let again = warden(&[
        "admin",
        "token",
        "revoke",
        &format!("wdo_{id}"),
        "--data-dir",
        dir_arg,
    ]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("no live operator token"));
}

#[test]
fn admins_and_auditors_take_no_groups() {
    let tmp = tempfile::tempdir().unwrap();
    let dir_arg = tmp.path().to_str().unwrap();
    for role in ["admin", "auditor"] {
        let out = warden(&[
            "admin",
            "token",
            "create",
            "--name",
            "x",
            "--role",
            role,
            "--group",
            "ops",
            "--data-dir",
            dir_arg,
        ]);
        assert_eq!(out.status.code(), Some(2), "{role}");
        assert!(out.stdout.is_empty());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("--group is only for --role approver"),
            "{stderr}"
        );
    }
    let admin = create(tmp.path(), &["--name", "root", "--role", "admin"]);
    let auditor = create(tmp.path(), &["--name", "audit", "--role", "auditor"]);
    let approver = create(tmp.path(), &["--name", "anyone", "--role", "approver"]);
    let store = SqliteOperators::open(&tmp.path().join("warden.db")).unwrap();
    let role = |t: &str| store.authenticate(t).unwrap().unwrap().role;
    assert_eq!(role(&admin), Role::Admin);
    assert_eq!(role(&auditor), Role::Auditor);
    assert_eq!(role(&approver), Role::Approver);
    assert_eq!(
        store.list().unwrap().len(),
        3,
        "nothing issued for refused calls"
    );
}

#[test]
fn bad_names_groups_and_roles_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir_arg = tmp.path().to_str().unwrap();
    let cases: [(&[&str], &str); 3] = [
        (
            &["--name", "has space", "--role", "admin"],
            "operator name \"has space\"",
        ),
        (
            &["--name", "lead", "--role", "approver", "--group", "a/b"],
            "group \"a/b\"",
        ),
        (&["--name", "lead", "--role", "root"], "root"),
    ];
    for (extra, message) in cases {
        let mut args = vec!["admin", "token", "create", "--data-dir", dir_arg];
        args.extend_from_slice(extra);
        let out = warden(&args);
        assert_eq!(out.status.code(), Some(2), "{extra:?}");
        assert!(out.stdout.is_empty());
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(message), "{message} in {stderr}");
    }
}

#[test]
fn list_and_revoke_do_not_create_a_store() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("nothing-here");
    let dir_arg = dir.to_str().unwrap();
    for args in [
        vec!["admin", "token", "list", "--data-dir", dir_arg],
        vec![
            "admin",
            "token",
            "revoke",
            "0123456789ab",
            "--data-dir",
            dir_arg,
        ],
    ] {
        let out = warden(&args);
        assert_eq!(out.status.code(), Some(2));
        assert!(String::from_utf8_lossy(&out.stderr).contains("no Warden store"));
    }
    assert!(!dir.exists());
}

#[test]
fn a_store_must_be_named() {
    let out = warden(&["admin", "token", "create", "--name", "x", "--role", "admin"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--config"));
}

#[test]
fn config_names_the_data_dir() {
    let tmp = tempfile::tempdir().unwrap();
    let config = tmp.path().join("warden.yaml");
    std::fs::write(
        &config,
        "data_dir: state\npolicy: { bundle: policies }\nagents:\n  billing-bot: { tenant: acme, team: payments }\n",
    )
    .unwrap();
    let out = warden(&[
        "admin",
        "token",
        "create",
        "--name",
        "lead",
        "--role",
        "admin",
        "--config",
        config.to_str().unwrap(),
    ]);
    let token = ok(&out).trim_end().to_owned();
    let store = SqliteOperators::open(&tmp.path().join("state/warden.db")).unwrap();
    assert_eq!(store.authenticate(&token).unwrap().unwrap().name, "lead");
}
