//! Turns parsed statements into [`SqlFacts`]: kinds, write/DDL/privilege effects, side-effect
//! functions, WHERE and LIMIT coverage.

use sqlparser::ast::{CopyTarget, ObjectType, SetExpr, Statement};

use super::SqlFacts;
use super::visit::{Collected, collect};
use crate::Finding;

/// Kinds that change data or schema.
const WRITE_KINDS: &[&str] = &[
    "insert", "update", "delete", "merge", "create", "alter", "drop", "truncate", "grant",
    "revoke", "deny", "call", "rename", "comment", "load", "refresh", "execute", "do", "install",
    "vacuum",
];
/// Kinds that change schema.
const DDL_KINDS: &[&str] = &["create", "alter", "drop", "truncate", "rename", "comment"];

/// Functions with effects beyond reading: (name, writes, privileged, explanation).
const SIDE_EFFECT_FUNCTIONS: &[(&str, bool, bool, &str)] = &[
    (
        "pg_terminate_backend",
        true,
        true,
        "terminates another session",
    ),
    (
        "pg_cancel_backend",
        true,
        true,
        "cancels another session's query",
    ),
    ("pg_read_file", false, true, "reads a server file"),
    ("pg_read_binary_file", false, true, "reads a server file"),
    ("pg_ls_dir", false, true, "lists a server directory"),
    ("pg_stat_file", false, true, "inspects a server file"),
    ("pg_file_write", true, true, "writes a server file"),
    ("lo_import", true, true, "imports a server file"),
    ("lo_export", true, true, "writes a server file"),
    ("lo_unlink", true, false, "deletes a large object"),
    ("dblink", false, true, "queries another server"),
    ("dblink_exec", true, true, "executes on another server"),
    ("dblink_connect", false, true, "connects to another server"),
    ("pg_reload_conf", true, true, "reloads server configuration"),
    ("pg_rotate_logfile", true, true, "rotates server logs"),
    ("pg_promote", true, true, "promotes a standby"),
    ("pg_switch_wal", true, true, "switches the WAL file"),
    ("set_config", true, false, "changes a configuration setting"),
    ("nextval", true, false, "advances a sequence"),
    ("setval", true, false, "sets a sequence"),
    ("load_file", false, true, "reads a server file"),
    ("sys_exec", true, true, "runs an operating-system command"),
    ("sys_eval", true, true, "runs an operating-system command"),
    (
        "xp_cmdshell",
        true,
        true,
        "runs an operating-system command",
    ),
    (
        "pg_execute_server_program",
        true,
        true,
        "runs a server program",
    ),
];

/// Lower-case kind of one statement.
pub(crate) fn kind_of(statement: &Statement) -> &'static str {
    match statement {
        Statement::Query(query) => query_kind(&query.body),
        Statement::Insert(_) => "insert",
        Statement::Update(_) => "update",
        Statement::Delete(_) => "delete",
        Statement::Merge(_) => "merge",
        Statement::Truncate(_) => "truncate",
        Statement::Grant(_) => "grant",
        Statement::Revoke(_) => "revoke",
        Statement::Deny(_) => "deny",
        Statement::Copy { .. } | Statement::CopyIntoSnowflake { .. } => "copy",
        Statement::Call(_) => "call",
        Statement::Explain { .. } | Statement::ExplainTable { .. } => "explain",
        Statement::Set(_) => "set",
        Statement::StartTransaction { .. } => "begin",
        Statement::Commit { .. } => "commit",
        Statement::Rollback { .. } => "rollback",
        Statement::Savepoint { .. } | Statement::ReleaseSavepoint { .. } => "savepoint",
        Statement::RenameTable(_) => "rename",
        Statement::Comment { .. } => "comment",
        Statement::Use(_) => "use",
        Statement::Analyze(_) => "analyze",
        Statement::Vacuum(_) => "vacuum",
        Statement::Lock(_) | Statement::LockTables { .. } | Statement::UnlockTables => "lock",
        Statement::Execute { .. } => "execute",
        Statement::Prepare { .. } => "prepare",
        Statement::Deallocate { .. } => "deallocate",
        Statement::Kill { .. } => "kill",
        Statement::LoadData { .. } | Statement::Load { .. } => "load",
        Statement::Install { .. } => "install",
        Statement::Declare { .. }
        | Statement::Fetch { .. }
        | Statement::Close { .. }
        | Statement::Open(_) => "cursor",
        Statement::Pragma { .. } => "pragma",
        Statement::Reset(_) | Statement::Discard { .. } => "set",
        other => kind_by_keyword(other),
    }
}

fn query_kind(body: &SetExpr) -> &'static str {
    match body {
        SetExpr::Insert(_) => "insert",
        SetExpr::Update(_) => "update",
        SetExpr::Delete(_) => "delete",
        SetExpr::Merge(_) => "merge",
        _ => "select",
    }
}

