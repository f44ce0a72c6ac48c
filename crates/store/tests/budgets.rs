//! Budgets on real database files: reservations all or nothing across scopes, clamped to what
//! is left, settlement and release, expiry, operator limits over configured ones, resets, window
//! rollover by the injected clock, and many threads on separate connections never reserving more
//! than a limit.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::{Arc, Barrier};

use warden_budget::{Micros, ScopeKey, Window};
use warden_store::{BudgetLimit, ReserveError, ReserveRequest, SqliteBudgets};

/// 2026-03-15T13:45:00Z.
const NOW: u64 = 1_773_582_300_000;
const DAY: u64 = 86_400_000;
const TTL: u64 = 60_000;

fn store() -> (tempfile::TempDir, SqliteBudgets) {
    let dir = tempfile::tempdir().unwrap();
    let budgets = SqliteBudgets::open(&dir.path().join("warden.db")).unwrap();
    (dir, budgets)
}

fn key(s: &str) -> ScopeKey {
    s.parse().unwrap()
}

fn limit(scope: &str, window: Window, micros: u64) -> BudgetLimit {
    BudgetLimit {
        scope: key(scope),
        window,
        limit: Micros(micros),
    }
}

fn request<'a>(
    scopes: &'a [ScopeKey],
    configured: &'a [BudgetLimit],
    min: u64,
    max: u64,
) -> ReserveRequest<'a> {
    ReserveRequest {
        scopes,
        configured,
        min: Micros(min),
        max: Micros(max),
        ttl_ms: TTL,
    }
}

#[test]
fn no_applicable_limit_reserves_nothing() {
    let (_dir, budgets) = store();
    let scopes = [key("agent:a")];
    let other = [limit("agent:b", Window::Day, 100)];
    assert_eq!(
        budgets
            .reserve(&request(&scopes, &other, 1, 10), NOW)
            .unwrap(),
        None
    );
    assert_eq!(budgets.outstanding().unwrap(), 0);
}

#[test]
fn a_reservation_takes_the_worst_case_or_what_every_limit_still_allows() {
    let (_dir, budgets) = store();
    let scopes = [key("run:r1"), key("agent:a")];
    let limits = [
        limit("run:r1", Window::Total, 1_000),
        limit("agent:a", Window::Day, 500),
    ];
    let first = budgets
        .reserve(&request(&scopes, &limits, 10, 300), NOW)
        .unwrap()
        .unwrap();
    assert_eq!(first.amount, Micros(300));
    assert_eq!(first.balances.len(), 2);
    assert!(first.balances.iter().all(|b| b.reserved == Micros(300)));
    // Only 200 left on the agent's day: the second call gets 200, not its worst case of 300.
    let second = budgets
        .reserve(&request(&scopes, &limits, 10, 300), NOW)
        .unwrap()
        .unwrap();
    assert_eq!(second.amount, Micros(200));
    assert_eq!(second.expires_ms, NOW + TTL);
}

#[test]
fn an_exhausted_limit_refuses_the_whole_reservation_and_is_named() {
    let (_dir, budgets) = store();
    let scopes = [key("run:r1"), key("agent:a"), key("team:t")];
    let limits = [
        limit("run:r1", Window::Total, 1_000),
        limit("agent:a", Window::Month, 1_000),
        limit("team:t", Window::Day, 50),
    ];
    budgets
        .reserve(&request(&scopes, &limits, 10, 45), NOW)
        .unwrap()
        .unwrap();
    let refused = budgets
        .reserve(&request(&scopes, &limits, 10, 45), NOW)
        .unwrap_err();
    let ReserveError::Exhausted(balance) = refused else {
        panic!("expected exhaustion, got {refused:?}");
    };
    assert_eq!(balance.scope, "team:t");
    assert_eq!(balance.window, Window::Day);
    assert_eq!(balance.limit, Some(Micros(50)));
    assert_eq!(balance.reserved, Micros(45));
    assert_eq!(balance.period.end_ms, Some(1_773_619_200_000));
    // Nothing was reserved on the other scopes by the refused call.
    let run = budgets.spending(Some(&key("run:r1")), NOW).unwrap();
    assert_eq!(run[0].reserved, Micros(45));
    assert_eq!(budgets.outstanding().unwrap(), 1);
}

