//! The vocabulary shared by the shell command classifiers: arguments, facts and verdicts.
//!
//! Classifiers are pure functions from an argument vector to a [`Verdict`]: the facts the command
//! raises and the nested work (wrapped commands, scripts, SQL) the walker must analyze next.

use crate::sql::SqlDialect;

/// One argument after quote removal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Arg {
    /// Resolved text (dynamic parts kept as written).
    pub text: String,
    /// Fully known before execution: no expansion, substitution or glob.
    pub literal: bool,
    /// Contains an unquoted glob.
    pub glob: bool,
}

impl Arg {
    /// A literal argument, as produced when re-splitting literal text.
    pub fn literal(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            literal: true,
            glob: false,
        }
    }

    /// Looks like an option (`-x`, `--long`), as opposed to an operand.
    pub fn is_option(&self) -> bool {
        self.text.len() > 1 && self.text.starts_with('-')
    }
}

/// A fact a command can raise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fact {
    /// Irreversible loss of data or availability.
    Destructive,
    /// Any write.
    Mutates,
    /// Talks to another host.
    Network,
    /// Gains or uses elevated privileges.
    Privileged,
    /// Cannot be analyzed statically.
    Opaque,
}

impl Fact {
    /// The policy-facing name of the fact.
    pub fn name(self) -> &'static str {
        match self {
            Self::Destructive => "destructive",
            Self::Mutates => "mutates",
            Self::Network => "network",
            Self::Privileged => "privileged",
            Self::Opaque => "opaque",
        }
    }
}

/// Further analysis a command asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Next {
    /// A wrapped command to classify as if it ran directly (`sudo rm ...`).
    Run(Vec<Arg>),
    /// Literal shell source to parse and walk (`bash -c '...'`, `eval ...`).
    Script {
        /// The source text.
        text: String,
        /// Where it came from, for findings.
        origin: String,
    },
    /// Literal SQL run by a database client (`psql -c ...`).
    Sql {
        /// The SQL text.
        text: String,
        /// The dialect implied by the client.
        dialect: SqlDialect,
        /// Where it came from, for findings.
        origin: String,
    },
}

/// What one command raises and what it runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// Raised facts with their explanations.
    pub raised: Vec<(Fact, String)>,
    /// Nested work for the walker.
    pub next: Vec<Next>,
}

impl Verdict {
    /// Raises `fact` with an explanation.
    pub fn raise(&mut self, fact: Fact, detail: impl Into<String>) {
        self.raised.push((fact, detail.into()));
    }

    /// Asks the walker to analyze `next` as well.
    pub fn then(&mut self, next: Next) {
        self.next.push(next);
    }
}

/// Arguments before a `--` terminator.
pub(crate) fn options_part(args: &[Arg]) -> &[Arg] {
    let end = args
        .iter()
        .position(|a| a.text == "--")
        .unwrap_or(args.len());
    args.get(..end).unwrap_or(args)
}

/// Whether a short option letter is present (`-rf` has `r` and `f`).
pub(crate) fn has_short(args: &[Arg], letter: char) -> bool {
    options_part(args).iter().any(|a| {
        a.text
            .strip_prefix('-')
            .is_some_and(|rest| !rest.starts_with('-') && rest.contains(letter))
    })
}

/// Whether a long option is present, alone or as `--name=value`.
pub(crate) fn has_long(args: &[Arg], name: &str) -> bool {
    options_part(args).iter().any(|a| {
        a.text == name
            || a.text
                .strip_prefix(name)
                .is_some_and(|rest| rest.starts_with('='))
    })
}

/// Whether any argument equals `text` exactly.
pub(crate) fn has_arg(args: &[Arg], text: &str) -> bool {
    args.iter().any(|a| a.text == text)
}

/// Operands: arguments that are not options (everything after `--` counts as an operand).
pub(crate) fn operands(args: &[Arg]) -> Vec<&Arg> {
    let mut out = Vec::new();
    let mut after_terminator = false;
    for arg in args {
        if after_terminator || (!arg.is_option() && arg.text != "--") {
            out.push(arg);
        }
        if arg.text == "--" {
            after_terminator = true;
        }
    }
    out
}

