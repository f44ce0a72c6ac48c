//! How tool arguments are understood: argument types, tool mappings, and the built-in profiles
//! for the tools of common agents.
//!
//! A bundle's `tools:` mappings extend these profiles and override them per tool name.

use std::collections::HashMap;
use std::sync::Arc;

use warden_analyze::sql::SqlDialect;

/// The analyzer an argument is read with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgType {
    /// A bash script (a string, or an argv array).
    Shell,
    /// SQL in the given dialect.
    Sql(SqlDialect),
    /// A filesystem path (a string or an array of strings).
    Path,
    /// A URL.
    Url,
    /// A patch (`apply_patch` envelope or unified diff) whose file paths are read as paths.
    Patch,
}

impl ArgType {
    /// Parses the name used in policy files.
    pub fn parse(name: &str) -> Result<ArgType, String> {
        Ok(match name {
            "shell" => ArgType::Shell,
            "sql" => ArgType::Sql(SqlDialect::default()),
            "path" => ArgType::Path,
            "url" => ArgType::Url,
            "patch" => ArgType::Patch,
            other => match other.strip_prefix("sql:") {
                Some(dialect) => ArgType::Sql(dialect.parse().map_err(|_| {
                    format!("unknown SQL dialect `{dialect}` (generic, postgres, mysql)")
                })?),
                None => {
                    return Err(format!(
                        "unknown argument type `{other}` (shell, sql, sql:postgres, sql:mysql, path, url, patch)"
                    ));
                }
            },
        })
    }
}

/// The typed arguments of one tool.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mapping {
    /// Argument path (dots for nested objects) and its type.
    pub args: Vec<(String, ArgType)>,
}

/// Tool name → mapping, with `*` patterns tried in order after exact names.
#[derive(Debug, Clone, Default)]
pub struct ToolMappings {
    exact: HashMap<String, Arc<Mapping>>,
    patterns: Vec<(String, Arc<Mapping>)>,
}

impl ToolMappings {
    /// The built-in profiles alone.
    pub fn builtin() -> ToolMappings {
        let mut m = ToolMappings::default();
        for (names, args) in BUILTIN {
            let mapping = Mapping {
                args: args
                    .iter()
                    .filter_map(|(arg, ty)| ArgType::parse(ty).ok().map(|t| ((*arg).to_owned(), t)))
                    .collect(),
            };
            m.insert(names, mapping);
        }
        m
    }

    /// Adds (or replaces, per name) a mapping for `names`.
    pub fn insert<S: AsRef<str>>(&mut self, names: &[S], mapping: Mapping) {
        let mapping = Arc::new(mapping);
        for name in names {
            let name = name.as_ref();
            if name.contains('*') {
                self.patterns.retain(|(p, _)| p != name);
                // Later mappings take precedence over earlier (built-in) ones.
                self.patterns
                    .insert(0, (name.to_owned(), Arc::clone(&mapping)));
            } else {
                self.exact.insert(name.to_owned(), Arc::clone(&mapping));
            }
        }
    }

    /// The mapping for `tool`, if any.
    pub fn lookup(&self, tool: &str) -> Option<&Mapping> {
        if let Some(m) = self.exact.get(tool) {
            return Some(m);
        }
        self.patterns
            .iter()
            .find(|(p, _)| glob_match(p, tool))
            .map(|(_, m)| m.as_ref())
    }
}

/// A tool-name pattern split at its `*`s once, so that matching many names does not split it
/// again each time. Matches exactly what [`glob_match`] matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Glob {
    /// The text before the first `*`, or the whole pattern when it has none.
    first: String,
    /// Whether the pattern has a `*` at all.
    wild: bool,
    /// The non-empty pieces between the first and the last `*`.
    middle: Vec<String>,
    /// The text after the last `*`.
    last: String,
}

