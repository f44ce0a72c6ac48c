//! RFC 8785 JSON Canonicalization Scheme (JCS): the byte form that record hashes are computed over.
//!
//! Object members are sorted by their names' UTF-16 code units, strings use the minimal escapes
//! of ECMAScript `JSON.stringify`, and numbers use the ECMAScript `Number.prototype.toString`
//! form of their IEEE-754 double value. Owns encoding only; must not depend on records or I/O.

use serde::Serialize;
use serde_json::Value;

/// Why a value cannot be canonicalized.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    /// The value holds a number that is not finite (NaN or infinity); RFC 8785 forbids it.
    #[error("number is not finite")]
    NonFiniteNumber,
    /// The value could not be turned into JSON at all.
    #[error("value is not representable as JSON: {0}")]
    NotJson(String),
}

/// Canonical bytes of any serializable value.
pub fn to_canonical_bytes<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    let value = serde_json::to_value(value).map_err(|e| CanonicalError::NotJson(e.to_string()))?;
    canonicalize(&value)
}

/// Canonical bytes of a JSON value.
pub fn canonicalize(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    let mut out = String::with_capacity(256);
    write_value(value, &mut out)?;
    Ok(out.into_bytes())
}

fn write_value(value: &Value, out: &mut String) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(n, out)?,
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out)?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push('{');
            for (i, (key, item)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_value(item, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

/// Largest integer magnitude a double holds exactly (2^53).
const EXACT_INT: u64 = 1 << 53;

fn write_number(n: &serde_json::Number, out: &mut String) -> Result<(), CanonicalError> {
    if let Some(u) = n.as_u64().filter(|u| *u <= EXACT_INT) {
        out.push_str(&u.to_string());
        return Ok(());
    }
    if let Some(i) = n.as_i64().filter(|i| i.unsigned_abs() <= EXACT_INT) {
        out.push_str(&i.to_string());
        return Ok(());
    }
    let f = n.as_f64().ok_or(CanonicalError::NonFiniteNumber)?;
    write_double(f, out)
}

/// Writes `f` as ECMAScript's `Number.prototype.toString` would (RFC 8785 section 3.2.2.3).
pub fn write_double(f: f64, out: &mut String) -> Result<(), CanonicalError> {
    if !f.is_finite() {
        return Err(CanonicalError::NonFiniteNumber);
    }
    if f == 0.0 {
        out.push('0');
        return Ok(());
    }
    if f < 0.0 {
        out.push('-');
    }
    // Rust's `{:e}` prints the shortest digits that round-trip, e.g. "1.2345e-7".
    let sci = format!("{:e}", f.abs());
    let (mantissa, exp) = sci.split_once('e').ok_or(CanonicalError::NonFiniteNumber)?;
    let exp: i64 = exp.parse().map_err(|_| CanonicalError::NonFiniteNumber)?;
    let digits = ties_to_even(
        mantissa.chars().filter(|c| *c != '.').collect(),
        exp,
        f.abs(),
    );
    let k = i64::try_from(digits.len()).map_err(|_| CanonicalError::NonFiniteNumber)?;
    let n = exp + 1;
    if k <= n && n <= 21 {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n(
            '0',
            usize::try_from(n - k).unwrap_or(0),
        ));
    } else if 0 < n && n <= 21 {
        let split = usize::try_from(n).unwrap_or(0);
        let (int, frac) = digits.split_at(split.min(digits.len()));
        out.push_str(int);
        out.push('.');
        out.push_str(frac);
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', usize::try_from(-n).unwrap_or(0)));
        out.push_str(&digits);
    } else {
        let mut chars = digits.chars();
        if let Some(first) = chars.next() {
            out.push(first);
        }
        let rest: String = chars.collect();
        if !rest.is_empty() {
            out.push('.');
            out.push_str(&rest);
        }
        out.push('e');
        out.push(if n > 0 { '+' } else { '-' });
        out.push_str(&(n - 1).unsigned_abs().to_string());
    }
    Ok(())
}

/// Rust's shortest digits may break an exact tie upward; ECMAScript picks the even candidate.
/// A tie exists when the exact value has exactly one more significant digit than the shortest
/// form and that digit is 5; then the two candidates are the truncation and the truncation + 1.
fn ties_to_even(digits: String, exp: i64, abs: f64) -> String {
    // 780 places exceed the longest exact decimal expansion of a double (767 digits).
    let exact = format!("{abs:.780e}");
    let Some((mantissa, exact_exp)) = exact.split_once('e') else {
        return digits;
    };
    if exact_exp.parse::<i64>().ok() != Some(exp) {
        return digits;
    }
    let all: String = mantissa.chars().filter(|c| *c != '.').collect();
    let all = all.trim_end_matches('0');
    if all.len() != digits.len() + 1 || !all.ends_with('5') {
        return digits;
    }
    let trunc = all.get(..digits.len()).unwrap_or(&digits);
    match trunc.chars().last().and_then(|c| c.to_digit(10)) {
        Some(d) if d % 2 == 0 => trunc.to_owned(),
        Some(d) if d < 9 => {
            let mut up = trunc.get(..trunc.len() - 1).unwrap_or("").to_owned();
            up.push(char::from_digit(d + 1, 10).unwrap_or('0'));
            up
        }
        _ => digits,
    }
}

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    let mut start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x09 => "\\t",
            0x0a => "\\n",
            0x0c => "\\f",
            0x0d => "\\r",
            0x00..=0x1f => "",
            _ => continue,
        };
        // Bytes below 0x80 are whole characters, so `i` is on a char boundary.
        out.push_str(s.get(start..i).unwrap_or_default());
        if escape.is_empty() {
            out.push_str(&format!("\\u{b:04x}"));
        } else {
            out.push_str(escape);
        }
        start = i + 1;
    }
    out.push_str(s.get(start..).unwrap_or_default());
    out.push('"');
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn canon(json: &str) -> String {
        let v: Value = serde_json::from_str(json).unwrap();
        String::from_utf8(canonicalize(&v).unwrap()).unwrap()
    }

    fn double(bits: u64) -> String {
        let mut s = String::new();
        write_double(f64::from_bits(bits), &mut s).unwrap();
        s
    }

    /// RFC 8785 section 3.2.2 (the main example).
    #[test]
    fn rfc8785_main_example() {
        let input = r#"{
          "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
          "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
          "literals": [null, true, false]
        }"#;
        assert_eq!(
            canon(input),
            r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
        );
    }

    /// RFC 8785 section 3.2.3 (sorting by UTF-16 code units).
    #[test]
    fn rfc8785_sorting_example() {
        let input = r#"{
          "\u20ac": "Euro Sign",
          "\r": "Carriage Return",
          "\ufb33": "Hebrew Letter Dalet With Dagesh",
          "1": "One",
          "\ud83d\ude00": "Emoji: Grinning Face",
          "\u0080": "Control",
          "\u00f6": "Latin Small Letter O With Diaeresis"
        }"#;
        let want = "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\
                    \"ö\":\"Latin Small Letter O With Diaeresis\",\"€\":\"Euro Sign\",\
                    \"😀\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}";
        assert_eq!(canon(input), want);
    }

    /// RFC 8785 appendix B: IEEE-754 doubles and their canonical text.
    #[test]
    fn rfc8785_number_vectors() {
        let vectors: [(u64, &str); 22] = [
            (0x0000000000000000, "0"),
            (0x8000000000000000, "0"),
            (0x0000000000000001, "5e-324"),
            (0x8000000000000001, "-5e-324"),
            (0x7fefffffffffffff, "1.7976931348623157e+308"),
            (0xffefffffffffffff, "-1.7976931348623157e+308"),
            (0x4340000000000000, "9007199254740992"),
            (0xc340000000000000, "-9007199254740992"),
            (0x4430000000000000, "295147905179352830000"),
            (0x44b52d02c7e14af5, "9.999999999999997e+22"),
            (0x44b52d02c7e14af6, "1e+23"),
            (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
            (0x444b1ae4d6e2ef4e, "999999999999999700000"),
            (0x444b1ae4d6e2ef4f, "999999999999999900000"),
            (0x444b1ae4d6e2ef50, "1e+21"),
            (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
            (0x3eb0c6f7a0b5ed8d, "0.000001"),
            (0x41b3de4355555553, "333333333.3333332"),
            (0x41b3de4355555554, "333333333.33333325"),
            (0x41b3de4355555555, "333333333.3333333"),
            (0x41b3de4355555556, "333333333.3333334"),
            (0x41b3de4355555557, "333333333.33333343"),
        ];
        for (bits, want) in vectors {
            assert_eq!(double(bits), want, "bits {bits:#018x}");
        }
        assert_eq!(double(0xbecbf647612f3696), "-0.0000033333333333333333");
        assert_eq!(double(0x43143ff3c1cb0959), "1424953923781206.2");
    }

    proptest::proptest! {
        #[test]
        fn every_finite_double_round_trips(bits in proptest::prelude::any::<u64>()) {
            let f = f64::from_bits(bits);
            if f.is_finite() {
                let mut s = String::new();
                write_double(f, &mut s).unwrap();
                let back: f64 = s.parse().unwrap();
                proptest::prop_assert!(back == f || (back == 0.0 && f == 0.0), "{f:e} -> {s}");
            }
        }
    }

    #[test]
    fn non_finite_numbers_are_rejected() {
        let mut s = String::new();
        assert_eq!(
            write_double(f64::NAN, &mut s),
            Err(CanonicalError::NonFiniteNumber)
        );
        assert_eq!(
            write_double(f64::INFINITY, &mut s),
            Err(CanonicalError::NonFiniteNumber)
        );
    }

    #[test]
    fn large_integers_follow_double_rounding() {
        assert_eq!(canon("18446744073709551615"), "18446744073709552000");
        assert_eq!(canon("-9007199254740993"), "-9007199254740992");
    }
}
