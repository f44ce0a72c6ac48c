//! SQL analysis through a real parser (`sqlparser`): statement kinds, tables, functions, and
//! whether the input writes, changes schema, needs privileges, filters and bounds its rows.
//!
//! Writes hidden inside queries are found by walking the whole AST: data-modifying CTEs,
//! `SELECT ... INTO`, `EXPLAIN ANALYZE <write>`, side-effect functions. `SELECT ... FOR UPDATE`
//! takes row locks but changes no data: it does not set `writes`, it adds a finding instead.
//! Input that does not parse is `opaque` and, to fail closed, is assumed to write.
//!
//! Pure: no database connection, no I/O.

mod classify;
mod limit;
mod tautology;
mod visit;

use std::cell::{Cell, RefCell};
use std::str::FromStr;

use sqlparser::ast::Statement;
use sqlparser::dialect::{Dialect, GenericDialect, MySqlDialect, PostgreSqlDialect};
use sqlparser::parser::{Parser, ParserError};
use sqlparser::tokenizer::{TokenWithSpan, Tokenizer};

pub use crate::error::SqlError;
pub use limit::with_limit;

use crate::Finding;

/// SQL inputs longer than this are not parsed (reported opaque).
pub const MAX_SQL_BYTES: usize = 256 * 1024;

/// The SQL dialect to parse with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub enum SqlDialect {
    /// Permissive ANSI-ish grammar.
    #[default]
    Generic,
    /// PostgreSQL.
    Postgres,
    /// MySQL / MariaDB.
    MySql,
}

/// Error for an unknown dialect name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown SQL dialect {0:?}: expected generic, postgres, postgresql or mysql")]
pub struct UnknownDialect(pub String);

impl FromStr for SqlDialect {
    type Err = UnknownDialect;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "generic" => Ok(Self::Generic),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            "mysql" => Ok(Self::MySql),
            _ => Err(UnknownDialect(s.to_owned())),
        }
    }
}

impl SqlDialect {
    fn parser_dialect(self) -> &'static dyn Dialect {
        match self {
            Self::Generic => &GenericDialect {},
            Self::Postgres => &PostgreSqlDialect {},
            Self::MySql => &MySqlDialect {},
        }
    }
}

/// Facts about a SQL input.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct SqlFacts {
    /// Kind of the single statement (`select`, `insert`, ...); `multiple` for several, `none`
    /// for empty input, `unknown` when opaque.
    pub kind: String,
    /// Kind of each statement, in order.
    pub kinds: Vec<String>,
    /// Number of statements.
    pub statements: usize,
    /// Every table referenced anywhere, lower-cased, deduplicated, schema-qualified as written.
    pub tables: Vec<String>,
    /// Every function called, lower-cased.
    pub functions: Vec<String>,
    /// Changes data, schema, privileges, files or sequences (or cannot be analyzed).
    pub writes: bool,
    /// Changes schema (create, alter, drop, truncate, rename, comment).
    pub ddl: bool,
    /// Needs or changes privileges, or reaches outside the database (files, programs, other servers).
    pub privileged: bool,
    /// Does not parse.
    pub opaque: bool,
    /// Every UPDATE/DELETE has a WHERE, and a single SELECT filters at top level; a WHERE that is
    /// always true (`1=1`, `true`, `x = x`, `... OR 1=1`) does not count.
    pub has_where: bool,
    /// A single SELECT whose top-level query has LIMIT / FETCH FIRST / TOP.
    pub has_limit: bool,
    /// Why each flag was raised.
    pub findings: Vec<Finding>,
}

/// Analyzes `sql` in `dialect`.
pub fn analyze(sql: &str, dialect: SqlDialect) -> SqlFacts {
    let mut facts = SqlFacts::default();
    if sql.len() > MAX_SQL_BYTES {
        return opaque(
            facts,
            format!("{} bytes exceeds the {MAX_SQL_BYTES}-byte limit", sql.len()),
        );
    }
    let parsed = std::panic::catch_unwind(|| parse(sql, dialect));
    match parsed {
        Ok(Ok(statements)) => {
            let facts = parsed_facts(sql, dialect, &statements);
            LAST_PARSE
                .with(|last| *last.borrow_mut() = Some((dialect, sql.to_owned(), statements)));
            facts
        }
        Ok(Err(error)) => {
            if dialect == SqlDialect::MySql {
                classify::mysql_file_output(sql, &mut facts);
            }
            let facts = classify::unparsed_hints(sql, facts);
            opaque(facts, format!("does not parse: {error}"))
        }
        Err(_) => {
            if dialect == SqlDialect::MySql {
                classify::mysql_file_output(sql, &mut facts);
            }
            opaque(facts, "the SQL parser failed on this input".to_owned())
        }
    }
}

/// Token buffers up to this many tokens are kept for the thread's next parse.
const KEPT_TOKENS: usize = 4096;

thread_local! {
    /// The token buffer of this thread's last parse, emptied. Tokenizing into a buffer that already
    /// has room saves growing a fresh one (and copying every token as it grows) on every call.
    static TOKENS: Cell<Vec<TokenWithSpan>> = const { Cell::new(Vec::new()) };
}

/// Parses `sql` in `dialect`: what `Parser::parse_sql` does, but tokenizing into this thread's
/// kept token buffer.
pub(crate) fn parse(sql: &str, dialect: SqlDialect) -> Result<Vec<Statement>, ParserError> {
    let mut tokens = TOKENS.take();
    tokens.clear();
    Tokenizer::new(dialect.parser_dialect(), sql).tokenize_with_location_into_buf(&mut tokens)?;
    let mut parser = Parser::new(dialect.parser_dialect()).with_tokens_with_locations(tokens);
    let statements = parser.parse_statements();
    let mut tokens = parser.into_tokens();
    if tokens.capacity() <= KEPT_TOKENS {
        tokens.clear();
        TOKENS.set(tokens);
    }
    statements
}

thread_local! {
    /// The statements of the text this thread analyzed last. A remediation rewrites the text the
    /// same decision has just analyzed (`with_limit`), and takes them from here instead of
    /// parsing the text a second time. One entry: it is never read for any other text.
    static LAST_PARSE: RefCell<Option<(SqlDialect, String, Vec<Statement>)>> =
        const { RefCell::new(None) };
}

/// The statements of `sql` in `dialect` if this thread analyzed exactly that text last.
pub(crate) fn take_last_parse(sql: &str, dialect: SqlDialect) -> Option<Vec<Statement>> {
    LAST_PARSE.with(|last| {
        let mut last = last.borrow_mut();
        match last.as_ref() {
            Some((d, text, _)) if *d == dialect && text == sql => last.take().map(|(_, _, s)| s),
            _ => None,
        }
    })
}

/// The facts of `sql`, already parsed into `statements` (so that callers that need the AST as
/// well parse only once).
pub(crate) fn parsed_facts(sql: &str, dialect: SqlDialect, statements: &[Statement]) -> SqlFacts {
    let mut facts = SqlFacts::default();
    if dialect == SqlDialect::MySql {
        classify::mysql_file_output(sql, &mut facts);
    }
    classify::statements(statements, &mut facts);
    facts
}

fn opaque(mut facts: SqlFacts, detail: String) -> SqlFacts {
    facts.opaque = true;
    facts.writes = true;
    facts.kind = "unknown".to_owned();
    facts.findings.push(Finding::new("opaque", detail));
    facts.findings.push(Finding::new(
        "writes",
        "SQL that cannot be analyzed is assumed to write",
    ));
    facts
}

#[cfg(test)]
mod tests;
