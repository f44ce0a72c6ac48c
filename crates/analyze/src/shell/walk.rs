//! The AST walker: visits every command a parsed script can run and folds the classifiers'
//! verdicts into [`ShellFacts`].
//!
//! Recursion is bounded three ways: input size and nesting are checked before parsing, re-parsed
//! inner scripts are limited to [`MAX_REPARSE_DEPTH`], and wrapper unwrapping to [`MAX_UNWRAP`].

use brush_parser::ast;

use super::verdict::{Arg, Fact, Next, Verdict};
use super::{
    MAX_NESTING, MAX_REPARSE_DEPTH, MAX_SCRIPT_BYTES, ShellCommand, ShellFacts, clients, effects,
    producers, schedule, tools, words, wrappers,
};
use crate::Finding;
use crate::sql::SqlDialect;

/// Deepest chain of wrappers unwrapped for one simple command (`sudo sudo sudo ...`).
pub(crate) const MAX_UNWRAP: usize = 32;
/// Findings kept per analysis; further ones only set flags.
const MAX_FINDINGS: usize = 64;

/// The command that finally runs after unwrapping, as seen by pipelines and redirections.
#[derive(Debug, Clone, Default)]
pub(crate) struct Invocation {
    /// Basename of the command.
    pub name: String,
    /// Its arguments, `argv[0]` excluded.
    pub args: Vec<Arg>,
}

/// Accumulates facts while walking one script and everything nested in it.
#[derive(Debug, Default)]
pub(crate) struct Walker {
    facts: ShellFacts,
    depth: usize,
    /// Functions being defined (innermost last) with how often each calls itself.
    functions: Vec<(String, usize)>,
}

impl Walker {
    /// Returns the facts, findings deduplicated.
    pub fn finish(mut self) -> ShellFacts {
        let mut seen = std::collections::HashSet::new();
        self.facts
            .findings
            .retain(|f| seen.insert((f.fact.clone(), f.detail.clone())));
        self.facts
    }

    /// Parses and walks `text`; `origin` names it in findings.
    pub fn script(&mut self, text: &str, origin: &str, depth: usize) {
        if depth > MAX_REPARSE_DEPTH {
            self.raise(
                Fact::Opaque,
                format!("{origin}: nested scripts deeper than {MAX_REPARSE_DEPTH}"),
            );
            return;
        }
        if text.len() > MAX_SCRIPT_BYTES {
            self.raise(
                Fact::Opaque,
                format!(
                    "{origin}: {} bytes exceeds the {MAX_SCRIPT_BYTES}-byte limit",
                    text.len()
                ),
            );
            return;
        }
        if super::nesting_depth(text) > MAX_NESTING || text.matches('`').count() > 2 * MAX_NESTING {
            self.raise(
                Fact::Opaque,
                format!("{origin}: nesting deeper than {MAX_NESTING}"),
            );
            return;
        }
        let parsed = std::panic::catch_unwind(|| {
            let options = brush_parser::ParserOptions::default();
            let mut parser =
                brush_parser::Parser::new(std::io::Cursor::new(text.as_bytes()), &options);
            parser.parse_program()
        });
        let saved = self.depth;
        self.depth = depth;
        match parsed {
            Ok(Ok(program)) => {
                for list in &program.complete_commands {
                    self.compound_list(list);
                }
            }
            Ok(Err(error)) => self.raise(Fact::Opaque, format!("{origin} does not parse: {error}")),
            Err(_) => self.raise(
                Fact::Opaque,
                format!("{origin}: the shell parser failed on this input"),
            ),
        }
        self.depth = saved;
    }

    /// Adds `path` to the facts once.
    fn record_path(&mut self, path: &str) {
        if !self.facts.paths.iter().any(|p| p == path) {
            self.facts.paths.push(path.to_owned());
        }
    }

