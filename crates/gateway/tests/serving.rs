//! The gateway served in-process against the scripted mock provider, with a real SQLite ledger
//! and key store: policy reload while serving, and failing closed when the ledger cannot record.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{Harness, Setup, delivered_calls, write_bundle};
use warden_ledger::{ActionKind, Event, RecordDraft};
use warden_store::{AppendError, AppendHandle, LedgerStore, SqliteLedger};

const MOCK_SCRIPT: &str = r#"
api_key: upstream-key
models: [gpt-4o-mini]
default: hello
replies:
  - name: after-tool
    when: { after_tool_result: true }
    text: "Done."
  - name: weather
    when: { last_user_contains: "weather" }
    tool_calls:
      - name: get_weather
        arguments: { city: Paris }
  - name: slow
    when: { last_user_contains: "slowly" }
    text: "Eventually."
    delay_ms: 3000
  - name: hello
    text: "Hello."
"#;

const DENY_WEATHER: &str = r#"
rules:
  - id: llm-ok
    kinds: [llm_request]
    decision: allow
    reason: LLM requests are allowed.
  - id: weather-denied
    kinds: [tool_call]
    tools: [get_weather]
    decision: deny
    reason: Weather lookups are not allowed.
default: deny
"#;

const ALLOW_WEATHER: &str = r#"
rules:
  - id: llm-ok
    kinds: [llm_request]
    decision: allow
    reason: LLM requests are allowed.
  - id: weather-allowed
    kinds: [tool_call]
    tools: [get_weather]
    decision: allow
    reason: Weather lookups are harmless.
default: deny
"#;

const BROKEN: &str = r#"
rules:
  - id: broken
    when: "tool.name == "
    decision: allow
default: deny
"#;

fn setup(bundle: &str) -> Setup<'_> {
    Setup {
        bundle,
        script: MOCK_SCRIPT,
        extra_config: "",
        agent: "",
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundle_changes_take_effect_and_a_broken_bundle_keeps_the_last_good_one() {
    let h = Harness::start(setup(DENY_WEATHER), |l| Arc::new(l)).await;
    let (status, body) = h.chat("What is the weather in Paris?").await;
    assert_eq!(status, 200);
    assert_eq!(delivered_calls(&body), 0, "{body}");
    let text = body["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(
        text.contains("weather-denied") && text.contains("rec_"),
        "{text}"
    );

    // The new bundle is picked up from disk without a restart.
    write_bundle(h.dir.path(), ALLOW_WEATHER);
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (_, body) = h.chat("What is the weather in Paris?").await;
        if delivered_calls(&body) == 1 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the changed bundle never took effect"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // A bundle that does not load is rejected; the last good one stays in force.
    write_bundle(h.dir.path(), BROKEN);
    tokio::time::sleep(warden_gateway::reload::POLL_INTERVAL * 3).await;
    let (_, body) = h.chat("What is the weather in Paris?").await;
    assert_eq!(delivered_calls(&body), 1, "{body}");

    let events = h.stop().await;
    let loads: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            Event::PolicyLoad(p) => Some(p),
            _ => None,
        })
        .collect();
    assert_eq!(loads.len(), 3, "{loads:?}");
    assert!(loads[0].error.is_none() && loads[0].previous_digest.is_none());
    assert_eq!(
        loads[1].previous_digest.as_ref(),
        Some(&loads[0].bundle_digest)
    );
    let rejected = loads[2]
        .error
        .as_deref()
        .expect("the broken bundle is recorded as rejected");
    assert!(rejected.contains("rules.yaml"), "{rejected}");
    assert_eq!(loads[2].bundle_digest, loads[1].bundle_digest);
}

/// A ledger whose tool-call records fail to commit (the disk filled up, the store went away).
struct ToolCallsFail(SqliteLedger);

impl LedgerStore for ToolCallsFail {
    fn append(&self, draft: RecordDraft) -> AppendHandle {
        match &draft.event {
            Event::Decision(d) if d.action.kind == ActionKind::ToolCall => {
                AppendHandle::failed(AppendError::Storage("disk I/O error".into()))
            }
            _ => self.0.append(draft),
        }
    }
    fn public_key(&self) -> warden_ledger::LedgerPublicKey {
        self.0.public_key()
    }
    fn origin(&self) -> &str {
        self.0.origin()
    }
}

/// The kinds of the decisions in the ledger, read from another connection.
fn decision_kinds(h: &Harness) -> Vec<ActionKind> {
    h.events()
        .into_iter()
        .filter_map(|event| match event {
            Event::Decision(d) => Some(d.action.kind),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_answer_leaves_before_its_requests_record_and_a_calls_record_follows_it() {
    let h = Harness::start(setup(ALLOW_WEATHER), |l| Arc::new(l)).await;
    // A text answer: its request's record is durable before it arrives.
    let (status, body) = h.chat("Hello there").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(decision_kinds(&h), [ActionKind::LlmRequest]);
    // A tool call: its record goes after its request's, both before the answer.
    let (status, body) = h.chat("What is the weather in Paris?").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(delivered_calls(&body), 1, "{body}");
    assert_eq!(
        decision_kinds(&h),
        [
            ActionKind::LlmRequest,
            ActionKind::LlmRequest,
            ActionKind::ToolCall
        ]
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_requests_record_is_committed_while_a_slow_provider_thinks() {
    let h = Harness::start(setup(ALLOW_WEATHER), |l| Arc::new(l)).await;
    let watch = async {
        // The provider answers after 3 s; the record must not wait for it.
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            if decision_kinds(&h) == [ActionKind::LlmRequest] {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        false
    };
    let ((status, body), seen) = tokio::join!(h.chat("Answer slowly, please."), watch);
    assert_eq!(status, 200, "{body}");
    assert!(
        seen,
        "the request's record was not committed while the request was upstream"
    );
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_call_whose_decision_cannot_be_recorded_is_not_released() {
    let h = Harness::start(setup(ALLOW_WEATHER), |l| Arc::new(ToolCallsFail(l))).await;
    let (status, body) = h.chat("What is the weather in Paris?").await;
    assert_eq!(status, 200);
    assert_eq!(
        delivered_calls(&body),
        0,
        "an unrecorded call was released: {body}"
    );
    let text = body["choices"][0]["message"]["content"].as_str().unwrap();
    assert!(text.contains("could not be recorded"), "{text}");
    assert!(text.contains("get_weather"), "{text}");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_whose_decision_cannot_be_recorded_is_refused() {
    struct NothingRecords(SqliteLedger);
    impl LedgerStore for NothingRecords {
        fn append(&self, draft: RecordDraft) -> AppendHandle {
            match &draft.event {
                Event::Decision(_) => AppendHandle::failed(AppendError::WriterGone),
                _ => self.0.append(draft),
            }
        }
        fn public_key(&self) -> warden_ledger::LedgerPublicKey {
            self.0.public_key()
        }
        fn origin(&self) -> &str {
            self.0.origin()
        }
    }
    let h = Harness::start(setup(ALLOW_WEATHER), |l| Arc::new(NothingRecords(l))).await;
    let (status, body) = h.chat("What is the weather in Paris?").await;
    assert_eq!(status, 500, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("could not be recorded"), "{message}");
    let events = h.stop().await;
    assert!(
        events.iter().all(|e| !matches!(e, Event::Decision(_))),
        "{events:?}"
    );
}