#[test]
fn settling_moves_the_reservation_into_spent_at_the_actual_cost() {
    let (_dir, budgets) = store();
    let scopes = [key("agent:a")];
    let limits = [limit("agent:a", Window::Total, 1_000)];
    let r = budgets
        .reserve(&request(&scopes, &limits, 10, 400), NOW)
        .unwrap()
        .unwrap();
    let settled = budgets.settle(r.id, Micros(123)).unwrap().unwrap();
    assert_eq!(settled.reserved, Micros(400));
    assert_eq!(settled.actual, Micros(123));
    assert_eq!(settled.balances[0].spent, Micros(123));
    assert_eq!(settled.balances[0].reserved, Micros(0));
    assert_eq!(settled.balances[0].remaining(), Some(Micros(877)));
    // Settling twice does nothing.
    assert_eq!(budgets.settle(r.id, Micros(123)).unwrap(), None);
    let released = budgets
        .reserve(&request(&scopes, &limits, 10, 400), NOW)
        .unwrap()
        .unwrap();
    let after = budgets.release(released.id).unwrap().unwrap();
    assert_eq!(after.balances[0].spent, Micros(123));
    assert_eq!(after.balances[0].reserved, Micros(0));
    // Settled behind: in force at once, in the tables after a flush.
    let behind = budgets
        .reserve(&request(&scopes, &limits, 10, 400), NOW)
        .unwrap()
        .unwrap();
    let settled = budgets
        .settle_behind(behind.id, Micros(7))
        .unwrap()
        .unwrap();
    assert_eq!(settled.balances[0].spent, Micros(130));
    assert_eq!(budgets.settle_behind(behind.id, Micros(7)).unwrap(), None);
    budgets.flush().unwrap();
    let line = &budgets.spending(None, NOW).unwrap()[0];
    assert_eq!((line.spent, line.reserved), (Micros(130), Micros(0)));
}

#[test]
fn reservations_nobody_settles_expire() {
    let (_dir, budgets) = store();
    let scopes = [key("agent:a")];
    let limits = [limit("agent:a", Window::Total, 100)];
    let early = budgets
        .reserve(&request(&scopes, &limits, 10, 60), NOW)
        .unwrap()
        .unwrap();
    let late = budgets
        .reserve(&request(&scopes, &limits, 10, 40), NOW + 1_000)
        .unwrap()
        .unwrap();
    assert!(budgets.expire_due(NOW + TTL - 1).unwrap().is_empty());
    assert_eq!(budgets.expire_due(NOW + TTL).unwrap(), vec![early.id]);
    let left = budgets.spending(None, NOW + TTL).unwrap();
    assert_eq!(left[0].reserved, Micros(40));
    assert_eq!(
        budgets.expire_due(NOW + TTL + 1_000).unwrap(),
        vec![late.id]
    );
    assert_eq!(budgets.outstanding().unwrap(), 0);
    assert_eq!(budgets.settle(early.id, Micros(5)).unwrap(), None);
}

#[test]
fn a_new_day_starts_at_zero_while_the_month_and_total_carry_on() {
    let (_dir, budgets) = store();
    let scopes = [key("agent:a")];
    let limits = [
        limit("agent:a", Window::Day, 100),
        limit("agent:a", Window::Month, 250),
        limit("agent:a", Window::Total, 1_000),
    ];
    let spend = |now: u64, amount: u64| -> Result<(), ReserveError> {
        let r = budgets
            .reserve(&request(&scopes, &limits, amount, amount), now)?
            .unwrap();
        budgets.settle(r.id, Micros(amount)).unwrap();
        Ok(())
    };
    spend(NOW, 100).unwrap();
    assert!(matches!(spend(NOW, 1), Err(ReserveError::Exhausted(b)) if b.window == Window::Day));
    // One millisecond before midnight UTC: still the same day.
    let midnight = Window::Day.period(NOW).end_ms.unwrap();
    assert!(spend(midnight - 1, 1).is_err());
    spend(midnight, 100).unwrap();
    // Day three: the day has room but the month (250) does not.
    let err = spend(midnight + DAY, 60).unwrap_err();
    assert!(matches!(err, ReserveError::Exhausted(b) if b.window == Window::Month));
    // April: the month starts again; the total still counts everything.
    let april = Window::Month.period(NOW).end_ms.unwrap();
    spend(april, 100).unwrap();
    let total = budgets
        .spending(Some(&key("agent:a")), april)
        .unwrap()
        .into_iter()
        .find(|b| b.window == Window::Total)
        .unwrap();
    assert_eq!(total.spent, Micros(300));
}

