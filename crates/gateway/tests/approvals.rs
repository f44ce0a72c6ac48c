//! Human approval and the kill switch through the admin API, in-process: a held call waits for
//! an approver, grants are reused only for the identical call, refusals are clear, and a halt
//! ends an agent's stream and refuses its next call. Every step is in the ledger.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{Harness, Setup, delivered_calls};
use serde_json::{Value, json};
use warden_ledger::{Event, Verdict};
use warden_store::{Role, SqliteOperators};

const SCRIPT: &str = r#"
api_key: upstream-key
models: [gpt-4o-mini]
default: hello
replies:
  - name: deploy-production
    when: { last_user_contains: "deploy to production" }
    tool_calls:
      - name: deploy
        arguments: { target: production }
  - name: deploy-staging
    when: { last_user_contains: "deploy to staging" }
    tool_calls:
      - name: deploy
        arguments: { target: staging }
  - name: long-story
    when: { last_user_contains: "tell a long story" }
    text: "Once upon a time there was an agent that kept talking and talking and talking, one word after another, for a very long time indeed, until somebody stopped it."
    chunk_size: 2
    chunk_delay_ms: 50
  - name: hello
    text: "Hello."
"#;

const BUNDLE: &str = r#"
rules:
  - id: llm-ok
    kinds: [llm_request]
    decision: allow
    reason: LLM requests are allowed.
  - id: deploy-needs-approval
    kinds: [tool_call]
    tools: [deploy]
    decision: require_approval
    approvers: [security-team]
    approval_ttl: 10m
    reason: Deployments need a security review.
default: deny
"#;

struct Operators {
    alice: String,
    carol: String,
    erin: String,
    dave: String,
    root: String,
}

fn operators(h: &Harness) -> Operators {
    let ops = SqliteOperators::open(&h.db()).unwrap();
    let token = |name: &str, role: Role, groups: &[&str]| {
        let groups: Vec<String> = groups.iter().map(|g| (*g).to_owned()).collect();
        ops.create(name, role, &groups, 1).unwrap().secret
    };
    Operators {
        alice: token("alice", Role::Approver, &["security-team"]),
        carol: token("carol", Role::Approver, &["platform-lead"]),
        erin: token("erin", Role::Approver, &["security-team"]),
        dave: token("dave", Role::Auditor, &[]),
        root: token("root", Role::Admin, &[]),
    }
}

async fn start(wait: &str) -> Harness {
    Harness::start(
        Setup {
            bundle: BUNDLE,
            script: SCRIPT,
            extra_config: &format!("approvals: {{ wait: {wait}, keepalive: 1s }}\n"),
            agent: ", owners: [erin]",
        },
        |l| Arc::new(l),
    )
    .await
}

