//! Operator tokens on real database files: issue and authenticate with role and groups, nothing
//! secret at rest, refusal of wrong, revoked and hostile tokens, name and group validation, and
//! tokens that never authenticate as agent keys (nor the reverse).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::secret_of;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use rusqlite::Connection;
use warden_store::{InvalidInput, Role, SqliteKeys, SqliteOperators, StoreError};

fn store() -> (tempfile::TempDir, SqliteOperators) {
    let dir = tempfile::tempdir().unwrap();
    let ops = SqliteOperators::open(&dir.path().join("warden.db")).unwrap();
    (dir, ops)
}

fn groups(names: &[&str]) -> Vec<String> {
    names.iter().map(|g| (*g).to_owned()).collect()
}

fn invalid_input(err: &StoreError) -> Option<&InvalidInput> {
    InvalidInput::of(err)
}

#[test]
fn sqlite_operators_is_send_and_sync() {
    fn shared<T: Send + Sync>() {}
    shared::<SqliteOperators>();
}

#[test]
fn a_created_token_authenticates_its_operator_with_role_and_groups() {
    let (_dir, ops) = store();
    let issued = ops
        .create(
            "oncall-lead",
            Role::Approver,
            &groups(&["security-team", "dba", "security-team"]),
            1_000,
        )
        .unwrap();
    let op = &issued.operator;
    assert_eq!(op.id.len(), 12);
    assert!(issued.secret.starts_with(&format!("wdo_{}_", op.id)));
    assert_eq!(issued.secret.len(), 60);
    assert_eq!(
        op.groups,
        groups(&["dba", "security-team"]),
        "sorted, deduplicated"
    );

    let found = ops.authenticate(&issued.secret).unwrap().unwrap();
    assert_eq!(&found, op);
    assert_eq!(found.name, "oncall-lead");
    assert_eq!(found.role, Role::Approver);
    assert_eq!(found.created_ms, 1_000);
    assert_eq!(found.revoked_ms, None);
    assert_eq!(ops.list().unwrap(), vec![found]);
}

#[test]
fn list_is_newest_first() {
    let (_dir, ops) = store();
    ops.create("first", Role::Admin, &[], 1).unwrap();
    ops.create("second", Role::Auditor, &[], 2).unwrap();
    let names: Vec<String> = ops.list().unwrap().into_iter().map(|o| o.name).collect();
    assert_eq!(names, ["second", "first"]);
}

#[test]
fn the_stored_row_holds_no_secret() {
    let (dir, ops) = store();
    let issued = ops.create("lead", Role::Admin, &[], 5).unwrap();
    let secret_part = secret_of(&issued.secret).to_owned();
    let conn = Connection::open(dir.path().join("warden.db")).unwrap();
    let mut stmt = conn.prepare("SELECT * FROM operators").unwrap();
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
            assert!(
                !text.contains(&issued.secret),
                "column {col} holds the token"
            );
        }
    }
    assert_eq!(seen, 1);
}

#[test]
fn a_revoked_token_no_longer_authenticates() {
    let (_dir, ops) = store();
    let keep = ops.create("keep", Role::Auditor, &[], 1).unwrap();
    let gone = ops.create("gone", Role::Admin, &[], 1).unwrap();
    assert!(ops.revoke(&gone.operator.id, 9).unwrap());
    assert!(!ops.revoke(&gone.operator.id, 10).unwrap(), "only once");
    assert!(!ops.revoke("000000000000", 10).unwrap(), "unknown id");
    assert_eq!(ops.authenticate(&gone.secret).unwrap(), None);
    assert!(ops.authenticate(&keep.secret).unwrap().is_some());
    let listed = ops.list().unwrap();
    let gone_row = listed.iter().find(|o| o.name == "gone").unwrap();
    assert_eq!(gone_row.revoked_ms, Some(9));
}

#[test]
fn hostile_and_wrong_tokens_are_refused() {
    let (_dir, ops) = store();
    let issued = ops.create("lead", Role::Admin, &[], 1).unwrap();
    let token = issued.secret.clone();
    let id = issued.operator.id.clone();
    let other_secret = format!("wdo_{id}_{}", "A".repeat(43));
    let hostile = [
        String::new(),
        "wdo_".into(),
        format!("wdo_{id}"),
        format!("wdo_{id}_"),
        other_secret,
        format!("{token} "),
        format!(" {token}"),
        token.to_uppercase(),
        token.replacen("wdo_", "wdn_", 1),
        format!("wdo_{id}_{}", "é".repeat(21)),
        "wdo_' OR 1=1 --_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".into(),
        "\0".repeat(60),
        "x".repeat(100_000),
    ];
    for bad in &hostile {
        assert_eq!(ops.authenticate(bad).unwrap(), None, "{bad:?}");
    }
    TestRunner::default()
        .run(&any::<String>(), |s| {
            prop_assert_eq!(ops.authenticate(&s).unwrap(), None);
            Ok(())
        })
        .unwrap();
}

#[test]
fn operator_tokens_and_agent_keys_do_not_cross() {
    let (dir, ops) = store();
    let keys = SqliteKeys::open(&dir.path().join("warden.db")).unwrap();
    let token = ops.create("lead", Role::Admin, &[], 1).unwrap();
    let key = keys.create("bot", 1).unwrap();
    assert_eq!(keys.authenticate(&token.secret).unwrap(), None);
    assert_eq!(ops.authenticate(&key.secret).unwrap(), None);
}

#[test]
fn bad_names_and_groups_are_refused_with_the_field() {
    let (_dir, ops) = store();
    for bad in ["", "has space", "new\nline", "slash/y", &"n".repeat(65)] {
        let err = ops.create(bad, Role::Admin, &[], 1).unwrap_err();
        assert_eq!(
            invalid_input(&err),
            Some(&InvalidInput::Name {
                field: "operator name",
                value: bad.to_owned()
            }),
            "{bad:?}"
        );
    }
    let err = ops
        .create("lead", Role::Approver, &groups(&["ok", "not ok"]), 1)
        .unwrap_err();
    assert!(err.to_string().contains("group \"not ok\""), "{err}");
    let err = ops
        .create("lead", Role::Admin, &groups(&["security-team"]), 1)
        .unwrap_err();
    assert_eq!(
        invalid_input(&err),
        Some(&InvalidInput::GroupsWithoutApprover(Role::Admin))
    );
    assert!(ops.list().unwrap().is_empty(), "nothing stored");
}

#[test]
fn an_approver_may_have_no_groups() {
    let (_dir, ops) = store();
    let issued = ops.create("anyone", Role::Approver, &[], 1).unwrap();
    assert!(issued.operator.groups.is_empty());
}

#[test]
fn issued_token_debug_hides_the_secret() {
    let (_dir, ops) = store();
    let issued = ops.create("lead", Role::Admin, &[], 1).unwrap();
    let shown = format!("{issued:?}");
    assert!(!shown.contains(&issued.secret), "{shown}");
    assert!(shown.contains("lead"));
}