#[test]
fn a_late_settlement_lands_in_the_period_it_reserved() {
    let (_dir, budgets) = store();
    let scopes = [key("agent:a")];
    let limits = [limit("agent:a", Window::Day, 100)];
    let r = budgets
        .reserve(&request(&scopes, &limits, 10, 80), NOW)
        .unwrap()
        .unwrap();
    let tomorrow = NOW + DAY;
    budgets.settle(r.id, Micros(80)).unwrap();
    let today = budgets.spending(None, tomorrow).unwrap();
    assert!(today.is_empty(), "{today:?}");
    let yesterday = budgets.spending(None, NOW).unwrap();
    assert_eq!(yesterday[0].spent, Micros(80));
}

#[test]
fn operator_limits_replace_configured_ones_until_removed() {
    let (_dir, budgets) = store();
    let scopes = [key("agent:a")];
    let configured = [limit("agent:a", Window::Day, 1_000)];
    budgets
        .set_limit(&key("agent:a"), Window::Day, Micros(20), "ops", NOW)
        .unwrap();
    let r = budgets
        .reserve(&request(&scopes, &configured, 10, 500), NOW)
        .unwrap()
        .unwrap();
    assert_eq!(r.amount, Micros(20));
    budgets.release(r.id).unwrap();
    // A limit on a scope the configuration does not mention applies too.
    budgets
        .set_limit(&key("agent:a"), Window::Total, Micros(15), "ops", NOW)
        .unwrap();
    let r = budgets
        .reserve(&request(&scopes, &configured, 10, 500), NOW)
        .unwrap()
        .unwrap();
    assert_eq!(r.amount, Micros(15));
    budgets.release(r.id).unwrap();
    assert_eq!(budgets.limits().unwrap().len(), 2);
    assert!(budgets.remove_limit(&key("agent:a"), Window::Day).unwrap());
    assert!(
        budgets
            .remove_limit(&key("agent:a"), Window::Total)
            .unwrap()
    );
    assert!(
        !budgets
            .remove_limit(&key("agent:a"), Window::Total)
            .unwrap()
    );
    let r = budgets
        .reserve(&request(&scopes, &configured, 10, 500), NOW)
        .unwrap()
        .unwrap();
    assert_eq!(r.amount, Micros(500));
}

#[test]
fn a_reset_clears_settled_spending_and_keeps_reservations() {
    let (_dir, budgets) = store();
    let scopes = [key("agent:a")];
    let limits = [limit("agent:a", Window::Day, 100)];
    let r = budgets
        .reserve(&request(&scopes, &limits, 10, 70), NOW)
        .unwrap()
        .unwrap();
    budgets.settle(r.id, Micros(70)).unwrap();
    let held = budgets
        .reserve(&request(&scopes, &limits, 10, 20), NOW)
        .unwrap()
        .unwrap();
    assert_eq!(budgets.reset(&key("agent:a"), None, NOW).unwrap(), 1);
    let b = &budgets.spending(None, NOW).unwrap()[0];
    assert_eq!((b.spent, b.reserved), (Micros(0), Micros(20)));
    budgets.release(held.id).unwrap();
}

#[test]
fn concurrent_reservations_never_exceed_the_limit() {
    let (_dir, budgets) = store();
    let budgets = Arc::new(budgets);
    let threads = 8;
    let barrier = Arc::new(Barrier::new(threads));
    let handles: Vec<_> = (0..threads)
        .map(|_| {
            let budgets = budgets.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let scopes = [key("agent:a"), key("tenant:t")];
                let limits = [
                    limit("agent:a", Window::Total, 1_000),
                    limit("tenant:t", Window::Day, 700),
                ];
                barrier.wait();
                let mut granted = 0;
                for _ in 0..20 {
                    match budgets.reserve(&request(&scopes, &limits, 10, 10), NOW) {
                        Ok(Some(r)) => {
                            budgets.settle(r.id, Micros(10)).unwrap();
                            granted += 1;
                        }
                        Err(ReserveError::Exhausted(_)) => {}
                        other => panic!("{other:?}"),
                    }
                }
                granted
            })
        })
        .collect();
    let granted: u64 = handles.into_iter().map(|h| h.join().unwrap()).sum();
    assert_eq!(granted, 70);
    let tenant = budgets
        .spending(Some(&key("tenant:t")), NOW)
        .unwrap()
        .remove(0);
    assert_eq!(tenant.spent, Micros(700));
    assert_eq!(tenant.reserved, Micros(0));
}

