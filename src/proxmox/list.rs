//! `{"data": [...]}` decoded into a vector sized before the first item is read.
//!
//! serde's own `Vec` decoding starts empty and doubles (JSON gives no length), so a list of a
//! thousand 300-byte items is copied about ten times while it grows, each time into freshly
//! faulted pages. The caller knows the body's length, which bounds the number of items.

use serde::Deserialize;
use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;
use std::marker::PhantomData;

/// No list item Proxmox sends is shorter than this in JSON (the smallest, a storage content
/// or task entry, is over 150 bytes), so `body length / MIN_ITEM_BYTES` bounds the count.
pub const MIN_ITEM_BYTES: usize = 128;

/// At most this much is reserved up front whatever the body claims: a bigger list still
/// decodes, growing past it as usual.
const MAX_RESERVE_BYTES: usize = 8 << 20;

/// Decodes `{"data": null | [T, ...], ...}`: `None` for `null`, other keys ignored, `data`
/// required (a body without the envelope is a shape error, not "no data").
pub struct Envelope<T> {
    capacity: usize,
    item: PhantomData<fn() -> T>,
}

impl<T> Envelope<T> {
    /// `items` is an upper bound on the list's length, capped by `MAX_RESERVE_BYTES`.
    pub fn with_capacity(items: usize) -> Self {
        let per = std::mem::size_of::<T>().max(1);
        Envelope {
            capacity: items.min(MAX_RESERVE_BYTES / per),
            item: PhantomData,
        }
    }
}

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for Envelope<T> {
    type Value = Option<Vec<T>>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for Envelope<T> {
    type Value = Option<Vec<T>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object with a `data` list")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut data = None;
        while let Some(key) = map.next_key::<Key>()? {
            match key {
                Key::Data if data.is_some() => return Err(de::Error::duplicate_field("data")),
                Key::Data => {
                    data = Some(map.next_value_seed(MaybeList::<T>(self.capacity, PhantomData))?)
                }
                Key::Other => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        data.ok_or_else(|| de::Error::missing_field("data"))
    }
}

/// An envelope key: `data`, or anything else (ignored).
enum Key {
    Data,
    Other,
}

impl<'de> Deserialize<'de> for Key {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct K;
        impl Visitor<'_> for K {
            type Value = Key;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Key, E> {
                Ok(if v == "data" { Key::Data } else { Key::Other })
            }
        }
        d.deserialize_identifier(K)
    }
}

/// `null` or a list, pre-sized to the capacity it carries.
struct MaybeList<T>(usize, PhantomData<fn() -> T>);

impl<'de, T: Deserialize<'de>> DeserializeSeed<'de> for MaybeList<T> {
    type Value = Option<Vec<T>>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de, T: Deserialize<'de>> Visitor<'de> for MaybeList<T> {
    type Value = Option<Vec<T>>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a sequence")
    }
    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::with_capacity(self.0);
        while let Some(item) = seq.next_element()? {
            out.push(item);
        }
        Ok(Some(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(body: &str) -> Result<Option<Vec<u32>>, String> {
        let mut de = serde_json::Deserializer::from_str(body);
        Envelope::<u32>::with_capacity(body.len() / MIN_ITEM_BYTES)
            .deserialize(&mut de)
            .and_then(|v| de.end().map(|()| v))
            .map_err(|e| e.to_string())
    }

    #[test]
    fn lists_null_and_other_keys() {
        assert_eq!(decode(r#"{"data":[1,2,3]}"#), Ok(Some(vec![1, 2, 3])));
        assert_eq!(
            decode(r#"{"x":{"y":[1]},"data":[],"z":1}"#),
            Ok(Some(vec![]))
        );
        assert_eq!(decode(r#"{"data":null}"#), Ok(None));
    }

    #[test]
    fn bad_shapes_are_errors_that_say_what_was_expected() {
        for (body, want) in [
            (r#"{"data":"a"}"#, "expected a sequence"),
            (r#"{"errors":{}}"#, "missing field `data`"),
            (r#"{"data":[1],"data":[2]}"#, "duplicate field `data`"),
            (r#"[1,2]"#, "expected an object with a `data` list"),
            (r#"{"data":[1,"x"]}"#, "invalid type"),
            (r#"{"data":[1]} tail"#, "trailing characters"),
            (r#"{"data":[1"#, "EOF"),
        ] {
            let e = decode(body).unwrap_err();
            assert!(e.contains(want), "{body}: {e}");
        }
    }

    #[test]
    fn capacity_is_capped_whatever_the_body_claims() {
        let e = Envelope::<[u8; 1024]>::with_capacity(usize::MAX);
        assert_eq!(e.capacity, MAX_RESERVE_BYTES / 1024);
        let e = Envelope::<()>::with_capacity(10);
        assert_eq!(e.capacity, 10);
    }
}