impl Glob {
    /// Splits `pattern`.
    pub(crate) fn new(pattern: &str) -> Glob {
        let Some((first, rest)) = pattern.split_once('*') else {
            return Glob {
                first: pattern.to_owned(),
                wild: false,
                middle: Vec::new(),
                last: String::new(),
            };
        };
        let (middle, last) = rest.rsplit_once('*').unwrap_or(("", rest));
        Glob {
            first: first.to_owned(),
            wild: true,
            middle: middle
                .split('*')
                .filter(|p| !p.is_empty())
                .map(str::to_owned)
                .collect(),
            last: last.to_owned(),
        }
    }

    /// Whether `text` matches the pattern.
    pub(crate) fn matches(&self, text: &str) -> bool {
        if !self.wild {
            return self.first == text;
        }
        let Some(mut remaining) = text.strip_prefix(self.first.as_str()) else {
            return false;
        };
        for piece in &self.middle {
            match remaining.find(piece.as_str()) {
                Some(i) => remaining = remaining.get(i + piece.len()..).unwrap_or(""),
                None => return false,
            }
        }
        remaining.len() >= self.last.len() && remaining.ends_with(self.last.as_str())
    }
}

/// `*` matches any run of characters; everything else matches itself.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let Some((first, rest)) = pattern.split_once('*') else {
        return pattern == text;
    };
    let Some(mut remaining) = text.strip_prefix(first) else {
        return false;
    };
    // `rest` is what follows the first `*`: middle pieces, then the last piece (a suffix).
    let (middle, last) = match rest.rsplit_once('*') {
        Some((middle, last)) => (middle, last),
        None => ("", rest),
    };
    for piece in middle.split('*').filter(|p| !p.is_empty()) {
        match remaining.find(piece) {
            Some(i) => remaining = remaining.get(i + piece.len()..).unwrap_or(""),
            None => return false,
        }
    }
    remaining.len() >= last.len() && remaining.ends_with(last)
}

type Profile = (
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
);

/// Built-in profiles: Claude Code, Codex, the MCP filesystem and PostgreSQL servers, and the
/// generic names agents commonly give their tools.
const BUILTIN: &[Profile] = &[
    // Generic shells and SQL.
    (
        &[
            "bash",
            "shell",
            "run_command",
            "execute_command",
            "run_shell_command",
            "terminal",
        ],
        &[("command", "shell")],
    ),
    (
        &["sql_query", "run_sql", "execute_sql"],
        &[("sql", "sql"), ("query", "sql")],
    ),
    (
        &["fetch", "http_request", "web_fetch", "http_get"],
        &[("url", "url")],
    ),
    // Claude Code.
    (&["Bash"], &[("command", "shell")]),
    (
        &["Read", "Write", "Edit", "MultiEdit"],
        &[("file_path", "path")],
    ),
    (&["NotebookEdit"], &[("notebook_path", "path")]),
    (&["Glob", "Grep", "LS"], &[("path", "path")]),
    (&["WebFetch"], &[("url", "url")]),
    // Codex.
    (&["exec_command"], &[("cmd", "shell"), ("workdir", "path")]),
    (
        &["local_shell"],
        &[
            ("action.command", "shell"),
            ("action.working_directory", "path"),
        ],
    ),
    (&["apply_patch"], &[("input", "patch"), ("patch", "patch")]),
    // MCP filesystem server.
    (
        &[
            "read_file",
            "read_text_file",
            "read_media_file",
            "write_file",
            "edit_file",
            "create_directory",
            "list_directory",
            "list_directory_with_sizes",
            "directory_tree",
            "search_files",
            "get_file_info",
            "delete_file",
        ],
        &[("path", "path")],
    ),
    (&["read_multiple_files"], &[("paths", "path")]),
    (
        &["move_file", "copy_file"],
        &[("source", "path"), ("destination", "path")],
    ),
    // MCP PostgreSQL server.
    (&["query"], &[("sql", "sql:postgres")]),
];

