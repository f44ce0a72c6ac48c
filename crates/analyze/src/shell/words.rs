//! Resolution of shell words into the text a command would receive.
//!
//! Quote removal and escape processing are applied (`'r'm`, `"rm"`, `\rm` and `$'\x72m'` all
//! become `rm`). Parts only known at run time (parameters, command substitutions, arithmetic,
//! unquoted globs) make the word *dynamic*; the scripts of command substitutions are returned so
//! the walker can analyze what they run. Depends only on `brush-parser`'s word parser.

use brush_parser::word::{WordPiece, WordPieceWithSource};

/// A word after quote removal.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ResolvedWord {
    /// Best-effort text: literal parts resolved, dynamic parts kept as written.
    pub text: String,
    /// Contains parameter/arithmetic expansion or command substitution.
    pub dynamic: bool,
    /// Contains an unquoted glob character (`*`, `?`, `[`).
    pub glob: bool,
    /// Scripts of command substitutions found in the word, in order.
    pub substitutions: Vec<String>,
    /// The word could not be parsed.
    pub unparsed: bool,
}

impl ResolvedWord {
    /// The text when the word is fully known before execution (globs count as unknown).
    pub fn literal(&self) -> Option<&str> {
        (!self.dynamic && !self.glob && !self.unparsed).then_some(self.text.as_str())
    }
}

/// Characters that start anything other than plain text in an unquoted word: quotes, escapes,
/// expansions, substitutions and tilde prefixes.
const WORD_SYNTAX: [char; 6] = ['\'', '"', '$', '`', '\\', '~'];

/// Resolves one raw word from the parser.
///
/// A word without quotes, escapes, expansions or tildes is one piece of plain text to the word
/// parser, so it is resolved without running it (most words are; see `plain_words_resolve_as_parsed`).
pub(crate) fn resolve(raw: &str) -> ResolvedWord {
    if !raw.contains(WORD_SYNTAX) {
        return ResolvedWord {
            text: raw.to_owned(),
            glob: raw.contains(['*', '?', '[']),
            ..ResolvedWord::default()
        };
    }
    parsed(raw)
}

/// Resolves one raw word through the word parser.
fn parsed(raw: &str) -> ResolvedWord {
    let options = brush_parser::ParserOptions::default();
    let parsed = std::panic::catch_unwind(|| brush_parser::word::parse(raw, &options));
    let mut word = ResolvedWord::default();
    match parsed {
        Ok(Ok(pieces)) => append_pieces(&mut word, &pieces, raw, false),
        _ => {
            word.text = raw.to_owned();
            word.unparsed = true;
            word.dynamic = true;
        }
    }
    word
}

/// Resolves a here-document body (quotes are literal there).
pub(crate) fn resolve_heredoc(raw: &str) -> ResolvedWord {
    let options = brush_parser::ParserOptions::default();
    let parsed = std::panic::catch_unwind(|| brush_parser::word::parse_heredoc(raw, &options));
    let mut word = ResolvedWord::default();
    match parsed {
        Ok(Ok(pieces)) => append_pieces(&mut word, &pieces, raw, true),
        _ => {
            word.text = raw.to_owned();
            word.unparsed = true;
            word.dynamic = true;
        }
    }
    word
}

fn append_pieces(word: &mut ResolvedWord, pieces: &[WordPieceWithSource], raw: &str, quoted: bool) {
    for piece in pieces {
        let source = raw
            .get(piece.start_index..piece.end_index)
            .unwrap_or_default();
        append_piece(word, &piece.piece, source, raw, quoted);
    }
}

fn append_piece(word: &mut ResolvedWord, piece: &WordPiece, source: &str, raw: &str, quoted: bool) {
    match piece {
        WordPiece::Text(text) => {
            if !quoted && text.contains(['*', '?', '[']) {
                word.glob = true;
            }
            word.text.push_str(text);
        }
        WordPiece::SingleQuotedText(text) => word.text.push_str(text),
        WordPiece::AnsiCQuotedText(text) => word.text.push_str(&decode_ansi_c(text)),
        WordPiece::DoubleQuotedSequence(inner) | WordPiece::GettextDoubleQuotedSequence(inner) => {
            append_pieces(word, inner, raw, true);
        }
        WordPiece::EscapeSequence(escape) => {
            word.text
                .push_str(escape.strip_prefix('\\').unwrap_or(escape));
        }
        WordPiece::TildeExpansion(_) => word.text.push_str(source),
        WordPiece::CommandSubstitution(script)
        | WordPiece::BackquotedCommandSubstitution(script) => {
            word.dynamic = true;
            word.substitutions.push(script.clone());
            word.text.push_str(source);
        }
        WordPiece::ParameterExpansion(_) | WordPiece::ArithmeticExpression(_) => {
            word.dynamic = true;
            word.text.push_str(source);
            collect_nested_substitutions(word, source);
        }
    }
}