/// The many CREATE/ALTER/DROP/SHOW variants share their leading keyword.
fn kind_by_keyword(statement: &Statement) -> &'static str {
    let text = statement.to_string();
    let first = text
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_ascii_lowercase();
    match first.as_str() {
        "create" => "create",
        "alter" => "alter",
        "drop" => "drop",
        "show" | "describe" | "desc" => "show",
        "set" => "set",
        "attach" | "detach" => "alter",
        "listen" | "unlisten" | "notify" => "notify",
        _ => "other",
    }
}

/// Fills `facts` from the parsed statements.
pub(crate) fn statements(statements: &[Statement], facts: &mut SqlFacts) {
    facts.statements = statements.len();
    let mut every_filtered = true;
    for statement in statements {
        let kind = kind_of(statement);
        facts.kinds.push(kind.to_owned());
        let collected = match statement {
            Statement::Explain {
                analyze: false,
                statement: inner,
                ..
            } => {
                let mut inner = collect(inner);
                inner.statements.clear();
                inner.functions.clear();
                inner
            }
            other => collect(other),
        };
        every_filtered &= collected
            .statements
            .iter()
            .all(|(_, filtered)| filtered.unwrap_or(true));
        effects(statement, kind, &collected, facts);
        merge_names(&collected, facts);
    }
    facts.kind = match facts.statements {
        0 => "none".to_owned(),
        1 => facts.kinds.first().cloned().unwrap_or_default(),
        _ => "multiple".to_owned(),
    };
    credential_tables(facts);
    let single_select = top_level_select(statements, facts);
    facts.has_where = every_filtered && facts.statements > 0 && single_select.is_none_or(|s| s.0);
    facts.has_limit = single_select.is_some_and(|s| s.1);
}

/// For a single SELECT statement: (top-level WHERE present, top-level row bound present).
fn top_level_select(statements: &[Statement], facts: &mut SqlFacts) -> Option<(bool, bool)> {
    let [Statement::Query(query)] = statements else {
        return None;
    };
    let filtered = match query.body.as_ref() {
        SetExpr::Select(select) => {
            let mut collected = Collected::default();
            let filtered = collected.filters(select.selection.as_ref());
            always_true_findings(&collected, facts);
            filtered
        }
        SetExpr::Insert(_) | SetExpr::Update(_) | SetExpr::Delete(_) | SetExpr::Merge(_) => {
            return None;
        }
        _ => false,
    };
    Some((filtered, super::limit::has_row_bound(query)))
}

fn effects(statement: &Statement, kind: &str, collected: &Collected, facts: &mut SqlFacts) {
    for (nested, _) in &collected.statements {
        if WRITE_KINDS.contains(nested) {
            raise_write(facts, format!("{nested} statement"));
        }
        if DDL_KINDS.contains(nested) {
            facts.ddl = true;
            facts
                .findings
                .push(Finding::new("ddl", format!("{nested} changes schema")));
        }
        if matches!(*nested, "grant" | "revoke" | "deny") {
            raise_privileged(facts, format!("{nested} changes privileges"));
        }
    }
    if kind != "explain"
        && let Some((nested, _)) = collected
            .statements
            .iter()
            .skip(1)
            .find(|(k, _)| WRITE_KINDS.contains(k))
    {
        facts.findings.push(Finding::new(
            "writes",
            format!("{nested} hidden inside a {kind}"),
        ));
    }
    for target in &collected.select_into {
        raise_write(facts, format!("SELECT INTO {target} creates a table"));
        facts.ddl = true;
    }
    always_true_findings(collected, facts);
    if collected.locks {
        facts.findings.push(Finding::new(
            "locks",
            "SELECT ... FOR UPDATE/SHARE takes row locks (no data is written)",
        ));
    }
    for function in &collected.functions {
        let base = function.rsplit('.').next().unwrap_or(function);
        if let Some((name, writes, privileged, why)) =
            SIDE_EFFECT_FUNCTIONS.iter().find(|f| f.0 == base)
        {
            if *writes {
                raise_write(facts, format!("{name}() {why}"));
            }
            if *privileged {
                raise_privileged(facts, format!("{name}() {why}"));
            }
        }
    }
    statement_specific(statement, facts);
}

fn always_true_findings(collected: &Collected, facts: &mut SqlFacts) {
    for condition in &collected.always_true {
        facts.findings.push(Finding::new(
            "has_where",
            format!("WHERE {condition} is always true: it filters no rows"),
        ));
    }
}