    fn raise(&mut self, fact: Fact, detail: String) {
        let flags = &mut self.facts;
        match fact {
            Fact::Destructive => {
                flags.destructive = true;
                flags.mutates = true;
            }
            Fact::Mutates => flags.mutates = true,
            Fact::Network => flags.network = true,
            Fact::Privileged => flags.privileged = true,
            Fact::Opaque => flags.opaque = true,
        }
        if flags.findings.len() < MAX_FINDINGS {
            flags.findings.push(Finding::new(fact.name(), detail));
        }
    }

    fn compound_list(&mut self, list: &ast::CompoundList) {
        for item in &list.0 {
            self.and_or(&item.0);
        }
    }

    fn and_or(&mut self, list: &ast::AndOrList) {
        self.pipeline(&list.first);
        for next in &list.additional {
            match next {
                ast::AndOr::And(pipeline) | ast::AndOr::Or(pipeline) => self.pipeline(pipeline),
            }
        }
    }

    fn pipeline(&mut self, pipeline: &ast::Pipeline) {
        let mut upstream: Option<Invocation> = None;
        for (index, command) in pipeline.seq.iter().enumerate() {
            let invocation = self.command(command);
            if let Some(current) = invocation.as_ref().filter(|_| index > 0)
                && reads_code_from_stdin(current)
            {
                let fed = upstream.as_ref().and_then(producers::literal_output);
                let origin = match &upstream {
                    Some(up) => format!("output of {} piped into {}", up.name, current.name),
                    None => format!("pipeline output piped into {}", current.name),
                };
                self.feed_stdin(current, fed, &origin);
            }
            upstream = invocation;
        }
    }

    fn command(&mut self, command: &ast::Command) -> Option<Invocation> {
        match command {
            ast::Command::Simple(simple) => self.simple(simple),
            ast::Command::Compound(compound, redirects) => {
                self.compound(compound);
                if let Some(list) = redirects {
                    for redirect in &list.0 {
                        self.redirect(redirect, None, true);
                    }
                }
                None
            }
            ast::Command::Function(function) => {
                self.function(function);
                None
            }
            ast::Command::ExtendedTest(test, redirects) => {
                self.extended_test(&test.expr);
                if let Some(list) = redirects {
                    for redirect in &list.0 {
                        self.redirect(redirect, None, true);
                    }
                }
                None
            }
        }
    }

    fn compound(&mut self, compound: &ast::CompoundCommand) {
        match compound {
            ast::CompoundCommand::Arithmetic(arith) => self.arithmetic(&arith.expr.value),
            ast::CompoundCommand::ArithmeticForClause(clause) => {
                for expr in [&clause.initializer, &clause.condition, &clause.updater]
                    .into_iter()
                    .flatten()
                {
                    self.arithmetic(&expr.value);
                }
                self.compound_list(&clause.body.list);
            }
            ast::CompoundCommand::BraceGroup(group) => self.compound_list(&group.list),
            ast::CompoundCommand::Subshell(subshell) => self.compound_list(&subshell.list),
            ast::CompoundCommand::ForClause(clause) => {
                for value in clause.values.iter().flatten() {
                    self.word(&value.value);
                }
                self.compound_list(&clause.body.list);
            }
            ast::CompoundCommand::CaseClause(clause) => {
                self.word(&clause.value.value);
                for item in &clause.cases {
                    for pattern in &item.patterns {
                        self.word(&pattern.value);
                    }
                    if let Some(list) = &item.cmd {
                        self.compound_list(list);
                    }
                }
            }
            ast::CompoundCommand::IfClause(clause) => {
                self.compound_list(&clause.condition);
                self.compound_list(&clause.then);
                for branch in clause.elses.iter().flatten() {
                    if let Some(condition) = &branch.condition {
                        self.compound_list(condition);
                    }
                    self.compound_list(&branch.body);
                }
            }
            ast::CompoundCommand::WhileClause(clause)
            | ast::CompoundCommand::UntilClause(clause) => {
                self.compound_list(&clause.0);
                self.compound_list(&clause.1.list);
            }
            ast::CompoundCommand::Coprocess(coprocess) => {
                self.command(&coprocess.body);
            }
        }
    }

