//! RFC 8785 JSON Canonicalization Scheme (JCS): the byte form that record hashes are computed over.
//!
//! Object members are sorted by their names' UTF-16 code units, strings use the minimal escapes
//! of ECMAScript `JSON.stringify`, and numbers use the ECMAScript `Number.prototype.toString`
//! form of their IEEE-754 double value. Owns encoding only; must not depend on records or I/O.
//!
//! Values are written straight from their `Serialize` impl by [`serializer`], which reorders an
//! object's members only when they do not arrive in canonical order. What that writer does not
//! handle itself (non-string map keys, serde_json's private raw-value and arbitrary-precision
//! forms) goes through `serde_json::Value` and the tree walker below, which is also the reference
//! the fast path is tested against.

mod number;
mod serializer;
#[cfg(test)]
mod tests;

use std::cmp::Ordering;

use serde::Serialize;
use serde_json::Value;

pub use number::write_double;

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
    CanonicalWriter::new().to_bytes(value)
}

/// Canonicalizes one value after another, reusing its buffers: after the first few values the
/// only allocation per value is the returned bytes. The ledger writer keeps one for sealing.
#[derive(Debug, Clone, Default)]
pub struct CanonicalWriter {
    canon: serializer::Canon,
}

impl CanonicalWriter {
    /// A writer with empty buffers.
    pub fn new() -> Self {
        Self::default()
    }

    /// Canonical bytes of `value`, exactly as [`to_canonical_bytes`] gives them.
    pub fn to_bytes<T: Serialize + ?Sized>(
        &mut self,
        value: &T,
    ) -> Result<Vec<u8>, CanonicalError> {
        match self.canon.write(value) {
            Ok(()) => Ok(self.canon.take_output()),
            Err(serializer::Failure::Canonical(e)) => Err(e),
            Err(serializer::Failure::Unsupported) => via_value(value),
        }
    }
}

/// Canonical bytes of a JSON value.
pub fn canonicalize(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    to_canonical_bytes(value)
}

/// The general path: build a `serde_json::Value`, then walk it.
fn via_value<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CanonicalError> {
    let value = serde_json::to_value(value).map_err(|e| CanonicalError::NotJson(e.to_string()))?;
    let mut out = Vec::with_capacity(256);
    write_value(&value, &mut out)?;
    Ok(out)
}

/// Writes a `Value` tree, sorting every object's members by UTF-16 code units.
fn write_value(value: &Value, out: &mut Vec<u8>) -> Result<(), CanonicalError> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        Value::Number(n) => number::write_number(n, out)?,
        Value::String(s) => {
            write_string(s, out);
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_value(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(map) => {
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| a.0.encode_utf16().cmp(b.0.encode_utf16()));
            out.push(b'{');
            for (i, (key, item)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_string(key, out);
                out.push(b':');
                write_value(item, out)?;
            }
            out.push(b'}');
        }
    }
    Ok(())
}

/// Orders two member names (UTF-8 bytes of whole strings) by their UTF-16 code units.
///
/// UTF-8 byte order is code point order, which differs from UTF-16 order only between a
/// character in U+E000..=U+FFFF (lead byte 0xEE or 0xEF; one code unit at or above 0xE000) and a
/// supplementary character (lead byte 0xF0..=0xF4; a surrogate pair starting in 0xD800..=0xDBFF).
/// The strings share every byte before the first difference, so that byte decides, and when it
/// is a continuation byte in one string it is one in the other too.
pub(crate) fn utf16_order(a: &[u8], b: &[u8]) -> Ordering {
    match a.iter().zip(b).find(|(x, y)| x != y) {
        None => a.len().cmp(&b.len()),
        Some((&x, &y)) => match (x, y) {
            (0xEE..=0xEF, 0xF0..) => Ordering::Greater,
            (0xF0.., 0xEE..=0xEF) => Ordering::Less,
            _ => x.cmp(&y),
        },
    }
}

/// Whether `b` must be escaped inside a JSON string.
fn needs_escape(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

/// Position of the first byte that must be escaped, scanning eight bytes at a time.
fn first_escape(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    /// Whether some byte of `w` is below `n` (n <= 0x80): the classic SWAR "has less" test.
    fn has_less(w: u64, n: u8) -> bool {
        w.wrapping_sub(ONES * u64::from(n)) & !w & HIGH != 0
    }
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in &mut chunks {
        let word = u64::from_ne_bytes(<[u8; 8]>::try_from(chunk).unwrap_or_default());
        let quote = word ^ (ONES * u64::from(b'"'));
        let backslash = word ^ (ONES * u64::from(b'\\'));
        if has_less(word, 0x20) || has_less(quote, 1) || has_less(backslash, 1) {
            return chunk
                .iter()
                .position(|&b| needs_escape(b))
                .map(|i| offset + i);
        }
        offset += 8;
    }
    let tail = chunks.remainder().iter().position(|&b| needs_escape(b));
    tail.map(|i| offset + i)
}

/// Writes `s` as a JSON string with the minimal escapes; returns whether anything was escaped.
pub(crate) fn write_string(s: &str, out: &mut Vec<u8>) -> bool {
    out.push(b'"');
    let mut rest = s.as_bytes();
    let mut escaped = false;
    while let Some(at) = first_escape(rest) {
        let Some((run, tail)) = rest.split_at_checked(at) else {
            break;
        };
        out.extend_from_slice(run);
        let Some((&b, tail)) = tail.split_first() else {
            break;
        };
        write_escape(b, out);
        rest = tail;
        escaped = true;
    }
    out.extend_from_slice(rest);
    out.push(b'"');
    escaped
}

/// Writes the escape of one byte below 0x20, `"` or `\`.
fn write_escape(b: u8, out: &mut Vec<u8>) {
    let short: &[u8] = match b {
        b'"' => b"\\\"",
        b'\\' => b"\\\\",
        0x08 => b"\\b",
        0x09 => b"\\t",
        0x0a => b"\\n",
        0x0c => b"\\f",
        0x0d => b"\\r",
        _ => {
            out.extend_from_slice(b"\\u00");
            out.push(hex_digit(b >> 4));
            out.push(hex_digit(b & 0x0f));
            return;
        }
    };
    out.extend_from_slice(short);
}

/// Lowercase hex digit of a nibble.
fn hex_digit(nibble: u8) -> u8 {
    if nibble < 10 {
        b'0' + nibble
    } else {
        b'a' + nibble - 10
    }
}