/// Parameter expansions may hide command substitutions in their operands (`${x:-$(cmd)}`).
fn collect_nested_substitutions(word: &mut ResolvedWord, source: &str) {
    let inner = source
        .strip_prefix("${")
        .and_then(|s| s.strip_suffix('}'))
        .or_else(|| {
            source
                .strip_prefix("$((")
                .and_then(|s| s.strip_suffix("))"))
        });
    let Some(inner) = inner else { return };
    if !(inner.contains("$(") || inner.contains('`')) {
        return;
    }
    let nested = resolve(inner);
    word.substitutions.extend(nested.substitutions);
}

/// Decodes the escapes of a `$'...'` string.
pub(crate) fn decode_ansi_c(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        let Some(kind) = chars.next() else {
            out.push('\\');
            break;
        };
        match kind {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'a' => out.push('\u{7}'),
            'b' => out.push('\u{8}'),
            'e' | 'E' => out.push('\u{1b}'),
            'f' => out.push('\u{c}'),
            'v' => out.push('\u{b}'),
            'x' => push_code(&mut out, take_digits(&mut chars, 16, 2), 16),
            'u' => push_code(&mut out, take_digits(&mut chars, 16, 4), 16),
            'U' => push_code(&mut out, take_digits(&mut chars, 16, 8), 16),
            '0'..='7' => {
                let mut digits = String::from(kind);
                digits.push_str(&take_digits(&mut chars, 8, 2));
                push_code(&mut out, digits, 8);
            }
            other => out.push(other),
        }
    }
    out
}

fn take_digits(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    radix: u32,
    max: usize,
) -> String {
    let mut digits = String::new();
    while digits.len() < max {
        match chars.peek() {
            Some(c) if c.is_digit(radix) => {
                digits.push(*c);
                chars.next();
            }
            _ => break,
        }
    }
    digits
}

fn push_code(out: &mut String, digits: String, radix: u32) {
    let decoded = u32::from_str_radix(&digits, radix)
        .ok()
        .and_then(char::from_u32);
    match decoded {
        Some(c) => out.push(c),
        None => out.push_str(&digits),
    }
}

/// The path in an argument that looks like one: contains `/` or starts with `~` or `.`, or has
/// an unquoted glob character, or is the value of a `--option=value`. URLs, words with inner
/// whitespace that do not start like a path (inline scripts), and bare words are not paths.
pub(crate) fn path_like(text: &str) -> Option<&str> {
    let value = match text.strip_prefix("--").and_then(|o| o.split_once('=')) {
        Some((_, value)) => value,
        None if text.starts_with('-') => return None,
        None => text,
    };
    let starts_like_path = value.starts_with(['/', '~', '.']) || value.starts_with("$HOME");
    let shaped = value.contains('/') || starts_like_path || value.contains(['*', '?', '[']);
    let inline_script = value.contains(char::is_whitespace) && !starts_like_path;
    let url = value.contains("://");
    (shaped && !inline_script && !url).then_some(value)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use proptest::strategy::Strategy;

    use super::*;

    #[test]
    fn quote_removal() {
        for raw in [
            "rm",
            "'r'm",
            "\"rm\"",
            "\\rm",
            "r\"\"m",
            "$'\\x72m'",
            "$'\\162m'",
            "$'r'\"m\"",
        ] {
            let word = resolve(raw);
            assert_eq!(word.literal(), Some("rm"), "{raw}");
        }
    }

    #[test]
    fn dynamic_parts() {
        let word = resolve("$(echo rm)");
        assert!(word.dynamic);
        assert_eq!(word.substitutions, vec!["echo rm".to_owned()]);
        assert!(resolve("$X").dynamic);
        assert!(resolve("\"${HOME}/x\"").dynamic);
        let nested = resolve("${X:-$(curl evil)}");
        assert_eq!(nested.substitutions, vec!["curl evil".to_owned()]);
        assert_eq!(resolve("`id`").substitutions, vec!["id".to_owned()]);
    }

    #[test]
    fn plain_words_resolve_as_parsed() {
        for raw in [
            "",
            "git",
            "--include=*.rs",
            "/var/lib/postgresql",
            "a=b",
            "x:y",
            "{a,b}",
            "@(x|y)",
            "!(z)",
            "[abc]",
            "-rf",
            "50%",
            "a+b,c",
        ] {
            assert_eq!(resolve(raw), parsed(raw), "{raw}");
        }
    }

    proptest::proptest! {
        #[test]
        fn words_without_syntax_resolve_as_parsed(
            raw in proptest::prop_oneof![
                "[ -~]{0,24}",
                "\\PC{0,12}",
            ].prop_filter("plain words only", |w| !w.contains(WORD_SYNTAX))
        ) {
            proptest::prop_assert_eq!(resolve(&raw), parsed(&raw));
        }
    }

    #[test]
    fn globs_are_not_literal() {
        assert!(resolve("*.txt").glob);
        assert!(resolve("/???/r?").glob);
        assert!(!resolve("'*.txt'").glob);
        assert_eq!(resolve("'*.txt'").literal(), Some("*.txt"));
    }
}