/// Extracts file paths from an `apply_patch` envelope or a unified diff.
pub fn patch_paths(patch: &str) -> Vec<String> {
    const MARKERS: [&str; 4] = [
        "*** Add File: ",
        "*** Update File: ",
        "*** Delete File: ",
        "*** Move to: ",
    ];
    let mut out = Vec::new();
    for line in patch.lines() {
        let line = line.trim_end();
        if let Some(path) = MARKERS.iter().find_map(|m| line.strip_prefix(m)) {
            out.push(path.trim().to_owned());
        } else if let Some(rest) = line
            .strip_prefix("+++ ")
            .or_else(|| line.strip_prefix("--- "))
        {
            let path = rest.split('\t').next().unwrap_or("").trim();
            if path == "/dev/null" || path.is_empty() {
                continue;
            }
            let path = path
                .strip_prefix("a/")
                .or_else(|| path.strip_prefix("b/"))
                .unwrap_or(path);
            out.push(path.to_owned());
        }
    }
    out.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("mcp__*", "mcp__fs__read"));
        assert!(glob_match("*_file", "read_file"));
        assert!(glob_match("a*b*c", "aXXbYYc"));
        assert!(!glob_match("a*b*c", "aXXcYYb"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("read", "read_file"));
        assert!(!glob_match("ab*ba", "aba"));
        assert!(glob_match("a**b", "ab"));
        assert!(glob_match("*_file", "_file"));
        assert!(!glob_match("a*b", "a"));
        assert!(glob_match("a*", "a"));
    }

    #[test]
    fn split_globs_match_as_glob_match_does() {
        let patterns = [
            "mcp__*", "*_file", "a*b*c", "*", "read", "ab*ba", "a**b", "a*b", "a*", "*a*", "",
            "svc1_*", "*x*y*",
        ];
        let texts = [
            "mcp__fs__read",
            "read_file",
            "aXXbYYc",
            "aXXcYYb",
            "",
            "read",
            "aba",
            "ab",
            "_file",
            "a",
            "svc1_",
            "svc12_x",
            "xy",
            "yx",
            "bash",
        ];
        for p in patterns {
            let glob = Glob::new(p);
            for t in texts {
                assert_eq!(glob.matches(t), glob_match(p, t), "{p} on {t}");
            }
        }
    }

    #[test]
    fn bundle_mappings_override_builtins() {
        let mut m = ToolMappings::builtin();
        assert_eq!(m.lookup("Bash").map(|x| x.args.len()), Some(1));
        m.insert(
            &["Bash"],
            Mapping {
                args: vec![("script".into(), ArgType::Shell)],
            },
        );
        assert_eq!(
            m.lookup("Bash").map(|x| x.args[0].0.as_str()),
            Some("script")
        );
        m.insert(
            &["my_*"],
            Mapping {
                args: vec![("u".into(), ArgType::Url)],
            },
        );
        assert!(m.lookup("my_fetch").is_some());
        assert!(m.lookup("unknown_tool").is_none());
    }

    #[test]
    fn arg_types_parse() {
        assert_eq!(
            ArgType::parse("sql:postgres"),
            Ok(ArgType::Sql(SqlDialect::Postgres))
        );
        assert!(ArgType::parse("sql:oracle").is_err());
        assert!(ArgType::parse("bash").is_err());
    }

    #[test]
    fn patch_paths_from_both_formats() {
        let p = "*** Begin Patch\n*** Update File: src/a.rs\n@@\n-x\n+y\n*** Add File: /etc/cron.d/x\n*** End Patch\n";
        assert_eq!(patch_paths(p), ["src/a.rs", "/etc/cron.d/x"]);
        let d = "--- a/src/lib.rs\n+++ b/src/lib.rs\n@@ -1 +1 @@\n--- /dev/null\n+++ b/new.txt\n";
        assert_eq!(patch_paths(d), ["src/lib.rs", "new.txt"]);
    }
}
