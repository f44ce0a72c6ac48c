//! A serde `Serializer` that writes canonical JSON straight from typed values, without building a
//! `serde_json::Value` first.
//!
//! Members are written in the order serde produces them, and the writer notes where each one
//! starts and ends. When an object's member names did not arrive in canonical (UTF-16) order —
//! struct fields in declaration order usually do not — the object's members are copied out and
//! written back sorted; nested objects are settled before their parent, so each is reordered at
//! most once. Shapes it does not handle itself end with [`Failure::Unsupported`], and the caller
//! takes the general path through `serde_json::Value`. Must not depend on records or I/O.

use std::cmp::Ordering;
use std::fmt;

use serde::Serialize;
use serde::ser;

use super::{CanonicalError, number, utf16_order, write_string};
use key::KeyWriter;

mod key;

/// Why the writer stopped.
#[derive(Debug)]
pub(super) enum Failure {
    /// The value cannot be canonicalized.
    Canonical(CanonicalError),
    /// A shape left to the general path: non-string map keys, duplicate member names, or
    /// serde_json's private raw-value and arbitrary-precision forms.
    Unsupported,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Canonical(e) => e.fmt(f),
            Failure::Unsupported => f.write_str("left to the general canonicalization path"),
        }
    }
}

impl std::error::Error for Failure {}

impl ser::Error for Failure {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Failure::Canonical(CanonicalError::NotJson(msg.to_string()))
    }
}

impl From<CanonicalError> for Failure {
    fn from(e: CanonicalError) -> Self {
        Failure::Canonical(e)
    }
}

/// Canonical bytes of `value`, or why the fast writer could not produce them.
#[cfg(test)]
pub(super) fn write<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, Failure> {
    let mut canon = Canon::default();
    canon.write(value)?;
    Ok(std::mem::take(&mut canon.out))
}

/// Buffers above this size are not kept for the next value.
const RETAINED: usize = 64 * 1024;

/// The writer's state: the output, the members of every object still open (innermost last),
/// and a buffer for reordering. Kept between values so that their capacity is reused.
#[derive(Debug, Clone, Default)]
pub(super) struct Canon {
    out: Vec<u8>,
    members: Vec<Member>,
    scratch: Vec<u8>,
}

impl Canon {
    /// Writes `value` into the output buffer (cleared first).
    pub(super) fn write<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Failure> {
        self.out.clear();
        self.members.clear();
        let written = value.serialize(&mut *self);
        if self.scratch.capacity() > RETAINED {
            self.scratch = Vec::new();
        }
        written
    }

    /// Takes the output buffer when it is too large to keep, else copies the bytes out.
    pub(super) fn take_output(&mut self) -> Vec<u8> {
        if self.out.capacity() > RETAINED {
            std::mem::take(&mut self.out)
        } else {
            self.out.as_slice().to_vec()
        }
    }
}

/// An object member's name, as needed to order it.
#[derive(Debug, Clone)]
pub(super) enum Key {
    /// A struct field name.
    Static(&'static str),
    /// A map key written without escapes: its characters are `out[start..end]`.
    Written { start: usize, end: usize },
    /// A map key that needed escapes, kept unescaped.
    Owned(String),
}

impl Key {
    fn bytes<'a>(&'a self, out: &'a [u8]) -> &'a [u8] {
        match self {
            Key::Static(s) => s.as_bytes(),
            Key::Written { start, end } => out.get(*start..*end).unwrap_or_default(),
            Key::Owned(s) => s.as_bytes(),
        }
    }
}

/// One written member: its name and where `"name":value` sits in the output.
#[derive(Debug, Clone)]
struct Member {
    key: Key,
    start: usize,
    end: usize,
}

impl Canon {
    fn open_object(&mut self, closes_variant: bool) -> Object<'_> {
        self.out.push(b'{');
        Object {
            base: self.members.len(),
            body: self.out.len(),
            sorted: true,
            closes_variant,
            pending: None,
            canon: self,
        }
    }

    fn open_variant(&mut self, variant: &str) {
        self.out.push(b'{');
        write_string(variant, &mut self.out);
        self.out.push(b':');
    }

