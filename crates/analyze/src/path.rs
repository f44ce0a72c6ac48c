//! Lexical analysis of file-system paths named in tool arguments.
//!
//! Normalization is purely textual: `.` and empty components vanish, `..` removes the previous
//! component (never climbing above `/`), and `~` / `~/x` expands to the caller-supplied home
//! directory. Symlinks are not resolved and nothing here touches the file system; callers that
//! need resolution must do it at the enforcement point.

/// Facts about one path argument.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct PathFacts {
    /// The path exactly as given.
    pub raw: String,
    /// Lexically normalized form (see the module documentation); empty when `opaque`.
    pub normalized: String,
    /// The normalized path starts at `/`.
    pub absolute: bool,
    /// The raw path starts with `~` (the agent's or another user's home directory).
    pub home_relative: bool,
    /// A relative path that climbs above its starting directory (`../x`, `a/../../b`).
    pub escapes: bool,
    /// NUL or control characters, or empty: not something a policy can reason about as a path.
    pub opaque: bool,
}

/// Analyzes `raw`, expanding a leading `~` to `home` when one is given.
pub fn analyze(raw: &str, home: Option<&str>) -> PathFacts {
    let mut facts = PathFacts {
        raw: raw.to_owned(),
        ..PathFacts::default()
    };
    if raw.is_empty() || raw.chars().any(|c| c.is_control() && c != '\t') {
        facts.opaque = true;
        return facts;
    }
    facts.home_relative = raw.starts_with('~');
    let expanded = expand_home(raw, home);
    facts.absolute = expanded.starts_with('/');
    let (normalized, escapes) = normalize(&expanded, facts.absolute);
    // A literal directory named `~` that became the first component must not turn into a home
    // reference when the normalized form is analyzed again.
    facts.normalized = if !facts.home_relative && normalized.starts_with('~') {
        format!("./{normalized}")
    } else {
        normalized
    };
    facts.escapes = escapes;
    facts
}

/// Whether normalized `path` is `dir` or inside it; both are normalized with the same `home`.
///
/// `/work-evil` is not within `/work`; a relative path is never within an absolute directory (and
/// vice versa); opaque input is never within anything.
pub fn within(path: &str, dir: &str, home: Option<&str>) -> bool {
    let path = analyze(path, home);
    let dir = analyze(dir, home);
    if path.opaque || dir.opaque || path.absolute != dir.absolute {
        return false;
    }
    is_within_normalized(&path.normalized, &dir.normalized)
}

/// Containment on already-normalized paths of the same kind (both absolute or both relative).
pub(crate) fn is_within_normalized(path: &str, dir: &str) -> bool {
    if dir == "/" {
        return path.starts_with('/');
    }
    if dir == "." {
        return path != ".." && !path.starts_with("../");
    }
    match path.strip_prefix(dir) {
        Some("") => true,
        Some(rest) => rest.starts_with('/'),
        None => false,
    }
}

/// Replaces a leading `~` or `~/` with `home`; `~user` and a missing home are left untouched.
fn expand_home(raw: &str, home: Option<&str>) -> String {
    match (raw.strip_prefix('~'), home) {
        (Some(rest), Some(home)) if rest.is_empty() || rest.starts_with('/') => {
            format!("{home}{rest}")
        }
        _ => raw.to_owned(),
    }
}

/// Normalizes component by component; returns the path and whether a relative path escaped.
fn normalize(path: &str, absolute: bool) -> (String, bool) {
    let mut parts: Vec<&str> = Vec::new();
    let mut escapes = false;
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." && !is_home_anchor(last, parts.len()) => {
                    parts.pop();
                }
                _ if absolute => {}
                _ => {
                    escapes = true;
                    parts.push("..");
                }
            },
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    let normalized = match (absolute, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_owned(),
        (false, false) => joined,
    };
    (normalized, escapes)
}

/// An unexpanded leading `~`/`~user` behaves like a root: `..` cannot cancel it lexically.
fn is_home_anchor(component: &str, depth: usize) -> bool {
    depth == 1 && component.starts_with('~')
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn normalization_table() {
        let home = Some("/home/agent");
        let cases: &[(&str, Option<&str>, &str, bool, bool)] = &[
            // raw, home, normalized, absolute, escapes
            ("/etc/passwd", None, "/etc/passwd", true, false),
            ("/work//a/./b/", None, "/work/a/b", true, false),
            (
                "/work/a/../../../etc/shadow",
                None,
                "/etc/shadow",
                true,
                false,
            ),
            ("/..", None, "/", true, false),
            ("/", None, "/", true, false),
            ("a/b/../c", None, "a/c", false, false),
            ("./a/./", None, "a", false, false),
            (".", None, ".", false, false),
            ("a/..", None, ".", false, false),
            ("../x", None, "../x", false, true),
            ("a/../../b", None, "../b", false, true),
            ("../../x/..", None, "../..", false, true),
            ("~", home, "/home/agent", true, false),
            (
                "~/.ssh/id_rsa",
                home,
                "/home/agent/.ssh/id_rsa",
                true,
                false,
            ),
            ("~/../other", home, "/home/other", true, false),
            ("~/.ssh", None, "~/.ssh", false, false),
            ("~/../x", None, "~/../x", false, true),
            ("~root/.ssh", home, "~root/.ssh", false, false),
            ("docs/~notes", home, "docs/~notes", false, false),
            ("./~", home, "./~", false, false),
            ("a/../~/x", home, "./~/x", false, false),
        ];
        for &(raw, home, normalized, absolute, escapes) in cases {
            let facts = analyze(raw, home);
            assert_eq!(facts.normalized, normalized, "{raw}");
            assert_eq!(facts.absolute, absolute, "{raw} absolute");
            assert_eq!(facts.escapes, escapes, "{raw} escapes");
            assert!(!facts.opaque, "{raw} opaque");
        }
    }

    #[test]
    fn home_relative_is_reported() {
        assert!(analyze("~/x", Some("/h")).home_relative);
        assert!(analyze("~root", None).home_relative);
        assert!(!analyze("/h/x", Some("/h")).home_relative);
    }

    #[test]
    fn nul_control_and_empty_are_opaque() {
        for raw in ["", "/etc/passwd\0.txt", "a\nb", "\u{7f}"] {
            let facts = analyze(raw, None);
            assert!(facts.opaque, "{raw:?}");
            assert!(!within(raw, "/", None), "{raw:?}");
        }
    }

    #[test]
    fn within_table() {
        let home = Some("/home/agent");
        let cases: &[(&str, &str, bool)] = &[
            ("/work/a.txt", "/work", true),
            ("/work", "/work", true),
            ("/work/", "/work/", true),
            ("/work-evil/a", "/work", false),
            ("/workspace", "/work", false),
            ("/work/../etc/passwd", "/work", false),
            ("/work/a/../b", "/work", true),
            ("//work//x", "/work", true),
            ("/etc", "/", true),
            ("a/b", "/work", false),
            ("/work/a", "work", false),
            ("a/b", ".", true),
            ("../a", ".", false),
            ("a/../../b", "a", false),
            ("src/lib.rs", "src", true),
            ("~/.ssh/id_rsa", "/home/agent", true),
            ("~/.ssh/id_rsa", "~/.ssh", true),
            ("/home/agent/../root", "~", false),
        ];
        for &(path, dir, expected) in cases {
            assert_eq!(within(path, dir, home), expected, "{path} within {dir}");
        }
    }

    #[test]
    fn unexpanded_home_is_not_within_absolute_dir() {
        assert!(!within("~/.ssh", "/home/agent", None));
        assert!(within("~/.ssh/x", "~/.ssh", None));
    }
}
