//! Lenient serde helpers for Proxmox JSON.
//!
//! Real servers send numbers as JSON numbers *or* numeric strings (`"3578"`, `"0.75"`), flags as
//! `0`/`1`, `"0"`/`"1"` or booleans, and `null` or `""` where a value is unknown. Every helper here
//! accepts all of those; a value that cannot mean a number (e.g. `"N/A"`) becomes "absent" instead
//! of failing the whole response. Only a structurally wrong value (an object or array where a
//! scalar belongs) is an error, because that means we are reading the wrong endpoint.
//!
//! Use with `#[serde(default, deserialize_with = "de::u64")]` (the `default` covers missing keys).

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use std::fmt;

/// Any scalar a Proxmox server may send where a number or flag is expected.
#[derive(Debug, Clone, PartialEq)]
enum Scalar {
    Absent,
    Int(i128),
    Float(f64),
    Text(String),
    Bool(bool),
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a number, a numeric string, a boolean or null")
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Scalar, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Scalar, E> {
        Ok(Scalar::Int(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Scalar, E> {
        Ok(Scalar::Int(v.into()))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Scalar, E> {
        Ok(Scalar::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Scalar, E> {
        Ok(Scalar::Text(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Scalar, E> {
        Ok(Scalar::Text(v))
    }
    fn visit_none<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Absent)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Scalar, E> {
        Ok(Scalar::Absent)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Scalar, D::Error> {
        d.deserialize_any(ScalarVisitor)
    }
}

fn scalar<'de, D: Deserializer<'de>>(d: D) -> Result<Scalar, D::Error> {
    d.deserialize_any(ScalarVisitor)
}

/// Parses the text forms seen in the wild: `"42"`, `" 1"`, `"0.75"`, `"0x1F"`, `"81%"`,
/// `"\"81\""`. Anything else (`"N/A"`, `""`, `"ssd"`) is `None`.
fn parse_text(s: &str) -> Option<f64> {
    let t = s
        .trim()
        .trim_matches('"')
        .trim()
        .trim_end_matches('%')
        .trim();
    if t.is_empty() {
        return None;
    }
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return u64::from_str_radix(hex, 16).ok().map(|v| v as f64);
    }
    if let Ok(i) = t.parse::<i128>() {
        return Some(i as f64);
    }
    t.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Integer view: keeps full 64-bit precision for integers and integer strings.
fn to_i128(s: &Scalar) -> Option<i128> {
    match s {
        Scalar::Absent => None,
        Scalar::Int(i) => Some(*i),
        Scalar::Float(f) if f.is_finite() => Some(f.trunc() as i128),
        Scalar::Float(_) => None,
        Scalar::Bool(b) => Some(i128::from(*b)),
        Scalar::Text(t) => {
            let trimmed = t.trim().trim_matches('"').trim();
            trimmed
                .parse::<i128>()
                .ok()
                .or_else(|| parse_text(t).map(|f| f.trunc() as i128))
        }
    }
}

fn to_f64(s: &Scalar) -> Option<f64> {
    match s {
        Scalar::Absent => None,
        Scalar::Int(i) => Some(*i as f64),
        Scalar::Float(f) if f.is_finite() => Some(*f),
        Scalar::Float(_) => None,
        Scalar::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        Scalar::Text(t) => parse_text(t),
    }
}

/// `u64`; negative values clamp to 0, unknown → 0.
pub fn u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(opt_u64(d)?.unwrap_or(0))
}

/// `Option<u64>`: `None` when absent, null or not a number; negative values clamp to 0.
pub fn opt_u64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    Ok(to_i128(&scalar(d)?).map(|i| i.clamp(0, u64::MAX as i128) as u64))
}

/// `i64`; unknown → 0.
pub fn i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(opt_i64(d)?.unwrap_or(0))
}

pub fn opt_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(to_i128(&scalar(d)?).map(|i| i.clamp(i64::MIN as i128, i64::MAX as i128) as i64))
}

/// `f64`; unknown, NaN or infinite → 0.0.
pub fn f64<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(opt_f64(d)?.unwrap_or(0.0))
}

pub fn opt_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    Ok(to_f64(&scalar(d)?))
}

/// Flag: `true`/`false`, `1`/`0`, `"1"`/`"0"`, `"true"`/`"yes"`/`"on"`; unknown → false.
pub fn bool<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(opt_bool(d)?.unwrap_or(false))
}

pub fn opt_bool<'de, D: Deserializer<'de>>(d: D) -> Result<Option<bool>, D::Error> {
    Ok(match scalar(d)? {
        Scalar::Bool(b) => Some(b),
        Scalar::Text(t) => match t.trim().to_ascii_lowercase().as_str() {
            "true" | "yes" | "on" => Some(true),
            "false" | "no" | "off" => Some(false),
            other => parse_text(other).map(|f| f != 0.0),
        },
        other => to_f64(&other).map(|f| f != 0.0),
    })
}

/// String that may arrive as a number (`vmid`, `id`) or null; null → `""`.
pub fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(opt_string(d)?.unwrap_or_default())
}

pub fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match scalar(d)? {
        Scalar::Absent => None,
        Scalar::Text(t) => Some(t),
        Scalar::Int(i) => Some(i.to_string()),
        Scalar::Float(f) => Some(f.to_string()),
        Scalar::Bool(b) => Some(if b { "1" } else { "0" }.to_owned()),
    })
}

