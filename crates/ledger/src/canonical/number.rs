//! RFC 8785 numbers: the ECMAScript `Number.prototype.toString` form of an IEEE-754 double.
//! Integers a double holds exactly are written with `itoa`; everything else goes through the
//! shortest round-tripping digits with ECMAScript's tie-breaking. Owns number text only.

use super::CanonicalError;

/// Largest integer magnitude a double holds exactly (2^53).
const EXACT_INT: u64 = 1 << 53;

/// Writes an unsigned integer as the double it denotes.
pub(super) fn write_u64(u: u64, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    if u <= EXACT_INT {
        out.extend_from_slice(itoa::Buffer::new().format(u).as_bytes());
        return Ok(());
    }
    write_f64(u as f64, out)
}

/// Writes a signed integer as the double it denotes.
pub(super) fn write_i64(i: i64, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    if i.unsigned_abs() <= EXACT_INT {
        out.extend_from_slice(itoa::Buffer::new().format(i).as_bytes());
        return Ok(());
    }
    write_f64(i as f64, out)
}

/// Writes a finite double; a non-finite one is an error.
pub(super) fn write_f64(f: f64, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    let mut text = String::with_capacity(24);
    write_double(f, &mut text)?;
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

/// Writes a `serde_json::Number` as the double it denotes.
pub(super) fn write_number(
    n: &serde_json::Number,
    out: &mut Vec<u8>,
) -> Result<(), CanonicalError> {
    if let Some(u) = n.as_u64() {
        return write_u64(u, out);
    }
    if let Some(i) = n.as_i64() {
        return write_i64(i, out);
    }
    write_f64(n.as_f64().ok_or(CanonicalError::NonFiniteNumber)?, out)
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