    fn function(&mut self, function: &ast::FunctionDefinition) {
        let name = function.fname.value.clone();
        self.functions.push((name.clone(), 0));
        self.compound(&function.body.0);
        if let Some(list) = &function.body.1 {
            for redirect in &list.0 {
                self.redirect(redirect, None, true);
            }
        }
        let calls = self
            .functions
            .pop()
            .map(|(_, calls)| calls)
            .unwrap_or_default();
        if calls >= 2 {
            self.raise(
                Fact::Destructive,
                format!("function {name} calls itself {calls} times: fork bomb"),
            );
        }
    }

    fn extended_test(&mut self, expr: &ast::ExtendedTestExpr) {
        match expr {
            ast::ExtendedTestExpr::And(a, b) | ast::ExtendedTestExpr::Or(a, b) => {
                self.extended_test(a);
                self.extended_test(b);
            }
            ast::ExtendedTestExpr::Not(inner) | ast::ExtendedTestExpr::Parenthesized(inner) => {
                self.extended_test(inner)
            }
            ast::ExtendedTestExpr::UnaryTest(_, word) => {
                self.word(&word.value);
            }
            ast::ExtendedTestExpr::BinaryTest(_, left, right) => {
                self.word(&left.value);
                self.word(&right.value);
            }
        }
    }

    fn arithmetic(&mut self, expr: &str) {
        if expr.contains("$(") || expr.contains('`') {
            self.word(&format!("\"{expr}\""));
        }
    }

    /// Resolves a word and walks the command substitutions inside it.
    fn word(&mut self, raw: &str) -> Arg {
        let resolved = words::resolve(raw);
        for script in &resolved.substitutions {
            self.script(script, "command substitution", self.depth + 1);
        }
        Arg {
            literal: resolved.literal().is_some(),
            glob: resolved.glob,
            text: resolved.text,
        }
    }

    fn simple(&mut self, simple: &ast::SimpleCommand) -> Option<Invocation> {
        let mut argv = Vec::new();
        let mut redirects = Vec::new();
        let items = simple.prefix.iter().flat_map(|p| p.0.iter());
        let suffix = simple.suffix.iter().flat_map(|s| s.0.iter());
        let mut name_pending = simple.word_or_name.as_ref();
        for item in items {
            self.prefix_or_suffix(item, &mut argv, &mut redirects);
        }
        if let Some(name) = name_pending.take() {
            argv.push(self.word(&name.value));
        }
        for item in suffix {
            self.prefix_or_suffix(item, &mut argv, &mut redirects);
        }
        let invocation = if argv.is_empty() {
            None
        } else {
            self.run(argv, 0)
        };
        let bare = invocation
            .as_ref()
            .is_none_or(|i| matches!(i.name.as_str(), ":" | "true"));
        for redirect in redirects {
            self.redirect(redirect, invocation.as_ref(), bare);
        }
        invocation
    }

