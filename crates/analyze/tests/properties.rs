//! Property tests: no analyzer panics on arbitrary input, `path::within` agrees with
//! normalization, and redaction never leaves a detected secret in its output.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use proptest::prelude::*;
use warden_analyze::{path, secrets, shell, sql, url};

/// Bash-like token soup: operators, quotes, expansions, keywords and command names.
fn shell_soup() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("rm".to_owned()),
        Just("-rf".to_owned()),
        Just("sudo".to_owned()),
        Just("bash -c".to_owned()),
        Just("eval".to_owned()),
        Just("xargs".to_owned()),
        Just("find . -exec".to_owned()),
        Just("\\;".to_owned()),
        Just("|".to_owned()),
        Just("||".to_owned()),
        Just("&&".to_owned()),
        Just(";".to_owned()),
        Just("&".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just("{".to_owned()),
        Just("}".to_owned()),
        Just("$(".to_owned()),
        Just("`".to_owned()),
        Just("<(".to_owned()),
        Just(">".to_owned()),
        Just(">>".to_owned()),
        Just("<<EOF\n".to_owned()),
        Just("\nEOF\n".to_owned()),
        Just("<<<".to_owned()),
        Just("'".to_owned()),
        Just("\"".to_owned()),
        Just("$'\\x72'".to_owned()),
        Just("${X:-".to_owned()),
        Just("$((1+".to_owned()),
        Just("if".to_owned()),
        Just("then".to_owned()),
        Just("fi".to_owned()),
        Just("for x in".to_owned()),
        Just("do".to_owned()),
        Just("done".to_owned()),
        Just("case".to_owned()),
        Just("esac".to_owned()),
        Just("[[".to_owned()),
        Just("]]".to_owned()),
        Just("f()".to_owned()),
        "[a-z/.*~=-]{1,8}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(token, 0..40).prop_map(|tokens| tokens.join(" "))
}

fn sql_soup() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        Just("SELECT".to_owned()),
        Just("*".to_owned()),
        Just("FROM".to_owned()),
        Just("WHERE".to_owned()),
        Just("WITH d AS (".to_owned()),
        Just("DELETE FROM".to_owned()),
        Just("UPDATE t SET a = 1".to_owned()),
        Just("INSERT INTO".to_owned()),
        Just("LIMIT 5".to_owned()),
        Just("(".to_owned()),
        Just(")".to_owned()),
        Just(";".to_owned()),
        Just("'".to_owned()),
        Just("$$".to_owned()),
        Just("EXPLAIN ANALYZE".to_owned()),
        Just("COPY t TO PROGRAM 'x'".to_owned()),
        "[a-z_.]{1,8}",
        any::<char>().prop_map(String::from),
    ];
    prop::collection::vec(token, 0..30).prop_map(|tokens| tokens.join(" "))
}

fn lossy(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn shell_never_panics_on_soup(script in shell_soup()) {
        let facts = shell::analyze(&script);
        prop_assert!(!facts.destructive || facts.mutates);
    }

    #[test]
    fn shell_never_panics_on_bytes(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = shell::analyze(&lossy(&bytes));
    }

    #[test]
    fn sql_never_panics(text in sql_soup(), bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        for dialect in [sql::SqlDialect::Generic, sql::SqlDialect::Postgres, sql::SqlDialect::MySql] {
            let facts = sql::analyze(&text, dialect);
            prop_assert!(!facts.opaque || facts.writes);
            let _ = sql::analyze(&lossy(&bytes), dialect);
            let _ = sql::with_limit(&text, dialect, 10);
        }
    }

    #[test]
    fn url_and_path_never_panic(text in ".{0,200}", bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = url::analyze(&text);
        let _ = url::analyze(&lossy(&bytes));
        let _ = path::analyze(&text, Some("/home/agent"));
        let _ = path::analyze(&lossy(&bytes), None);
    }

    #[test]
    fn within_agrees_with_normalization(
        parts in prop::collection::vec(prop_oneof![Just(".."), Just("."), Just(""), Just("a"), Just("b"), Just("work"), Just("~")], 0..8),
        dir_parts in prop::collection::vec(prop_oneof![Just("a"), Just("b"), Just("work"), Just("..")], 0..4),
        absolute in any::<bool>(),
    ) {
        let prefix = if absolute { "/" } else { "" };
        let path = format!("{prefix}{}", parts.join("/"));
        let dir = format!("/{}", dir_parts.join("/"));
        let home = Some("/home/agent");
        let normalized = path::analyze(&path, home);
        let within = path::within(&path, &dir, home);
        // Containment is decided on normalized forms only.
        prop_assert_eq!(within, path::within(&normalized.normalized, &dir, home));
        // A path within a directory is never outside it textually.
        if within {
            let dir_norm = path::analyze(&dir, home).normalized;
            let nested = normalized.normalized.starts_with(&format!("{}/", dir_norm));
            prop_assert!(normalized.normalized == dir_norm || dir_norm == "/" || nested);
            prop_assert!(normalized.absolute);
        }
        // Every directory contains itself, and normalization is idempotent.
        prop_assert!(path::within(&dir, &dir, home));
        if !normalized.opaque {
            prop_assert_eq!(path::analyze(&normalized.normalized, home).normalized, normalized.normalized);
        }
    }

    #[test]
    fn redaction_removes_detected_secrets(
        prefix in "[ a-zA-Z0-9=:._-]{0,40}",
        secret in prop_oneof![
            "AKIA[A-Z0-9]{16}",
            "ghp_[A-Za-z0-9]{36}",
            "glpat-[A-Za-z0-9]{20}",
            "sk_live_[A-Za-z0-9]{24}",
            "xoxb-[0-9]{12}-[A-Za-z0-9]{24}",
            "password=Xk9#mP2[$]vL7q[a-z]{0,4}",
        ],
        suffix in "[ a-zA-Z0-9=:._-]{0,40}",
    ) {
        let text = format!("{prefix} {secret} {suffix}");
        let found = secrets::scan(&text);
        let redacted = secrets::redact(&text, &found);
        for detection in &found {
            let value = &text[detection.start..detection.end];
            prop_assert!(!redacted.contains(value), "{} still in {}", value, redacted);
        }
        prop_assert!(!found.is_empty(), "nothing found in {}", text);
    }

    #[test]
    fn scan_offsets_are_valid(text in ".{0,300}") {
        for detection in secrets::scan(&text) {
            prop_assert!(detection.start < detection.end);
            prop_assert!(text.get(detection.start..detection.end).is_some());
        }
    }
}