    /// Rewrites the members from `base` on, whose text starts at `body`, in canonical order.
    fn reorder(&mut self, base: usize, body: usize) -> Result<(), Failure> {
        let Canon {
            out,
            members,
            scratch,
        } = self;
        let members = members.get_mut(base..).ok_or(Failure::Unsupported)?;
        members.sort_unstable_by(|a, b| utf16_order(a.key.bytes(out), b.key.bytes(out)));
        let duplicate = members
            .windows(2)
            .any(|w| matches!(w, [a, b] if a.key.bytes(out) == b.key.bytes(out)));
        if duplicate {
            // The general path decides which of the duplicates survives.
            return Err(Failure::Unsupported);
        }
        scratch.clear();
        scratch.extend_from_slice(out.get(body..).unwrap_or_default());
        out.truncate(body);
        for (i, m) in members.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            let text = scratch.get(m.start - body..m.end - body);
            out.extend_from_slice(text.ok_or(Failure::Unsupported)?);
        }
        Ok(())
    }
}

/// An open JSON object (map, struct, or the inner object of a struct variant).
pub(super) struct Object<'a> {
    canon: &'a mut Canon,
    /// Index of this object's first member in `canon.members`.
    base: usize,
    /// Offset of the first member's text (just after `{`).
    body: usize,
    /// Whether the names so far arrived in strictly increasing canonical order.
    sorted: bool,
    /// Whether `end` also closes the `{"Variant":` around this object.
    closes_variant: bool,
    /// A map key written, waiting for its value: the key and where the member starts.
    pending: Option<(Key, usize)>,
}

impl Object<'_> {
    fn member_start(&mut self) -> usize {
        if self.canon.members.len() > self.base {
            self.canon.out.push(b',');
        }
        self.canon.out.len()
    }

    fn push(&mut self, key: Key, start: usize) {
        let end = self.canon.out.len();
        if self.sorted
            && self.canon.members.len() > self.base
            && let Some(prev) = self.canon.members.last()
        {
            let out = &self.canon.out;
            self.sorted = utf16_order(prev.key.bytes(out), key.bytes(out)) == Ordering::Less;
        }
        self.canon.members.push(Member { key, start, end });
    }

    fn field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), Failure> {
        let start = self.member_start();
        write_string(name, &mut self.canon.out);
        self.canon.out.push(b':');
        value.serialize(&mut *self.canon)?;
        self.push(Key::Static(name), start);
        Ok(())
    }

    fn finish(self) -> Result<(), Failure> {
        if !self.sorted {
            self.canon.reorder(self.base, self.body)?;
        }
        self.canon.members.truncate(self.base);
        self.canon.out.push(b'}');
        if self.closes_variant {
            self.canon.out.push(b'}');
        }
        Ok(())
    }
}

/// An open JSON array (sequence, tuple, or the inner array of a tuple variant).
pub(super) struct Seq<'a> {
    canon: &'a mut Canon,
    first: bool,
    /// Whether `end` also closes the `{"Variant":` around this array.
    closes_variant: bool,
}

impl Seq<'_> {
    fn element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Failure> {
        if !self.first {
            self.canon.out.push(b',');
        }
        self.first = false;
        value.serialize(&mut *self.canon)
    }

    fn finish(self) -> Result<(), Failure> {
        self.canon.out.push(b']');
        if self.closes_variant {
            self.canon.out.push(b'}');
        }
        Ok(())
    }
}

impl<'a> ser::Serializer for &'a mut Canon {
    type Ok = ();
    type Error = Failure;
    type SerializeSeq = Seq<'a>;
    type SerializeTuple = Seq<'a>;
    type SerializeTupleStruct = Seq<'a>;
    type SerializeTupleVariant = Seq<'a>;
    type SerializeMap = Object<'a>;
    type SerializeStruct = Object<'a>;
    type SerializeStructVariant = Object<'a>;

    fn serialize_bool(self, v: bool) -> Result<(), Failure> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<(), Failure> {
        self.serialize_i64(i64::from(v))
    }

    fn serialize_i16(self, v: i16) -> Result<(), Failure> {
        self.serialize_i64(i64::from(v))
    }

    fn serialize_i32(self, v: i32) -> Result<(), Failure> {
        self.serialize_i64(i64::from(v))
    }

    fn serialize_i64(self, v: i64) -> Result<(), Failure> {
        Ok(number::write_i64(v, &mut self.out)?)
    }

    fn serialize_i128(self, v: i128) -> Result<(), Failure> {
        if let Ok(u) = u64::try_from(v) {
            return self.serialize_u64(u);
        }
        match i64::try_from(v) {
            Ok(i) => self.serialize_i64(i),
            Err(_) => Err(Failure::Unsupported),
        }
    }

    fn serialize_u8(self, v: u8) -> Result<(), Failure> {
        self.serialize_u64(u64::from(v))
    }

    fn serialize_u16(self, v: u16) -> Result<(), Failure> {
        self.serialize_u64(u64::from(v))
    }