/// The value of an option given as `-o VALUE`, `-oVALUE`, `-xo VALUE`, `--opt VALUE` or `--opt=VALUE`.
///
/// For short options the returned argument is the one holding the value; use [`value_text`]
/// with the same option names to extract it.
pub(crate) fn option_value<'a>(
    args: &'a [Arg],
    short: Option<char>,
    long: Option<&str>,
) -> Option<&'a Arg> {
    let mut iter = options_part(args).iter();
    while let Some(arg) = iter.next() {
        if let Some(long) = long {
            if arg.text == long {
                return iter.next();
            }
            if arg
                .text
                .strip_prefix(long)
                .is_some_and(|r| r.starts_with('='))
            {
                return Some(arg);
            }
        }
        let Some(short) = short else { continue };
        let Some(cluster) = arg.text.strip_prefix('-').filter(|c| !c.starts_with('-')) else {
            continue;
        };
        if let Some((_, rest)) = cluster.split_once(short) {
            return if rest.is_empty() {
                iter.next()
            } else {
                Some(arg)
            };
        }
    }
    None
}

/// The value part of an option argument found by [`option_value`]: after `=` for `--opt=value`,
/// after the letter for `-xovalue`, else the whole argument.
pub(crate) fn value_text<'a>(arg: &'a Arg, short: Option<char>, long: Option<&str>) -> &'a str {
    if let Some(rest) = long
        .and_then(|l| arg.text.strip_prefix(l))
        .and_then(|r| r.strip_prefix('='))
    {
        return rest;
    }
    if let (Some(short), Some(cluster)) = (short, arg.text.strip_prefix('-'))
        && !cluster.starts_with('-')
        && let Some((_, rest)) = cluster.split_once(short)
        && !rest.is_empty()
    {
        return rest;
    }
    &arg.text
}

/// Joins argument texts with spaces, for findings.
pub(crate) fn render(name: &str, args: &[Arg]) -> String {
    let mut out = name.to_owned();
    for arg in args.iter().take(8) {
        out.push(' ');
        out.push_str(&arg.text);
    }
    if args.len() > 8 {
        out.push_str(" ...");
    }
    out
}

/// A path an agent should never bulk-modify: `/`, top-level system directories, home roots.
pub(crate) fn is_system_path(text: &str) -> bool {
    const SYSTEM: &[&str] = &[
        "/bin",
        "/boot",
        "/dev",
        "/etc",
        "/home",
        "/lib",
        "/lib32",
        "/lib64",
        "/opt",
        "/proc",
        "/root",
        "/sbin",
        "/srv",
        "/sys",
        "/usr",
        "/var",
        "/mnt",
        "/media",
        "/snap",
        "/System",
        "/Library",
        "/Users",
        "/Applications",
        "/private",
    ];
    let trimmed = text.trim_end_matches(['/', '*']);
    if trimmed.is_empty() && !text.is_empty() && text.starts_with('/') {
        return true;
    }
    if matches!(trimmed, "~" | "$HOME" | "${HOME}" | "." | ".." | "*" | "") && !text.is_empty() {
        return true;
    }
    let facts = crate::path::analyze(text, None);
    if facts.opaque || !facts.absolute {
        return false;
    }
    facts.normalized == "/"
        || SYSTEM.iter().any(|dir| facts.normalized == *dir)
        || SYSTEM.iter().any(|dir| {
            facts.normalized.starts_with(&format!("{dir}/"))
                && facts.normalized.matches('/').count() <= 2
        })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<Arg> {
        list.iter().map(|s| Arg::literal(s)).collect()
    }

    #[test]
    fn option_helpers() {
        let a = args(&["-rf", "--force", "-o", "out", "--level=3", "--", "-x"]);
        assert!(has_short(&a, 'r') && has_short(&a, 'f') && !has_short(&a, 'x'));
        assert!(has_long(&a, "--force") && has_long(&a, "--level"));
        assert_eq!(
            option_value(&a, Some('o'), None).map(|a| a.text.as_str()),
            Some("out")
        );
        let lvl = option_value(&a, None, Some("--level")).unwrap();
        assert_eq!(value_text(lvl, None, Some("--level")), "3");
        let ops: Vec<_> = operands(&a).iter().map(|a| a.text.clone()).collect();
        assert_eq!(ops, vec!["out", "-x"]);
    }

    #[test]
    fn system_paths() {
        for p in [
            "/", "/*", "/etc", "/etc/", "/usr/lib", "~", "~/", "$HOME", ".", "*", "//",
        ] {
            assert!(is_system_path(p), "{p}");
        }
        for p in [
            "./build",
            "target",
            "/work/project",
            "/tmp/x",
            "/home/agent/project/build",
            "node_modules",
        ] {
            assert!(!is_system_path(p), "{p}");
        }
    }
}
