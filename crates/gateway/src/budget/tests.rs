//! Sizing a reservation: the byte bound on the input when it fits the whole worst case, the exact
//! count when the bound would refuse or clamp a call, settlement in the background, and many
//! parallel calls never holding more than a limit.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;

use warden_budget::{Micros, PriceTable, ScopeKind, TokenCounter, Window};
use warden_store::{FixedClock, LedgerConfig, SqliteBudgets, SqliteLedger, generate_signing_key};

use super::{BudgetRefusal, Budgets, CallFacts};
use crate::budget::hold::Ending;
use crate::config::{BudgetSettings, ConfiguredLimit, Unpriced};
use crate::identity::Identity;

const MODEL: &str = "gpt-4o-mini";
/// 2026-03-15T13:45:00Z.
const NOW: u64 = 1_773_582_300_000;
const BODY: &str = r#"{"model":"gpt-4o-mini","messages":[{"role":"user","content":"Say hello to the budget, politely and briefly."}],"max_tokens":100}"#;

struct Fixture {
    _dir: tempfile::TempDir,
    budgets: Arc<Budgets>,
    identity: Identity,
}

fn fixture(run_limit: Micros) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("warden.db");
    let ledger = SqliteLedger::create(
        &db,
        generate_signing_key().unwrap(),
        LedgerConfig::default(),
        Box::new(FixedClock(NOW)),
    )
    .unwrap();
    let settings = BudgetSettings {
        limits: vec![ConfiguredLimit {
            kind: ScopeKind::Run,
            id: None,
            window: Window::Total,
            limit: run_limit,
        }],
        prices: PriceTable::shipped().unwrap(),
        unpriced: Unpriced::Refuse,
        reservation_ttl_ms: 60_000,
    };
    let budgets = Budgets::new(
        settings,
        SqliteBudgets::open(&db).unwrap(),
        Arc::new(ledger),
    );
    let mut identity = Identity {
        key_id: "key_1".into(),
        agent: warden_policy::Agent::default(),
        run_id: Some("r1".into()),
    };
    identity.agent.id = "bot".into();
    Fixture {
        _dir: dir,
        budgets,
        identity,
    }
}

fn call<'a>(identity: &'a Identity, body: &'a str) -> CallFacts<'a> {
    CallFacts {
        identity,
        api: warden_llm::Api::OpenAiChat,
        model: MODEL,
        body: body.as_bytes(),
        requested_max_tokens: Some(100),
        max_cost_usd: None,
    }
}

/// The hold of a call of `BODY` that must be admitted.
fn held(f: &Fixture) -> super::Hold {
    f.budgets
        .reserve(&call(&f.identity, BODY), NOW)
        .unwrap()
        .unwrap()
}

fn price() -> warden_budget::Price {
    *PriceTable::shipped().unwrap().lookup(MODEL).unwrap().1
}

fn exact_tokens() -> u64 {
    TokenCounter::for_model(MODEL).count(BODY)
}

fn bytes() -> u64 {
    BODY.len() as u64
}

#[test]
fn a_call_the_bound_fits_holds_the_bound_without_counting() {
    let f = fixture(Micros(1_000_000));
    let hold = held(&f);
    assert!(bytes() > exact_tokens());
    assert_eq!(hold.amount(), price().cost(bytes(), 0, 100));
    assert_eq!(hold.max_tokens, 100);
}

#[test]
fn near_the_limit_the_exact_count_decides_and_the_first_try_is_taken_back() {
    // Room for the exact worst case but not for the bound's.
    let exact_worst = price().cost(exact_tokens(), 0, 100);
    assert!(exact_worst < price().cost(bytes(), 0, 100));
    let f = fixture(exact_worst);
    let hold = held(&f);
    assert_eq!(hold.amount(), exact_worst);
    assert_eq!(hold.max_tokens, 100);
    assert_eq!(f.budgets.store.outstanding().unwrap(), 1);
    let run = f.budgets.store.spending(None, NOW).unwrap();
    assert_eq!(run[0].reserved, exact_worst);
}