    fn serialize_u32(self, v: u32) -> Result<(), Failure> {
        self.serialize_u64(u64::from(v))
    }

    fn serialize_u64(self, v: u64) -> Result<(), Failure> {
        Ok(number::write_u64(v, &mut self.out)?)
    }

    fn serialize_u128(self, v: u128) -> Result<(), Failure> {
        match u64::try_from(v) {
            Ok(u) => self.serialize_u64(u),
            Err(_) => Err(Failure::Unsupported),
        }
    }

    fn serialize_f32(self, v: f32) -> Result<(), Failure> {
        self.serialize_f64(f64::from(v))
    }

    fn serialize_f64(self, v: f64) -> Result<(), Failure> {
        // serde_json turns non-finite numbers into `null`; so does the general path.
        if v.is_finite() {
            number::write_f64(v, &mut self.out)?;
        } else {
            self.out.extend_from_slice(b"null");
        }
        Ok(())
    }

    fn serialize_char(self, v: char) -> Result<(), Failure> {
        self.serialize_str(v.encode_utf8(&mut [0u8; 4]))
    }

    fn serialize_str(self, v: &str) -> Result<(), Failure> {
        write_string(v, &mut self.out);
        Ok(())
    }

    fn serialize_bytes(self, v: &[u8]) -> Result<(), Failure> {
        self.out.push(b'[');
        for (i, b) in v.iter().enumerate() {
            if i > 0 {
                self.out.push(b',');
            }
            self.out
                .extend_from_slice(itoa::Buffer::new().format(*b).as_bytes());
        }
        self.out.push(b']');
        Ok(())
    }

    fn serialize_none(self) -> Result<(), Failure> {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Failure> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Failure> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<(), Failure> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<(), Failure> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<(), Failure> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        value: &T,
    ) -> Result<(), Failure> {
        self.open_variant(variant);
        value.serialize(&mut *self)?;
        self.out.push(b'}');
        Ok(())
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<Seq<'a>, Failure> {
        self.out.push(b'[');
        Ok(Seq {
            canon: self,
            first: true,
            closes_variant: false,
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<Seq<'a>, Failure> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(self, _name: &'static str, len: usize) -> Result<Seq<'a>, Failure> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Seq<'a>, Failure> {
        self.open_variant(variant);
        self.out.push(b'[');
        Ok(Seq {
            canon: self,
            first: true,
            closes_variant: true,
        })
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<Object<'a>, Failure> {
        Ok(self.open_object(false))
    }

    fn serialize_struct(self, name: &'static str, _len: usize) -> Result<Object<'a>, Failure> {
        if name.starts_with("$serde_json::private::") {
            return Err(Failure::Unsupported);
        }
        Ok(self.open_object(false))
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
        _len: usize,
    ) -> Result<Object<'a>, Failure> {
        self.open_variant(variant);
        Ok(self.open_object(true))
    }
}

/// The four sequence shapes serde distinguishes are all written as JSON arrays.
macro_rules! seq_shapes {
    ($($shape:ident :: $add:ident),* $(,)?) => {$(
        impl ser::$shape for Seq<'_> {
            type Ok = ();
            type Error = Failure;

            fn $add<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Failure> {
                self.element(value)
            }

            fn end(self) -> Result<(), Failure> {
                self.finish()
            }
        }
    )*};
}

seq_shapes!(
    SerializeSeq::serialize_element,
    SerializeTuple::serialize_element,
    SerializeTupleStruct::serialize_field,
    SerializeTupleVariant::serialize_field,
);

impl ser::SerializeMap for Object<'_> {
    type Ok = ();
    type Error = Failure;

    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Failure> {
        let start = self.member_start();
        let key = key.serialize(KeyWriter {
            out: &mut self.canon.out,
        })?;
        self.pending = Some((key, start));
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Failure> {
        let (key, start) = self.pending.take().ok_or(Failure::Unsupported)?;
        self.canon.out.push(b':');
        value.serialize(&mut *self.canon)?;
        self.push(key, start);
        Ok(())
    }

    fn end(self) -> Result<(), Failure> {
        self.finish()
    }
}

impl ser::SerializeStruct for Object<'_> {
    type Ok = ();
    type Error = Failure;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), Failure> {
        self.field(name, value)
    }

    fn end(self) -> Result<(), Failure> {
        self.finish()
    }
}

impl ser::SerializeStructVariant for Object<'_> {
    type Ok = ();
    type Error = Failure;

    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        name: &'static str,
        value: &T,
    ) -> Result<(), Failure> {
        self.field(name, value)
    }

    fn end(self) -> Result<(), Failure> {
        self.finish()
    }
}