    fn prefix_or_suffix<'a>(
        &mut self,
        item: &'a ast::CommandPrefixOrSuffixItem,
        argv: &mut Vec<Arg>,
        redirects: &mut Vec<&'a ast::IoRedirect>,
    ) {
        match item {
            ast::CommandPrefixOrSuffixItem::IoRedirect(redirect) => redirects.push(redirect),
            ast::CommandPrefixOrSuffixItem::Word(word) => argv.push(self.word(&word.value)),
            ast::CommandPrefixOrSuffixItem::AssignmentWord(_, word) => {
                let resolved = self.word(&word.value);
                if !argv.is_empty() {
                    argv.push(resolved);
                }
            }
            ast::CommandPrefixOrSuffixItem::ProcessSubstitution(kind, subshell) => {
                self.compound_list(&subshell.list);
                let text = match kind {
                    ast::ProcessSubstitutionKind::Read => "<(...)",
                    ast::ProcessSubstitutionKind::Write => ">(...)",
                };
                argv.push(Arg {
                    text: text.to_owned(),
                    literal: false,
                    glob: false,
                });
            }
        }
    }

    /// Records and classifies one argument vector, following wrappers; returns the innermost command.
    fn run(&mut self, argv: Vec<Arg>, unwrap_depth: usize) -> Option<Invocation> {
        let (first, args) = argv.split_first()?;
        if unwrap_depth > MAX_UNWRAP {
            self.raise(
                Fact::Opaque,
                format!("more than {MAX_UNWRAP} nested wrappers"),
            );
            return None;
        }
        let name = basename(&first.text).to_owned();
        for arg in args {
            if let Some(path) = words::path_like(&arg.text) {
                self.record_path(path);
            }
        }
        self.facts.commands.push(ShellCommand {
            name: name.clone(),
            argv: argv.iter().map(|a| a.text.clone()).collect(),
        });
        if !first.literal {
            self.raise(
                Fact::Opaque,
                format!("command name is not a literal: {}", first.text),
            );
            return Some(Invocation {
                name,
                args: args.to_vec(),
            });
        }
        if let Some(entry) = self.functions.iter_mut().find(|(f, _)| *f == name) {
            entry.1 += 1;
        }
        let verdict = classify(&name, args);
        let mut innermost = Invocation {
            name,
            args: args.to_vec(),
        };
        for (fact, detail) in verdict.raised {
            self.raise(fact, detail);
        }
        for next in verdict.next {
            match next {
                Next::Run(inner) => {
                    if let Some(found) = self.run(inner, unwrap_depth + 1) {
                        innermost = found;
                    }
                }
                Next::Script { text, origin } => self.script(&text, &origin, self.depth + 1),
                Next::Sql {
                    text,
                    dialect,
                    origin,
                } => self.sql(&text, dialect, &origin),
            }
        }
        Some(innermost)
    }

    /// Folds the SQL analyzer's facts about SQL run by a database client.
    fn sql(&mut self, text: &str, dialect: SqlDialect, origin: &str) {
        let facts = crate::sql::analyze(text, dialect);
        if facts.opaque {
            self.raise(Fact::Opaque, format!("{origin}: SQL cannot be analyzed"));
        }
        let destructive_kinds = ["drop", "truncate", "delete"];
        if let Some(kind) = facts
            .kinds
            .iter()
            .find(|k| destructive_kinds.contains(&k.as_str()))
        {
            self.raise(Fact::Destructive, format!("{origin}: SQL {kind}"));
        } else if facts.kinds.iter().any(|k| k == "update") && !facts.has_where {
            self.raise(
                Fact::Destructive,
                format!("{origin}: SQL update without WHERE"),
            );
        }
        if facts.writes {
            self.raise(
                Fact::Mutates,
                format!("{origin}: SQL writes ({})", facts.kind),
            );
        }
        if facts.privileged {
            self.raise(Fact::Privileged, format!("{origin}: privileged SQL"));
        }
    }

    /// Analyzes what an interpreter reads on stdin: literal text is re-parsed, anything else is opaque.
    fn feed_stdin(&mut self, target: &Invocation, text: Option<String>, origin: &str) {
        let sql_dialect = match target.name.as_str() {
            "psql" => Some(SqlDialect::Postgres),
            "mysql" | "mariadb" => Some(SqlDialect::MySql),
            "sqlite3" | "duckdb" => Some(SqlDialect::Generic),
            _ => None,
        };
        match (text, sql_dialect) {
            (Some(text), Some(dialect)) => self.sql(&text, dialect, origin),
            (Some(text), None) if wrappers::SHELLS.contains(&target.name.as_str()) => {
                self.script(&text, origin, self.depth + 1);
            }
            (Some(text), None) if schedule::reads_jobs_from_stdin(target) => {
                let job = schedule::job_script(&target.name, &text);
                self.script(&job, origin, self.depth + 1);
            }
            _ => self.raise(
                Fact::Opaque,
                format!("{origin}: code is not known before it runs"),
            ),
        }
    }

    fn redirect(&mut self, redirect: &ast::IoRedirect, target: Option<&Invocation>, bare: bool) {
        match redirect {
            ast::IoRedirect::File(_, kind, file_target) => match file_target {
                ast::IoFileRedirectTarget::Filename(word) => {
                    let file = self.word(&word.value);
                    self.file_redirect(kind, &file, target, bare);
                }
                ast::IoFileRedirectTarget::ProcessSubstitution(_, subshell) => {
                    self.compound_list(&subshell.list)
                }
                ast::IoFileRedirectTarget::Duplicate(word) => {
                    self.word(&word.value);
                }
                ast::IoFileRedirectTarget::Fd(_) => {}
            },
            ast::IoRedirect::HereDocument(_, doc) => {
                let body = if doc.requires_expansion {
                    let resolved = words::resolve_heredoc(&doc.doc.value);
                    for script in &resolved.substitutions {
                        self.script(
                            script,
                            "command substitution in here-document",
                            self.depth + 1,
                        );
                    }
                    resolved.literal().map(str::to_owned)
                } else {
                    Some(doc.doc.value.clone())
                };
                self.stdin_text(target, body, "here-document");
            }
            ast::IoRedirect::HereString(_, word) => {
                let arg = self.word(&word.value);
                let text = arg.literal.then_some(arg.text);
                self.stdin_text(target, text, "here-string");
            }
            ast::IoRedirect::OutputAndError(word, _) => {
                let file = self.word(&word.value);
                self.file_redirect(&ast::IoFileRedirectKind::Write, &file, target, bare);
            }
        }
    }

    fn stdin_text(&mut self, target: Option<&Invocation>, text: Option<String>, what: &str) {
        let Some(target) = target else { return };
        if reads_code_from_stdin(target) {
            let origin = format!("{what} fed to {}", target.name);
            self.feed_stdin(target, text, &origin);
        }
    }

    fn file_redirect(
        &mut self,
        kind: &ast::IoFileRedirectKind,
        file: &Arg,
        target: Option<&Invocation>,
        bare: bool,
    ) {
        let path = file.text.as_str();
        if !path.is_empty() {
            self.record_path(path);
        }
        let writes = matches!(
            kind,
            ast::IoFileRedirectKind::Write
                | ast::IoFileRedirectKind::Append
                | ast::IoFileRedirectKind::Clobber
                | ast::IoFileRedirectKind::ReadAndWrite
        );
        let script_reader = target.filter(|t| wrappers::reads_script_from_stdin(&t.name, &t.args));
        let job_reader = target.filter(|t| schedule::reads_jobs_from_stdin(t));
        if let Some(reader) = job_reader.filter(|_| !writes) {
            self.raise(
                Fact::Opaque,
                format!("{} schedules the script in {path}", reader.name),
            );
        } else if let Some(reader) = script_reader.filter(|_| !writes)
            && (!file.literal || path.starts_with("/dev/") || path.starts_with("/proc/"))
        {
            self.raise(
                Fact::Opaque,
                format!("{} reads its script from {path}", reader.name),
            );
        }
        if path.starts_with("/dev/tcp/") || path.starts_with("/dev/udp/") {
            self.raise(
                Fact::Network,
                format!("redirection to {path}: raw network connection"),
            );
            return;
        }
        if !writes {
            return;
        }
        if matches!(
            path,
            "/dev/null" | "/dev/stdout" | "/dev/stderr" | "/dev/tty"
        ) || path.starts_with("/dev/fd/")
        {
            return;
        }
        let truncates = matches!(
            kind,
            ast::IoFileRedirectKind::Write | ast::IoFileRedirectKind::Clobber
        );
        if is_block_device(path) {
            self.raise(
                Fact::Destructive,
                format!("redirection to {path}: overwrites a device"),
            );
        } else if truncates && is_protected_file(path) {
            self.raise(
                Fact::Destructive,
                format!("> {path}: overwrites a system or profile file"),
            );
        } else if truncates && bare {
            self.raise(Fact::Destructive, format!("> {path}: truncates the file"));
        } else if is_protected_file(path) {
            self.raise(
                Fact::Privileged,
                format!(">> {path}: appends to a system or profile file"),
            );
        }
        self.raise(Fact::Mutates, format!("redirection writes {path}"));
    }
}