#[test]
fn a_call_the_bound_would_refuse_goes_when_its_exact_input_fits() {
    // Room for the exact input and one output token, not for the bound's input.
    let exact_min = price().cost(exact_tokens(), 0, 1);
    assert!(exact_min < price().cost(bytes(), 0, 1));
    let f = fixture(exact_min);
    let hold = held(&f);
    assert_eq!(hold.amount(), exact_min);
    assert_eq!(hold.max_tokens, 1);
    // Nothing is left while it is held: the next call is refused, naming the run's budget.
    let refused = f
        .budgets
        .reserve(&call(&f.identity, BODY), NOW)
        .unwrap_err();
    assert!(matches!(refused, BudgetRefusal::Exhausted(b, _) if b.scope == "run:r1"));
}

#[test]
fn settlements_reach_the_tables_in_the_background() {
    let f = fixture(Micros(1_000_000));
    let hold = held(&f);
    let usage = warden_llm::Usage {
        input_tokens: Some(20),
        output_tokens: Some(10),
        ..warden_llm::Usage::default()
    };
    let expected = price().cost(20, 0, 10);
    hold.settle(usage, 10, Ending::Complete);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let line = f.budgets.store.spending(None, NOW).unwrap().remove(0);
        if line.reserved == Micros::ZERO {
            assert_eq!(line.spent, expected);
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not settled: {line:?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

#[test]
fn fifty_parallel_calls_never_hold_more_than_the_limit() {
    // Ten calls at the bound's worst case, then one clamped to what is left (sized exactly).
    let worst = price().cost(bytes(), 0, 100);
    let limit = Micros(worst.0 * 10 + worst.0 / 2);
    let f = Arc::new(fixture(limit));
    let start = Arc::new(std::sync::Barrier::new(50));
    let threads: Vec<_> = (0..50)
        .map(|_| {
            let (f, start) = (f.clone(), start.clone());
            std::thread::spawn(move || {
                start.wait();
                f.budgets.reserve(&call(&f.identity, BODY), NOW)
            })
        })
        .collect();
    let mut holds = Vec::new();
    let mut refused = 0;
    for thread in threads {
        match thread.join().unwrap() {
            Ok(Some(hold)) => holds.push(hold),
            Err(BudgetRefusal::Exhausted(balance, _)) => {
                assert_eq!(balance.scope, "run:r1");
                refused += 1;
            }
            other => panic!("{other:?}"),
        }
    }
    let held = holds
        .iter()
        .fold(Micros::ZERO, |sum, h| sum.plus(h.amount()));
    assert!(held <= limit, "{held:?} > {limit:?}");
    assert_eq!(holds.len(), 11);
    assert_eq!(refused, 39);
    assert_eq!(f.budgets.store.outstanding().unwrap(), 11);
}

#[test]
fn an_abandoned_call_admitted_on_the_bound_is_charged_for_its_exact_input() {
    let f = fixture(Micros(1_000_000));
    let hold = held(&f);
    // Admitted on the bound, so no count was made on the request path ...
    assert_eq!(hold.amount(), price().cost(bytes(), 0, 100));
    // ... but without the provider's figures the input is charged as counted, not as bounded.
    let charged = hold.cost(warden_llm::Usage::default(), 7, Ending::Aborted);
    assert_eq!(charged, price().cost(exact_tokens(), 0, 7));
    assert!(charged < price().cost(bytes(), 0, 7));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inside_the_gateway_the_exact_input_is_counted_in_the_background() {
    let f = fixture(Micros(1_000_000));
    let hold = held(&f);
    let exact = price().cost(exact_tokens(), 0, 7);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while hold.cost(warden_llm::Usage::default(), 7, Ending::Aborted) != exact {
        assert!(
            std::time::Instant::now() < deadline,
            "the background count never arrived"
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
}
