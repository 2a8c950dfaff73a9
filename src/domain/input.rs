//! Request bodies as the merchant API and the command line read them: one JSON object whose
//! members keep their exact JSON text (an amount is read from the digits the client wrote,
//! never through a float), and the problems found in them, one [`FieldIssue`] per field.

use std::fmt;

use serde::Serialize;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::suggest::closest;

/// One problem with one input field.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct FieldIssue {
    pub field: String,
    pub message: String,
}

impl FieldIssue {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldIssue {
        FieldIssue {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A JSON object's members in order, each value still as its JSON text.
pub struct RawObject(pub Vec<(String, Box<RawValue>)>);

impl RawObject {
    /// Parses `bytes` as one JSON object (refusing a repeated key); the error says what is
    /// wrong with it.
    pub fn parse(bytes: &[u8]) -> Result<RawObject, String> {
        parse_object(bytes)
    }

    /// One issue per member not in `known`, with a suggestion for a near miss.
    pub fn unknown_fields(&self, known: &[&str]) -> Vec<FieldIssue> {
        self.0
            .iter()
            .filter(|(name, _)| !known.contains(&name.as_str()))
            .map(|(name, _)| {
                let message = match closest(name, known) {
                    Some(hit) => format!("is not a known field; did you mean {hit}?"),
                    None => format!("is not a known field; the fields are {}", known.join(", ")),
                };
                FieldIssue::new(name.clone(), message)
            })
            .collect()
    }

    /// The raw JSON of a member, `None` when absent or null.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.get())
            .filter(|raw| *raw != "null")
    }
}

/// Parses `bytes` as one JSON object; the error says what is wrong with it.
fn parse_object(bytes: &[u8]) -> Result<RawObject, String> {
    let invalid = |message: String| message;
    let text = std::str::from_utf8(bytes)
        .map_err(|_| invalid("the request body is not valid UTF-8".to_owned()))?;
    if text.trim().is_empty() {
        return Err(invalid(
            "the request body is empty; it must be a JSON object".to_owned(),
        ));
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let parsed = de
        .deserialize_any(ObjectVisitor)
        .and_then(|o| de.end().map(|_| o));
    match parsed {
        Ok(Some(object)) => Ok(object),
        Ok(None) => Err(invalid("the request body must be a JSON object".to_owned())),
        Err(e) if e.is_data() => Err(invalid(e.to_string())),
        Err(e) => Err(invalid(format!("the request body is not valid JSON: {e}"))),
    }
}

/// Accepts an object (`Some`) or any other JSON value (`None`), refusing repeated keys.
struct ObjectVisitor;

impl<'de> Visitor<'de> for ObjectVisitor {
    type Value = Option<RawObject>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut members: Vec<(String, Box<RawValue>)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if members.iter().any(|(k, _)| *k == key) {
                return Err(serde::de::Error::custom(format!(
                    "the field {key:?} appears more than once"
                )));
            }
            let value: Box<RawValue> = map.next_value()?;
            members.push((key, value));
        }
        Ok(Some(RawObject(members)))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_members_and_their_raw_text() {
        let o = RawObject::parse(br#"{"amount": 19.99, "a": {"b": 1}}"#).expect("object");
        assert_eq!(o.0.len(), 2);
        assert_eq!(o.0[0].1.get(), "19.99");
    }

    #[test]
    fn refuses_everything_but_one_object() {
        for bad in [
            &b"[1]"[..],
            b"1",
            b"\"x\"",
            b"null",
            b"",
            b"{",
            b"{} {}",
            b"{\"a\":1,\"a\":2}",
            b"\xff",
        ] {
            assert!(
                RawObject::parse(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