/// Classifies one command by name: wrappers first, then tools, then plain commands.
fn classify(name: &str, args: &[Arg]) -> Verdict {
    let mut verdict = Verdict::default();
    if !wrappers::classify(name, args, &mut verdict)
        && !tools::classify(name, args, &mut verdict)
        && !clients::classify(name, args, &mut verdict)
        && !schedule::classify(name, args, &mut verdict)
    {
        effects::classify(name, args, &mut verdict);
    }
    verdict
}

/// `/usr/bin/rm` -> `rm`; keeps names without a slash as they are.
fn basename(text: &str) -> &str {
    let trimmed = text.trim_end_matches('/');
    trimmed
        .rsplit('/')
        .next()
        .filter(|s| !s.is_empty())
        .unwrap_or(text)
}

/// Whether the command runs what it reads on stdin: a shell or interpreter without a script
/// operand, a database client without an inline query, a job scheduler.
fn reads_code_from_stdin(invocation: &Invocation) -> bool {
    wrappers::reads_script_from_stdin(&invocation.name, &invocation.args)
        || is_sql_client_on_stdin(invocation)
        || schedule::reads_jobs_from_stdin(invocation)
}

/// A database client without an inline query reads SQL from stdin.
fn is_sql_client_on_stdin(invocation: &Invocation) -> bool {
    let inline = |flags: &[&str]| {
        invocation
            .args
            .iter()
            .any(|a| flags.iter().any(|f| a.text.starts_with(f)))
    };
    match invocation.name.as_str() {
        "psql" => !inline(&["-c", "--command", "-f", "--file", "-l", "--list"]),
        "mysql" | "mariadb" => !inline(&["-e", "--execute"]),
        "sqlite3" | "duckdb" => super::verdict::operands(&invocation.args).len() < 2,
        _ => false,
    }
}