/// A list that may be `null` (e.g. disks' `osdid-list`): null → empty.
pub fn vec<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
}

/// Any deserializable value where `null` means "default" (nested objects, lists, maps).
pub fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A list of numbers sent as numbers or strings (`loadavg: ["0.12","0.30","0.25"]`); entries that
/// are not numbers are skipped. A single scalar is accepted as a one-element list.
pub fn f64_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f64>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum OneOrMany {
        Many(Vec<serde_json::Value>),
        One(serde_json::Value),
    }
    let values = match Option::<OneOrMany>::deserialize(d)? {
        None => return Ok(Vec::new()),
        Some(OneOrMany::Many(v)) => v,
        Some(OneOrMany::One(v)) => vec![v],
    };
    Ok(values.iter().filter_map(value_f64).collect())
}

/// Number view of an arbitrary JSON value (for fields kept as `serde_json::Value`).
pub fn value_f64(v: &serde_json::Value) -> Option<f64> {
    match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => parse_text(s),
        serde_json::Value::Bool(b) => Some(if *b { 1.0 } else { 0.0 }),
        _ => None,
    }
}

/// A list of strings given as a string, a list, or an object whose values are strings (LXC
/// `ip`/`ip6` fields come in all three forms). Non-string entries are skipped.
pub fn string_list<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    let v = Option::<serde_json::Value>::deserialize(d)?;
    let mut out = Vec::new();
    collect_strings(v.as_ref(), &mut out);
    Ok(out)
}

fn collect_strings(v: Option<&serde_json::Value>, out: &mut Vec<String>) {
    match v {
        Some(serde_json::Value::String(s)) if !s.trim().is_empty() => out.push(s.trim().to_owned()),
        Some(serde_json::Value::Array(items)) => {
            items.iter().for_each(|i| collect_strings(Some(i), out))
        }
        Some(serde_json::Value::Object(map)) => {
            map.values().for_each(|i| collect_strings(Some(i), out))
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Default, Debug)]
    #[serde(default)]
    struct T {
        #[serde(deserialize_with = "u64")]
        a: u64,
        #[serde(deserialize_with = "opt_f64")]
        b: Option<f64>,
        #[serde(deserialize_with = "bool")]
        c: bool,
        #[serde(deserialize_with = "string")]
        d: String,
        #[serde(deserialize_with = "f64_list")]
        e: Vec<f64>,
        #[serde(deserialize_with = "i64")]
        f: i64,
    }

    fn t(json: &str) -> T {
        serde_json::from_str(json).expect(json)
    }

    #[test]
    fn numbers_as_strings_numbers_null_and_junk() {
        assert_eq!(t(r#"{"a":"3578"}"#).a, 3578);
        assert_eq!(t(r#"{"a":3578}"#).a, 3578);
        assert_eq!(t(r#"{"a":3578.9}"#).a, 3578);
        assert_eq!(t(r#"{"a":null}"#).a, 0);
        assert_eq!(t(r#"{"a":"N/A"}"#).a, 0);
        assert_eq!(t(r#"{"a":""}"#).a, 0);
        assert_eq!(t(r#"{"a":-1}"#).a, 0);
        assert_eq!(t(r#"{"a":"18446744073709551615"}"#).a, u64::MAX);
        assert_eq!(t(r#"{"a":"0x1F"}"#).a, 31);
        assert_eq!(t(r#"{}"#).a, 0);
        assert_eq!(t(r#"{"b":"0.75"}"#).b, Some(0.75));
        assert_eq!(t(r#"{"b":"81%"}"#).b, Some(81.0));
        assert_eq!(t(r#"{"b":"\"81\""}"#).b, Some(81.0));
        assert_eq!(t(r#"{"b":"nan"}"#).b, None);
        assert_eq!(t(r#"{"f":"  1"}"#).f, 1);
        assert_eq!(t(r#"{"f":-1}"#).f, -1);
    }

    #[test]
    fn flags_and_strings() {
        assert!(t(r#"{"c":1}"#).c);
        assert!(t(r#"{"c":"1"}"#).c);
        assert!(t(r#"{"c":true}"#).c);
        assert!(!t(r#"{"c":""}"#).c);
        assert!(!t(r#"{"c":0}"#).c);
        assert_eq!(t(r#"{"d":106}"#).d, "106");
        assert_eq!(t(r#"{"d":null}"#).d, "");
        assert_eq!(t(r#"{"e":["0.12","0.30",0.25]}"#).e, vec![0.12, 0.30, 0.25]);
        assert_eq!(t(r#"{"e":null}"#).e, Vec::<f64>::new());
    }

    #[test]
    fn structural_mismatch_is_an_error() {
        assert!(serde_json::from_str::<T>(r#"{"a":{"x":1}}"#).is_err());
        assert!(serde_json::from_str::<T>(r#"{"a":[1]}"#).is_err());
    }
}
