//! Map keys: written as JSON strings, and returned as the name the member is ordered by.
//!
//! Accepts what serde_json accepts as a string key without conversion choices — strings,
//! characters, integers (as their decimal text), unit variants and newtype wrappers of those —
//! and leaves every other key type to the general path.

use serde::Serialize;
use serde::ser::{self, Impossible};

use super::{Failure, Key};
use crate::canonical::write_string;

/// Integer keys of every width are written as their decimal text.
macro_rules! integer_keys {
    ($($method:ident : $int:ty),* $(,)?) => {$(
        fn $method(self, v: $int) -> Result<Key, Failure> {
            self.integer(itoa::Buffer::new().format(v))
        }
    )*};
}

/// Writes one map key into `out`.
pub(super) struct KeyWriter<'a> {
    pub(super) out: &'a mut Vec<u8>,
}

/// Compound values are never keys.
type NoKey = Impossible<Key, Failure>;

impl KeyWriter<'_> {
    fn integer(self, text: &str) -> Result<Key, Failure> {
        ser::Serializer::serialize_str(self, text)
    }
}

impl ser::Serializer for KeyWriter<'_> {
    type Ok = Key;
    type Error = Failure;
    type SerializeSeq = NoKey;
    type SerializeTuple = NoKey;
    type SerializeTupleStruct = NoKey;
    type SerializeTupleVariant = NoKey;
    type SerializeMap = NoKey;
    type SerializeStruct = NoKey;
    type SerializeStructVariant = NoKey;

    fn serialize_str(self, v: &str) -> Result<Key, Failure> {
        let start = self.out.len() + 1;
        if write_string(v, self.out) {
            return Ok(Key::Owned(v.to_owned()));
        }
        Ok(Key::Written {
            start,
            end: self.out.len() - 1,
        })
    }

    fn serialize_char(self, v: char) -> Result<Key, Failure> {
        self.serialize_str(v.encode_utf8(&mut [0u8; 4]))
    }

    integer_keys!(
        serialize_i8: i8,
        serialize_i16: i16,
        serialize_i32: i32,
        serialize_i64: i64,
        serialize_i128: i128,
        serialize_u8: u8,
        serialize_u16: u16,
        serialize_u32: u32,
        serialize_u64: u64,
        serialize_u128: u128,
    );

    fn serialize_unit_variant(
        self,
        _name: &'static str,
        _index: u32,
        variant: &'static str,
    ) -> Result<Key, Failure> {
        self.serialize_str(variant)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        value: &T,
    ) -> Result<Key, Failure> {
        value.serialize(self)
    }

    fn serialize_bool(self, _v: bool) -> Result<Key, Failure> {
        Err(Failure::Unsupported)
    }

    fn serialize_f32(self, _v: f32) -> Result<Key, Failure> {
        Err(Failure::Unsupported)
    }

    fn serialize_f64(self, _v: f64) -> Result<Key, Failure> {
        Err(Failure::Unsupported)
    }

    fn serialize_bytes(self, _v: &[u8]) -> Result<Key, Failure> {
        Err(Failure::Unsupported)
    }

    fn serialize_none(self) -> Result<Key, Failure> {
        Err(Failure::Unsupported)
    }

    fn serialize_some<T: Serialize + ?Sized>(self, _value: &T) -> Result<Key, Failure> {
        Err(Failure::Unsupported)
    }

    fn serialize_unit(self) -> Result<Key, Failure> {
        Err(Failure::Unsupported)
    }

    fn serialize_unit_struct(self, _name: &'static str) -> Result<Key, Failure> {
        Err(Failure::Unsupported)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _value: &T,
    ) -> Result<Key, Failure> {
        Err(Failure::Unsupported)
    }

    fn serialize_seq(self, _len: Option<usize>) -> Result<NoKey, Failure> {
        Err(Failure::Unsupported)
    }

    fn serialize_tuple(self, _len: usize) -> Result<NoKey, Failure> {
        Err(Failure::Unsupported)
    }

    fn serialize_tuple_struct(self, _name: &'static str, _len: usize) -> Result<NoKey, Failure> {
        Err(Failure::Unsupported)
    }

    fn serialize_tuple_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<NoKey, Failure> {
        Err(Failure::Unsupported)
    }

    fn serialize_map(self, _len: Option<usize>) -> Result<NoKey, Failure> {
        Err(Failure::Unsupported)
    }

    fn serialize_struct(self, _name: &'static str, _len: usize) -> Result<NoKey, Failure> {
        Err(Failure::Unsupported)
    }

    fn serialize_struct_variant(
        self,
        _name: &'static str,
        _index: u32,
        _variant: &'static str,
        _len: usize,
    ) -> Result<NoKey, Failure> {
        Err(Failure::Unsupported)
    }
}