fn is_block_device(path: &str) -> bool {
    [
        "/dev/sd",
        "/dev/hd",
        "/dev/vd",
        "/dev/xvd",
        "/dev/nvme",
        "/dev/mmcblk",
        "/dev/disk",
        "/dev/mapper/",
        "/dev/md",
        "/dev/mem",
        "/dev/kmem",
        "/dev/port",
        "/dev/loop",
        "/dev/dm-",
    ]
    .iter()
    .any(|prefix| path.starts_with(prefix))
}

/// Files whose overwrite breaks the host or plants persistence.
fn is_protected_file(path: &str) -> bool {
    let system = [
        "/etc/",
        "/boot/",
        "/usr/",
        "/bin/",
        "/sbin/",
        "/lib",
        "/var/lib/",
        "/root/",
        "/sys/",
        "/proc/",
    ];
    let profile = [
        "/.ssh/",
        "/.bashrc",
        "/.bash_profile",
        "/.profile",
        "/.zshrc",
        "/.zprofile",
        "/.gitconfig",
        "/.config/autostart",
        "/.aws/",
        "/.kube/config",
    ];
    let expanded = path.strip_prefix('~').map(|rest| format!("/home{rest}"));
    let path = expanded.as_deref().unwrap_or(path);
    system.iter().any(|p| path.starts_with(p))
        || profile.iter().any(|p| path.contains(p))
        || path.starts_with(".git/")
}
