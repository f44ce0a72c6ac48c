//! Shell script analysis: which commands a script runs and what they can do.
//!
//! The script is parsed with `brush-parser` (bash grammar) and walked: pipelines, lists,
//! subshells, groups, loops, conditionals, functions, command and process substitutions are all
//! visited; wrappers (`sudo`, `env`, `xargs`, `find -exec`, `bash -c`, `eval`, ...) are unwrapped
//! and literal inner scripts re-parsed. Whatever cannot be seen statically (a command name that is
//! an expansion, `eval "$x"`, `curl ... | sh`) is reported as `opaque`.
//!
//! Pure: no process is started, no file read, no environment consulted. Hostile input is bounded
//! (size, nesting, re-parse depth) and parser panics are caught and reported as `opaque`.

mod clients;
mod effects;
mod producers;
mod schedule;
mod tools;
mod verdict;
mod walk;
mod words;
mod wrappers;

use crate::Finding;

/// Scripts longer than this are not parsed (reported opaque).
pub const MAX_SCRIPT_BYTES: usize = 64 * 1024;
/// Deepest bracket / compound-keyword nesting accepted before parsing.
pub const MAX_NESTING: usize = 48;
/// Deepest chain of re-parsed inner scripts (`bash -c "eval '...'"`).
pub const MAX_REPARSE_DEPTH: usize = 8;

/// Facts about a shell script.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ShellFacts {
    /// Every simple command the script can execute, in source order, wrappers unwrapped
    /// (`sudo rm -rf /` lists both `sudo` and `rm`).
    pub commands: Vec<ShellCommand>,
    /// Irreversible deletion, overwrite or loss of availability.
    pub destructive: bool,
    /// Any write to files, repositories, packages, services or remote systems.
    pub mutates: bool,
    /// Talks to another host.
    pub network: bool,
    /// Uses or gains elevated privileges.
    pub privileged: bool,
    /// Part of the script cannot be analyzed statically.
    pub opaque: bool,
    /// Path-like words the script reads or writes, in source order without repeats: arguments
    /// that look like paths, redirection sources and targets, glob patterns as written.
    pub paths: Vec<String>,
    /// Why each flag was raised.
    pub findings: Vec<Finding>,
}

impl ShellFacts {
    /// Names of the commands, in order (convenience for tests and explanations).
    pub fn command_names(&self) -> Vec<&str> {
        self.commands.iter().map(|c| c.name.as_str()).collect()
    }
}

/// One simple command.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ShellCommand {
    /// Basename of `argv[0]` after quote removal (`/bin/rm` and `\rm` are `rm`).
    pub name: String,
    /// Arguments after quote removal, `argv[0]` included; dynamic parts kept as written.
    pub argv: Vec<String>,
}

/// Analyzes a shell script.
pub fn analyze(script: &str) -> ShellFacts {
    let outcome = std::panic::catch_unwind(|| {
        let mut walker = walk::Walker::default();
        walker.script(script, "script", 0);
        walker.finish()
    });
    outcome.unwrap_or_else(|_| ShellFacts {
        opaque: true,
        findings: vec![Finding::new(
            "opaque",
            "shell analysis failed on this input",
        )],
        ..ShellFacts::default()
    })
}

/// Rejects input whose bracket or keyword nesting could exhaust the parser's stack.
pub(crate) fn nesting_depth(script: &str) -> usize {
    let mut depth: usize = 0;
    let mut max = 0;
    for token in script.split(|c: char| c.is_whitespace() || c == ';' || c == '&' || c == '|') {
        for c in token.chars() {
            match c {
                '(' | '{' | '[' => depth += 1,
                ')' | '}' | ']' => depth = depth.saturating_sub(1),
                _ => {}
            }
            max = max.max(depth);
        }
        match token {
            "if" | "while" | "until" | "for" | "case" | "select" => depth += 1,
            "fi" | "done" | "esac" => depth = depth.saturating_sub(1),
            _ => {}
        }
        max = max.max(depth);
    }
    max
}

#[cfg(test)]
mod tests;