async fn admin(
    h: &Harness,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Value,
) -> (u16, Value) {
    let url = format!("{}{path}", h.admin);
    let mut request = match method {
        "GET" => h.http.get(url),
        _ => h.http.post(url).body(body.to_string()),
    };
    if let Some(t) = token {
        request = request.bearer_auth(t);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let bytes = response.bytes().await.unwrap();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

/// Waits for a pending request to appear and returns its id.
async fn pending(h: &Harness, token: &str) -> String {
    for _ in 0..200 {
        let (status, body) = admin(h, "GET", "/approvals", Some(token), Value::Null).await;
        assert_eq!(status, 200, "{body}");
        if let Some(id) = body["approvals"][0]["id"].as_str() {
            return id.to_owned();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no approval request appeared");
}

fn content(body: &Value) -> String {
    body["choices"][0]["message"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_call_waits_for_an_approver_and_grants_only_the_identical_call() {
    let h = Arc::new(start("20s").await);
    let ops = operators(&h);

    let waiting = tokio::spawn({
        let h = h.clone();
        async move { h.chat("please deploy to production").await }
    });
    let id = pending(&h, &ops.dave).await;

    // Refusals, none of which decides the request.
    let (s, b) = admin(
        &h,
        "POST",
        &format!("/approvals/{id}/approve"),
        None,
        Value::Null,
    )
    .await;
    assert_eq!(s, 401, "{b}");
    let (s, b) = admin(
        &h,
        "POST",
        &format!("/approvals/{id}/approve"),
        Some(&h.key),
        Value::Null,
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (403, Some("agent_key")),
        "{b}"
    );
    let (s, b) = admin(
        &h,
        "POST",
        &format!("/approvals/{id}/approve"),
        Some(&ops.dave),
        Value::Null,
    )
    .await;
    assert_eq!((s, b["error"]["code"].as_str()), (403, Some("role")), "{b}");
    let (s, b) = admin(
        &h,
        "POST",
        &format!("/approvals/{id}/approve"),
        Some(&ops.carol),
        Value::Null,
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (403, Some("wrong_group")),
        "{b}"
    );
    let (s, b) = admin(
        &h,
        "POST",
        &format!("/approvals/{id}/approve"),
        Some(&ops.erin),
        Value::Null,
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (403, Some("self_approval")),
        "{b}"
    );
    let (s, b) = admin(
        &h,
        "POST",
        "/approvals/apr_0000000000000000/approve",
        Some(&ops.alice),
        Value::Null,
    )
    .await;
    assert_eq!(s, 404, "{b}");
    // An operator token is refused on the agent API.
    let refused = h
        .http
        .post(format!("{}/chat/completions", h.base))
        .bearer_auth(&ops.alice)
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 403);

    let (s, b) = admin(
        &h,
        "POST",
        &format!("/approvals/{id}/approve"),
        Some(&ops.alice),
        json!({"reason": "reviewed"}),
    )
    .await;
    assert_eq!((s, b["status"].as_str()), (200, Some("approved")), "{b}");
    let (status, body) = waiting.await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(delivered_calls(&body), 1, "{body}");
    let (s, b) = admin(
        &h,
        "POST",
        &format!("/approvals/{id}/deny"),
        Some(&ops.alice),
        Value::Null,
    )
    .await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (409, Some("already_decided")),
        "{b}"
    );

    // The identical call passes on the grant; a changed argument asks again, and is denied.
    let (_, body) = h.chat("please deploy to production").await;
    assert_eq!(delivered_calls(&body), 1, "{body}");
    let waiting = tokio::spawn({
        let h = h.clone();
        async move { h.chat("please deploy to staging").await }
    });
    let second = pending(&h, &ops.dave).await;
    assert_ne!(second, id);
    let (s, _) = admin(
        &h,
        "POST",
        &format!("/approvals/{second}/deny"),
        Some(&ops.alice),
        Value::Null,
    )
    .await;
    assert_eq!(s, 200);
    let (_, body) = waiting.await.unwrap();
    assert_eq!(delivered_calls(&body), 0, "{body}");
    let text = content(&body);
    assert!(
        text.contains(&format!("Approval {second} was denied")),
        "{text}"
    );

    let h = Arc::into_inner(h).unwrap();
    let events = h.stop().await;
    let votes: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Approval(a) => Some((a.approval_id.clone(), a.verdict, a.approver.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(
        votes,
        vec![
            (id.clone(), Verdict::Approved, Some("alice".into())),
            (second.clone(), Verdict::Denied, Some("alice".into())),
        ]
    );
    let released: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Decision(d) if d.action.tool.as_deref() == Some("deploy") => Some((
                d.outcome,
                d.approval.as_ref().and_then(|a| a.approval_id.clone()),
            )),
            _ => None,
        })
        .collect();
    use warden_ledger::Outcome::{Allow, Deny, RequireApproval};
    assert_eq!(
        released,
        vec![
            (RequireApproval, None),
            (Allow, Some(id.clone())),
            (RequireApproval, None),
            (Allow, Some(id)),
            (RequireApproval, None),
            (Deny, Some(second)),
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_request_expires_and_blocks_the_call() {
    let h = start("1s").await;
    let (_, body) = h.chat("please deploy to production").await;
    assert_eq!(delivered_calls(&body), 0, "{body}");
    let text = content(&body);
    assert!(text.contains("was expired"), "{text}");
    let events = h.stop().await;
    assert!(events.iter().any(
        |e| matches!(e, Event::Approval(a) if a.verdict == Verdict::Expired && a.approver.is_none())
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_halt_ends_the_agents_stream_and_refuses_its_next_call() {
    let h = start("20s").await;
    let ops = operators(&h);
    let mut stream = h
        .http
        .post(format!("{}/chat/completions", h.base))
        .bearer_auth(&h.key)
        .body(json!({"model": "gpt-4o-mini", "stream": true, "messages": [{"role": "user", "content": "tell a long story"}]}).to_string())
        .send()
        .await
        .unwrap();
    let mut received = String::new();
    // Wait for text to flow, then halt.
    while !received.contains(r#""content":"On""#) {
        let chunk = stream.chunk().await.unwrap();
        let chunk = chunk.unwrap_or_else(|| panic!("the stream ended early: {received}"));
        received.push_str(&String::from_utf8_lossy(&chunk));
    }
    let (s, b) = admin(
        &h,
        "POST",
        "/agents/bot/halt",
        Some(&ops.alice),
        json!({"reason": "incident"}),
    )
    .await;
    assert_eq!((s, b["error"]["code"].as_str()), (403, Some("role")), "{b}");
    let (s, b) = admin(&h, "POST", "/agents/bot/halt", Some(&ops.root), Value::Null).await;
    assert_eq!(
        (s, b["error"]["code"].as_str()),
        (400, Some("reason_required")),
        "{b}"
    );
    let (s, b) = admin(
        &h,
        "POST",
        "/agents/bot/halt",
        Some(&ops.root),
        json!({"reason": "incident 42"}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    while let Some(chunk) = stream.chunk().await.unwrap() {
        received.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(
        received.contains("agent halted by root: incident 42"),
        "{received}"
    );
    assert!(
        !received.contains(r#""finish_reason":"stop""#),
        "the stream ran to its end: {received}"
    );

    let (status, body) = h.chat("hello").await;
    assert_eq!(status, 403, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("halted"),
        "{body}"
    );
    let (s, _) = admin(
        &h,
        "POST",
        "/agents/bot/resume",
        Some(&ops.root),
        Value::Null,
    )
    .await;
    assert_eq!(s, 200);
    let (status, _) = h.chat("hello").await;
    assert_eq!(status, 200);

    let events = h.stop().await;
    let halts: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::Halt(halt) => Some((halt.agent_id.clone(), halt.lifted)),
            _ => None,
        })
        .collect();
    assert_eq!(halts, vec![("bot".into(), false), ("bot".into(), true)]);
}
