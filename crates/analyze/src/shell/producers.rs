//! What a pipeline's producer writes, when that is knowable before it runs: `echo` and `printf`
//! of literal arguments. Anything else yields `None` and the consumer is judged opaque.

use super::verdict::Arg;
use super::walk::Invocation;

/// The text an `echo` / `printf` with literal arguments writes, if that is knowable.
pub(crate) fn literal_output(upstream: &Invocation) -> Option<String> {
    if !upstream.args.iter().all(|a| a.literal) {
        return None;
    }
    match upstream.name.as_str() {
        "echo" => {
            let words: Vec<&str> = upstream
                .args
                .iter()
                .map(|a| a.text.as_str())
                .skip_while(|t| matches!(*t, "-n" | "-e" | "-E" | "-ne" | "-en"))
                .collect();
            Some(unescape(&words.join(" ")))
        }
        "printf" => printf(&upstream.args),
        _ => None,
    }
}

/// `printf FORMAT ARGS...`: the format is reused until every argument is consumed; each
/// conversion takes the next argument as text (missing ones are empty). `printf -v` writes a
/// variable, not stdout.
fn printf(args: &[Arg]) -> Option<String> {
    let (format, rest) = match args.split_first()? {
        (first, rest) if first.text == "--" => rest.split_first()?,
        (first, _) if first.text == "-v" => return Some(String::new()),
        pair => pair,
    };
    let mut values = rest.iter().map(|a| a.text.as_str());
    let mut out = String::new();
    loop {
        let consumed = render_format(&format.text, &mut values, &mut out)?;
        if consumed == 0 || values.len() == 0 {
            break;
        }
    }
    Some(unescape(&out))
}

/// Appends one pass of `format` to `out`; returns how many conversions took an argument, or
/// `None` for a malformed conversion.
fn render_format<'a>(
    format: &str,
    values: &mut impl ExactSizeIterator<Item = &'a str>,
    out: &mut String,
) -> Option<usize> {
    let mut consumed = 0;
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let mut conversion = chars.next()?;
        if conversion == '%' {
            out.push('%');
            continue;
        }
        while conversion.is_ascii_digit() || matches!(conversion, '-' | '+' | ' ' | '#' | '.') {
            conversion = chars.next()?;
        }
        if !conversion.is_ascii_alphabetic() {
            return None;
        }
        out.push_str(values.next().unwrap_or_default());
        consumed += 1;
    }
    Some(consumed)
}

/// Resolves the backslash escapes `printf` and `echo -e` understand in the common cases.
fn unescape(text: &str) -> String {
    text.replace("\\n", "\n").replace("\\t", "\t")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn output(name: &str, args: &[&str]) -> Option<String> {
        literal_output(&Invocation {
            name: name.to_owned(),
            args: args.iter().map(|a| Arg::literal(a)).collect(),
        })
    }

    #[test]
    fn printf_substitutes_and_repeats_its_format() {
        assert_eq!(output("printf", &["%s", "rm -rf /"]).unwrap(), "rm -rf /");
        assert_eq!(
            output("printf", &["rm -rf %s\\n", "/a", "/b"]).unwrap(),
            "rm -rf /a\nrm -rf /b\n"
        );
        assert_eq!(output("printf", &["100%% %d", "5"]).unwrap(), "100% 5");
        assert_eq!(output("printf", &["ls -la"]).unwrap(), "ls -la");
        assert_eq!(output("printf", &["bad %"]), None);
        assert_eq!(output("echo", &["-e", "a\\nb"]).unwrap(), "a\nb");
        assert_eq!(output("cat", &["x"]), None);
    }
}
