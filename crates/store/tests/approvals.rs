//! Approval requests on real database files: quorum counting over distinct approvers, one vote per
//! operator, group membership, deny deciding at once, decided and expired requests refusing votes,
//! `expire_due`, grants bound to agent, action digest, bundle digest and TTL, and two connections
//! voting at once on a quorum-1 request with exactly one winner.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::path::Path;
use std::sync::{Arc, Barrier};

use serde_json::json;
use warden_store::{
    ApprovalRequest, ApprovalState, ApprovalStatus, InvalidInput, Operator, Role, SqliteApprovals,
    VoteError,
};

const REQUESTED: u64 = 10_000;
const EXPIRES: u64 = 70_000;
const TTL: u64 = 600_000;

fn store() -> (tempfile::TempDir, SqliteApprovals) {
    let dir = tempfile::tempdir().unwrap();
    let approvals = SqliteApprovals::open(&dir.path().join("warden.db")).unwrap();
    (dir, approvals)
}

fn request(approvers: &[&str], quorum: u32) -> ApprovalRequest {
    ApprovalRequest {
        id: String::new(),
        agent_id: "billing-bot".into(),
        tool: "sql_execute".into(),
        action: json!({"query": "UPDATE invoices SET paid = 1"}),
        action_digest: "sha256:aaaa".into(),
        bundle_digest: "sha256:bbbb".into(),
        rule_ids: vec!["prod-writes-need-approval".into()],
        reason: "writes to production".into(),
        approvers: approvers.iter().map(|g| (*g).to_owned()).collect(),
        quorum,
        requested_ms: REQUESTED,
        expires_ms: EXPIRES,
        grant_ttl_ms: TTL,
        decision_record: "rec_0000000000000001".into(),
    }
}

fn approver(id: &str, groups: &[&str]) -> Operator {
    Operator {
        id: id.into(),
        name: format!("name-{id}"),
        role: Role::Approver,
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        created_ms: 1,
        revoked_ms: None,
    }
}

fn created(approvals: &SqliteApprovals, approvers: &[&str], quorum: u32) -> ApprovalState {
    approvals.create(request(approvers, quorum)).unwrap()
}

#[test]
fn sqlite_approvals_is_send_and_sync() {
    fn shared<T: Send + Sync>() {}
    shared::<SqliteApprovals>();
}