#[test]
fn the_tables_follow_the_book_and_a_reopened_store_starts_from_them() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("warden.db");
    let scopes = [key("agent:a")];
    let limits = [limit("agent:a", Window::Day, 1_000)];
    let (settled, outstanding) = {
        let budgets = SqliteBudgets::open(&path).unwrap();
        budgets
            .set_limit(&key("agent:a"), Window::Total, Micros(900), "ops", NOW)
            .unwrap();
        let settled = budgets
            .reserve(&request(&scopes, &limits, 10, 300), NOW)
            .unwrap()
            .unwrap();
        budgets.settle(settled.id, Micros(120)).unwrap().unwrap();
        let outstanding = budgets
            .reserve(&request(&scopes, &limits, 10, 200), NOW)
            .unwrap()
            .unwrap();
        budgets.flush().unwrap();
        // The tables as another reader sees them once flushed.
        let conn = rusqlite::Connection::open(&path).unwrap();
        let (spent, reserved): (i64, i64) = conn
            .query_row(
                "SELECT spent_micros, reserved_micros FROM budget_usage
                 WHERE scope = 'agent:a' AND window = 'day'",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .unwrap();
        assert_eq!((spent, reserved), (120, 200));
        let rows: i64 = conn
            .query_row("SELECT COUNT(*) FROM budget_reservations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 1);
        (settled, outstanding)
    };
    // The process is gone; the next one loads the operator limit and the reservation it left.
    let budgets = SqliteBudgets::open(&path).unwrap();
    assert_eq!(budgets.limits().unwrap().len(), 1);
    assert_eq!(budgets.outstanding().unwrap(), 1);
    let day = budgets.spending(Some(&key("agent:a")), NOW).unwrap();
    let day = day.iter().find(|b| b.window == Window::Day).unwrap();
    assert_eq!((day.spent, day.reserved), (Micros(120), Micros(200)));
    // The operator's total (900, 120 spent, 200 held) leaves 580: the new call gets that.
    let next = budgets
        .reserve(&request(&scopes, &limits, 10, 1_000), NOW + 1)
        .unwrap()
        .unwrap();
    assert_eq!(next.amount, Micros(580));
    assert!(next.id > settled.id && next.id > outstanding.id);
    // The dead request's reservation expires and gives its amount back.
    assert_eq!(budgets.expire_due(NOW + TTL).unwrap(), vec![outstanding.id]);
    let day = budgets.spending(Some(&key("agent:a")), NOW).unwrap();
    let day = day.iter().find(|b| b.window == Window::Day).unwrap();
    assert_eq!((day.spent, day.reserved), (Micros(120), Micros(580)));
}

#[test]
fn lines_the_book_forgets_are_read_back_with_their_figures() {
    let (_dir, budgets) = store();
    let scopes = [key("run:r1")];
    let limits = [limit("run:r1", Window::Total, 100)];
    let r = budgets
        .reserve(&request(&scopes, &limits, 10, 60), NOW)
        .unwrap()
        .unwrap();
    budgets.settle(r.id, Micros(60)).unwrap();
    // Expiry lets the book drop lines the tables already hold; the next call reads them back.
    assert!(budgets.expire_due(NOW).unwrap().is_empty());
    let refused = budgets
        .reserve(&request(&scopes, &limits, 50, 60), NOW)
        .unwrap_err();
    assert!(matches!(refused, ReserveError::Exhausted(b) if b.spent == Micros(60)));
    let r = budgets
        .reserve(&request(&scopes, &limits, 10, 60), NOW)
        .unwrap()
        .unwrap();
    assert_eq!(r.amount, Micros(40));
}
