//! A pass over `tokenizer.json` before `tokenizers` reads it.
//!
//! tokenizers 0.23 panics, rather than returning an error, on some files a picked or linked
//! folder can hold (found by `cargo xtask fuzz`): its decoder's deserializer calls
//! `expect("Helper")`, which fires on any JSON that fails to buffer (bad syntax, a string
//! that is not UTF-8, an escape that is no code point), and its `Precompiled` normalizer
//! indexes a trie read from the file without bounds checks. The worker is built with
//! `panic = "abort"`, so `catch_unwind` cannot help: those inputs are refused here.
//!
//! The pass reads every string (so serde_json checks its UTF-8 and escapes) and keeps
//! nothing but the small `normalizer` value.

use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};

/// Ok when tokenizers can be given `json` without reaching one of its panics.
pub(super) fn check(json: &[u8]) -> Result<(), String> {
    let mut de = serde_json::Deserializer::from_slice(json);
    let normalizer = TopLevel
        .deserialize(&mut de)
        .map_err(|e| format!("not valid JSON: {e}"))?;
    de.end().map_err(|e| format!("not valid JSON: {e}"))?;
    match normalizer.as_ref().and_then(find_precompiled) {
        // SmolVLM's tokenizers (byte-level BPE) have no such normalizer.
        Some(()) => Err(
            "its normalizer is a SentencePiece `Precompiled` one, which no \
                         SmolVLM model uses and which is not loaded here"
                .into(),
        ),
        None => Ok(()),
    }
}

/// `Some(())` when `value` holds, at any depth, an object whose type is `Precompiled`
/// (a `Sequence` normalizer nests them).
fn find_precompiled(value: &serde_json::Value) -> Option<()> {
    match value {
        serde_json::Value::Object(map) => {
            if map.get("type").and_then(|t| t.as_str()) == Some("Precompiled") {
                return Some(());
            }
            map.values().find_map(find_precompiled)
        }
        serde_json::Value::Array(items) => items.iter().find_map(find_precompiled),
        _ => None,
    }
}

/// The document: any JSON value; when it is an object, its `normalizer` is kept.
struct TopLevel;

impl<'de> DeserializeSeed<'de> for TopLevel {
    type Value = Option<serde_json::Value>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(TopLevelVisitor)
    }
}

struct TopLevelVisitor;

impl<'de> Visitor<'de> for TopLevelVisitor {
    type Value = Option<serde_json::Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a tokenizer.json object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut normalizer = None;
        while let Some(key) = map.next_key::<String>()? {
            if key == "normalizer" {
                normalizer = Some(map.next_value::<serde_json::Value>()?);
            } else {
                map.next_value::<Checked>()?;
            }
        }
        Ok(normalizer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
        CheckedVisitor.visit_seq(seq).map(|_| None)
    }

    // Scalars: tokenizers rejects them with an error of its own.
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// Any JSON value, read in full (strings decoded, so checked) and dropped.
/// `serde::de::IgnoredAny` is not enough: serde_json skips an ignored string's bytes
/// without checking them.
struct Checked;

impl<'de> de::Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(CheckedVisitor)
    }
}

struct CheckedVisitor;

impl<'de> Visitor<'de> for CheckedVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        while map.next_entry::<Checked, Checked>()?.is_some() {}
        Ok(Checked)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_unit<E: de::Error>(self) -> Result<Checked, E> {
        Ok(Checked)
    }
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn strings_are_checked_not_skipped() {
        assert!(check(br#"{"a": ["x", {"b": 1.5e3, "c": null}], "d": true}"#).is_ok());
        // Not UTF-8 inside a key, and an escape that is half a surrogate pair.
        assert!(check(b"{\"a\xe3_b\": 1}")
            .unwrap_err()
            .contains("not valid JSON"));
        assert!(check(br#"{"a": "\udc00"}"#)
            .unwrap_err()
            .contains("not valid JSON"));
        assert!(check(br#"{"a": 1} x"#)
            .unwrap_err()
            .contains("not valid JSON"));
    }

    #[test]
    fn a_precompiled_normalizer_is_refused_at_any_depth() {
        let nested = br#"{"normalizer": {"type": "Sequence", "normalizers":
            [{"type": "NFC"}, {"type": "Precompiled", "precompiled_charsmap": "AAAA"}]}}"#;
        assert!(check(nested).unwrap_err().contains("Precompiled"));
        assert!(check(br#"{"normalizer": {"type": "NFC"}, "model": {}}"#).is_ok());
    }
}