fn statement_specific(statement: &Statement, facts: &mut SqlFacts) {
    match statement {
        Statement::Copy { to, target, .. } => {
            let direction = if *to { "TO" } else { "FROM" };
            match target {
                CopyTarget::Program { command } => {
                    raise_write(facts, format!("COPY {direction} PROGRAM runs {command:?}"));
                    raise_privileged(
                        facts,
                        format!("COPY {direction} PROGRAM runs a server command"),
                    );
                }
                CopyTarget::File { filename } => {
                    raise_privileged(facts, format!("COPY {direction} server file {filename}"));
                    raise_write(facts, format!("COPY {direction} {filename}"));
                }
                CopyTarget::Stdin | CopyTarget::Stdout if !*to => {
                    raise_write(facts, "COPY FROM STDIN loads rows".to_owned())
                }
                _ => {}
            }
        }
        Statement::CreateRole(_)
        | Statement::AlterRole { .. }
        | Statement::CreateUser(_)
        | Statement::AlterUser(_) => {
            raise_privileged(facts, "role or user management".to_owned());
        }
        Statement::Drop {
            object_type: ObjectType::Role | ObjectType::User,
            ..
        } => {
            raise_privileged(facts, "drops a role or user".to_owned());
        }
        Statement::CreateExtension(_) | Statement::Install { .. } | Statement::Load { .. } => {
            raise_privileged(facts, "loads server extensions".to_owned());
        }
        Statement::Lock(_) | Statement::LockTables { .. } => {
            raise_privileged(
                facts,
                "explicit table lock can block every other session".to_owned(),
            );
        }
        Statement::Call(function) => {
            facts.findings.push(Finding::new(
                "writes",
                format!("CALL {} has unknown effects", function.name),
            ));
        }
        Statement::Set(set) => {
            let text = set.to_string().to_ascii_lowercase();
            if text.contains("role") || text.contains("authorization") {
                raise_privileged(facts, "changes the session's role".to_owned());
            }
        }
        _ => {}
    }
}

/// Catalogs holding password hashes or server credentials.
const CREDENTIAL_TABLES: &[&str] = &[
    "pg_shadow",
    "pg_authid",
    "pg_user_mapping",
    "pg_user_mappings",
    "mysql.user",
    "mysql.global_priv",
    "sys.sql_logins",
    "master.sys.sql_logins",
];

fn credential_tables(facts: &mut SqlFacts) {
    let found: Vec<String> = facts
        .tables
        .iter()
        .filter(|t| {
            let unqualified = t.strip_prefix("pg_catalog.").unwrap_or(t);
            CREDENTIAL_TABLES.contains(&unqualified)
        })
        .cloned()
        .collect();
    for table in found {
        raise_privileged(facts, format!("{table} holds credentials"));
    }
}

fn merge_names(collected: &Collected, facts: &mut SqlFacts) {
    for table in &collected.tables {
        if !collected.cte_names.contains(table) && !facts.tables.contains(table) {
            facts.tables.push(table.clone());
        }
    }
    for function in &collected.functions {
        if !facts.functions.contains(function) {
            facts.functions.push(function.clone());
        }
    }
}

fn raise_write(facts: &mut SqlFacts, detail: String) {
    facts.writes = true;
    facts.findings.push(Finding::new("writes", detail));
}

fn raise_privileged(facts: &mut SqlFacts, detail: String) {
    facts.privileged = true;
    facts.findings.push(Finding::new("privileged", detail));
}

/// MySQL `INTO OUTFILE` / `INTO DUMPFILE` writes server files; flagged before parsing because
/// not every form parses.
pub(crate) fn mysql_file_output(sql: &str, facts: &mut SqlFacts) {
    let upper = sql.to_ascii_uppercase();
    let compact: String = upper.split_whitespace().collect::<Vec<_>>().join(" ");
    if compact.contains("INTO OUTFILE") || compact.contains("INTO DUMPFILE") {
        raise_write(
            facts,
            "INTO OUTFILE/DUMPFILE writes a server file".to_owned(),
        );
        raise_privileged(
            facts,
            "INTO OUTFILE/DUMPFILE writes a server file".to_owned(),
        );
    }
}

/// Hints for input that does not parse: `DO` blocks and `ALTER SYSTEM` are recognized by keyword.
pub(crate) fn unparsed_hints(sql: &str, mut facts: SqlFacts) -> SqlFacts {
    let compact: String = sql
        .split_whitespace()
        .take(2)
        .collect::<Vec<_>>()
        .join(" ")
        .to_ascii_uppercase();
    if compact == "DO"
        || compact.starts_with("DO $")
        || compact.starts_with("DO '")
        || compact.starts_with("DO LANGUAGE")
    {
        facts
            .findings
            .push(Finding::new("writes", "DO block runs procedural code"));
    }
    if compact.starts_with("ALTER SYSTEM") {
        raise_privileged(
            &mut facts,
            "ALTER SYSTEM changes server configuration".to_owned(),
        );
        facts.ddl = true;
    }
    facts
}
