//! Halts on real database files: global and per-agent halts, resume of each without touching the
//! other, idempotent re-halting, validation of agent ids, and a halt written by one connection
//! seen at once by another.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use warden_store::{Halt, InvalidInput, SqliteHalts};

fn store() -> (tempfile::TempDir, SqliteHalts) {
    let dir = tempfile::tempdir().unwrap();
    let halts = SqliteHalts::open(&dir.path().join("warden.db")).unwrap();
    (dir, halts)
}

fn halt(agent: Option<&str>, reason: &str, by: &str, since_ms: u64) -> Halt {
    Halt {
        agent_id: agent.map(str::to_owned),
        reason: reason.into(),
        by: by.into(),
        since_ms,
    }
}

#[test]
fn sqlite_halts_is_send_and_sync() {
    fn shared<T: Send + Sync>() {}
    shared::<SqliteHalts>();
}

#[test]
fn global_and_agent_halts_are_listed_global_first() {
    let (_dir, halts) = store();
    assert!(halts.list().unwrap().is_empty());
    let agent = halts
        .halt(Some("billing-bot"), "runaway spend", "soc-lead", 100)
        .unwrap();
    assert_eq!(
        agent,
        halt(Some("billing-bot"), "runaway spend", "soc-lead", 100)
    );
    let global = halts.halt(None, "incident 42", "ciso", 200).unwrap();
    assert_eq!(global, halt(None, "incident 42", "ciso", 200));
    halts
        .halt(Some("dev-bot"), "probing", "soc-lead", 150)
        .unwrap();
    assert_eq!(
        halts.list().unwrap(),
        [
            global,
            agent,
            halt(Some("dev-bot"), "probing", "soc-lead", 150)
        ]
    );
}

#[test]
fn resume_lifts_one_halt_and_reports_whether_there_was_one() {
    let (_dir, halts) = store();
    halts.halt(None, "incident", "ciso", 1).unwrap();
    halts.halt(Some("billing-bot"), "spend", "soc", 2).unwrap();
    assert!(!halts.resume(Some("dev-bot")).unwrap(), "never halted");
    assert!(halts.resume(None).unwrap());
    assert!(!halts.resume(None).unwrap(), "only once");
    assert_eq!(
        halts.list().unwrap(),
        [halt(Some("billing-bot"), "spend", "soc", 2)],
        "the agent halt outlives the global one"
    );
    assert!(halts.resume(Some("billing-bot")).unwrap());
    assert!(halts.list().unwrap().is_empty());
}

#[test]
fn halting_again_updates_reason_and_by_and_keeps_since() {
    let (_dir, halts) = store();
    halts
        .halt(Some("billing-bot"), "spend", "soc", 100)
        .unwrap();
    let again = halts
        .halt(Some("billing-bot"), "spend, confirmed", "ciso", 500)
        .unwrap();
    assert_eq!(
        again,
        halt(Some("billing-bot"), "spend, confirmed", "ciso", 100)
    );
    assert_eq!(halts.list().unwrap(), [again]);
    halts.halt(None, "a", "x", 1).unwrap();
    halts.halt(None, "b", "y", 2).unwrap();
    assert_eq!(halts.list().unwrap().len(), 2, "one global halt");
}

#[test]
fn an_agent_named_like_the_global_scope_is_its_own_halt() {
    let (_dir, halts) = store();
    halts.halt(Some("*"), "odd name", "soc", 1).unwrap();
    assert!(!halts.resume(None).unwrap(), "no global halt");
    assert_eq!(halts.list().unwrap()[0].agent_id.as_deref(), Some("*"));
}

#[test]
fn empty_and_control_character_agent_ids_are_refused() {
    let (_dir, halts) = store();
    for bad in ["", "bot\n", "bot\u{1b}[31m"] {
        let err = halts.halt(Some(bad), "r", "soc", 1).unwrap_err();
        assert_eq!(
            InvalidInput::of(&err),
            Some(&InvalidInput::Agent(bad.to_owned())),
            "{bad:?}"
        );
    }
    assert!(halts.list().unwrap().is_empty());
}

#[test]
fn a_halt_is_seen_at_once_through_another_connection() {
    let (dir, halts) = store();
    let gateway = SqliteHalts::open(&dir.path().join("warden.db")).unwrap();
    assert!(gateway.list().unwrap().is_empty());
    halts.halt(Some("billing-bot"), "spend", "soc", 1).unwrap();
    assert_eq!(gateway.list().unwrap().len(), 1);
    halts.resume(Some("billing-bot")).unwrap();
    assert!(gateway.list().unwrap().is_empty());
}