#[test]
fn create_assigns_an_id_and_get_reads_it_back() {
    let (_dir, approvals) = store();
    let state = created(&approvals, &["security-team"], 1);
    let id = &state.request.id;
    assert!(id.starts_with("apr_") && id.len() == 20, "{id}");
    assert!(id[4..].bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(state.status, ApprovalStatus::Pending);
    assert_eq!(state.decided_ms, None);
    assert_eq!(approvals.get(id).unwrap().unwrap(), state);
    assert_eq!(approvals.get("apr_missing").unwrap(), None);
    let other = created(&approvals, &[], 1);
    assert_ne!(other.request.id, state.request.id);
}

#[test]
fn a_zero_quorum_is_refused() {
    let (_dir, approvals) = store();
    let err = approvals.create(request(&[], 0)).unwrap_err();
    assert_eq!(InvalidInput::of(&err), Some(&InvalidInput::ZeroQuorum));
}

#[test]
fn a_quorum_of_two_needs_two_distinct_approvers() {
    let (_dir, approvals) = store();
    let id = created(&approvals, &["security-team"], 2).request.id;
    let alice = approver("a1", &["security-team"]);
    let bob = approver("b2", &["dba", "security-team"]);

    let after_one = approvals
        .vote(&id, &alice, true, Some("looks fine"), 20_000)
        .unwrap();
    assert_eq!(after_one.status, ApprovalStatus::Pending);
    assert_eq!(after_one.votes.len(), 1);
    assert_eq!(after_one.votes[0].operator_name, "name-a1");
    assert_eq!(after_one.votes[0].reason.as_deref(), Some("looks fine"));

    let again = approvals.vote(&id, &alice, true, None, 21_000);
    assert!(matches!(again, Err(VoteError::AlreadyVoted)), "{again:?}");
    assert_eq!(approvals.get(&id).unwrap().unwrap().votes.len(), 1);

    let after_two = approvals.vote(&id, &bob, true, None, 30_000).unwrap();
    assert_eq!(after_two.status, ApprovalStatus::Approved);
    assert_eq!(after_two.decided_ms, Some(30_000));
    assert_eq!(after_two.votes.len(), 2);
    assert_eq!(approvals.get(&id).unwrap().unwrap(), after_two);
}

#[test]
fn an_approver_of_the_wrong_group_is_refused() {
    let (_dir, approvals) = store();
    let id = created(&approvals, &["security-team"], 1).request.id;
    let outsider = approver("c3", &["dba"]);
    match approvals.vote(&id, &outsider, true, None, 20_000) {
        Err(VoteError::NotAnApprover { needed }) => assert_eq!(needed, ["security-team"]),
        other => panic!("{other:?}"),
    }
    let groupless = approver("d4", &[]);
    assert!(matches!(
        approvals.vote(&id, &groupless, true, None, 20_000),
        Err(VoteError::NotAnApprover { .. })
    ));
    let state = approvals.get(&id).unwrap().unwrap();
    assert_eq!(state.status, ApprovalStatus::Pending);
    assert!(state.votes.is_empty());
}

#[test]
fn a_request_naming_no_group_takes_any_approver_but_not_other_roles() {
    let (_dir, approvals) = store();
    let id = created(&approvals, &[], 1).request.id;
    let mut admin = approver("e5", &[]);
    admin.role = Role::Admin;
    assert!(matches!(
        approvals.vote(&id, &admin, true, None, 20_000),
        Err(VoteError::NotAnApprover { .. })
    ));
    let state = approvals
        .vote(&id, &approver("d4", &[]), true, None, 20_000)
        .unwrap();
    assert_eq!(state.status, ApprovalStatus::Approved);
}

#[test]
fn a_deny_decides_at_once_and_decided_requests_take_no_votes() {
    let (_dir, approvals) = store();
    let id = created(&approvals, &["security-team"], 3).request.id;
    let alice = approver("a1", &["security-team"]);
    let bob = approver("b2", &["security-team"]);
    approvals.vote(&id, &alice, true, None, 20_000).unwrap();
    let denied = approvals
        .vote(&id, &bob, false, Some("not today"), 25_000)
        .unwrap();
    assert_eq!(denied.status, ApprovalStatus::Denied);
    assert_eq!(denied.decided_ms, Some(25_000));

    let carol = approver("c3", &["security-team"]);
    let late = approvals.vote(&id, &carol, true, None, 26_000);
    assert!(
        matches!(late, Err(VoteError::AlreadyDecided(ApprovalStatus::Denied))),
        "{late:?}"
    );
    assert_eq!(approvals.get(&id).unwrap().unwrap().votes.len(), 2);
}

#[test]
fn voting_on_an_approved_request_is_already_decided() {
    let (_dir, approvals) = store();
    let id = created(&approvals, &[], 1).request.id;
    approvals
        .vote(&id, &approver("a1", &[]), true, None, 20_000)
        .unwrap();
    let second = approvals.vote(&id, &approver("b2", &[]), false, None, 20_001);
    assert!(matches!(
        second,
        Err(VoteError::AlreadyDecided(ApprovalStatus::Approved))
    ));
}

#[test]
fn unknown_requests_are_not_found() {
    let (_dir, approvals) = store();
    let vote = approvals.vote("apr_0000000000000000", &approver("a1", &[]), true, None, 1);
    assert!(matches!(vote, Err(VoteError::NotFound)));
}

#[test]
fn a_vote_at_or_after_expiry_expires_the_request() {
    let (_dir, approvals) = store();
    let id = created(&approvals, &[], 1).request.id;
    let alice = approver("a1", &[]);
    let vote = approvals.vote(&id, &alice, true, None, EXPIRES);
    assert!(matches!(vote, Err(VoteError::Expired)), "{vote:?}");
    let state = approvals.get(&id).unwrap().unwrap();
    assert_eq!(state.status, ApprovalStatus::Expired);
    assert_eq!(state.decided_ms, Some(EXPIRES));
    assert!(state.votes.is_empty());
    let again = approvals.vote(&id, &alice, true, None, EXPIRES + 1);
    assert!(matches!(
        again,
        Err(VoteError::AlreadyDecided(ApprovalStatus::Expired))
    ));
}

#[test]
fn expire_due_marks_only_pending_requests_that_are_due() {
    let (_dir, approvals) = store();
    let due = created(&approvals, &[], 1).request.id;
    let mut later = request(&[], 1);
    later.expires_ms = EXPIRES + 10_000;
    let later = approvals.create(later).unwrap().request.id;
    let decided = created(&approvals, &[], 1).request.id;
    approvals
        .vote(&decided, &approver("a1", &[]), true, None, 20_000)
        .unwrap();

    assert!(approvals.expire_due(EXPIRES - 1).unwrap().is_empty());
    let expired = approvals.expire_due(EXPIRES).unwrap();
    assert_eq!(expired.len(), 1);
    assert_eq!(expired[0].request.id, due);
    assert_eq!(expired[0].status, ApprovalStatus::Expired);
    assert_eq!(expired[0].decided_ms, Some(EXPIRES));
    assert!(
        approvals.expire_due(EXPIRES).unwrap().is_empty(),
        "only once"
    );
    let status = |id: &str| approvals.get(id).unwrap().unwrap().status;
    assert_eq!(status(&later), ApprovalStatus::Pending);
    assert_eq!(status(&decided), ApprovalStatus::Approved);
}

#[test]
fn list_is_newest_first_and_filters_by_status() {
    let (_dir, approvals) = store();
    let mut ids = Vec::new();
    for i in 0..4 {
        let mut r = request(&[], 1);
        r.requested_ms = REQUESTED + i;
        ids.push(approvals.create(r).unwrap().request.id);
    }
    approvals
        .vote(&ids[1], &approver("a1", &[]), true, None, 20_000)
        .unwrap();
    let all: Vec<String> = approvals
        .list(None, 10)
        .unwrap()
        .into_iter()
        .map(|s| s.request.id)
        .collect();
    assert_eq!(
        all,
        [
            ids[3].clone(),
            ids[2].clone(),
            ids[1].clone(),
            ids[0].clone()
        ]
    );
    assert_eq!(approvals.list(None, 2).unwrap().len(), 2);
    let approved = approvals.list(Some(ApprovalStatus::Approved), 10).unwrap();
    assert_eq!(approved.len(), 1);
    assert_eq!(approved[0].request.id, ids[1]);
    assert_eq!(approved[0].votes.len(), 1);
    assert_eq!(
        approvals
            .list(Some(ApprovalStatus::Pending), 10)
            .unwrap()
            .len(),
        3
    );
}

#[test]
fn find_grant_honours_agent_digests_and_ttl() {
    let (_dir, approvals) = store();
    let id = created(&approvals, &[], 1).request.id;
    let (agent, action, bundle) = ("billing-bot", "sha256:aaaa", "sha256:bbbb");
    assert_eq!(
        approvals.find_grant(agent, action, bundle, 20_000).unwrap(),
        None,
        "pending is no grant"
    );
    approvals
        .vote(&id, &approver("a1", &[]), true, None, 20_000)
        .unwrap();
    let grant = approvals.find_grant(agent, action, bundle, 20_000).unwrap();
    assert_eq!(grant.unwrap().request.id, id);
    let last_valid = 20_000 + TTL - 1;
    assert!(
        approvals
            .find_grant(agent, action, bundle, last_valid)
            .unwrap()
            .is_some()
    );
    assert_eq!(
        approvals
            .find_grant(agent, action, bundle, 20_000 + TTL)
            .unwrap(),
        None
    );
    for (a, ac, b) in [
        ("other-bot", action, bundle),
        (agent, "sha256:changed", bundle),
        (agent, action, "sha256:newpolicy"),
    ] {
        assert_eq!(
            approvals.find_grant(a, ac, b, 20_000).unwrap(),
            None,
            "{a} {ac} {b}"
        );
    }
}

#[test]
fn a_denied_request_is_no_grant() {
    let (_dir, approvals) = store();
    let id = created(&approvals, &[], 1).request.id;
    approvals
        .vote(&id, &approver("a1", &[]), false, None, 20_000)
        .unwrap();
    assert_eq!(
        approvals
            .find_grant("billing-bot", "sha256:aaaa", "sha256:bbbb", 20_000)
            .unwrap(),
        None
    );
}

#[test]
fn two_connections_voting_at_once_on_quorum_one_yield_one_winner() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("warden.db");
    for round in 0..10 {
        let id = SqliteApprovals::open(&db)
            .unwrap()
            .create(request(&[], 1))
            .unwrap()
            .request
            .id;
        let barrier = Arc::new(Barrier::new(2));
        let voters: Vec<_> = ["a1", "b2"]
            .into_iter()
            .enumerate()
            .map(|(i, op)| {
                let (db, id, barrier) = (db.clone(), id.clone(), Arc::clone(&barrier));
                std::thread::spawn(move || {
                    let approvals = SqliteApprovals::open(Path::new(&db)).unwrap();
                    barrier.wait();
                    // One approves, one denies: whichever lands first decides.
                    approvals.vote(&id, &approver(op, &[]), i == 0, None, 20_000)
                })
            })
            .collect();
        let results: Vec<_> = voters.into_iter().map(|t| t.join().unwrap()).collect();
        let winners: Vec<&ApprovalState> = results.iter().filter_map(|r| r.as_ref().ok()).collect();
        assert_eq!(winners.len(), 1, "round {round}: {results:?}");
        let loser = results.iter().find_map(|r| r.as_ref().err()).unwrap();
        match loser {
            VoteError::AlreadyDecided(status) => assert_eq!(*status, winners[0].status),
            other => panic!("round {round}: {other:?}"),
        }
        let stored = SqliteApprovals::open(&db)
            .unwrap()
            .get(&id)
            .unwrap()
            .unwrap();
        assert_eq!(stored.votes.len(), 1, "round {round}");
        assert_eq!(&stored, winners[0]);
    }
}
