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
    /// The field's name as the client wrote it (`amount`, `customer`), or `body`.
    pub field: String,
    /// What is wrong with it, phrased to follow the name: `must not be empty`.
    pub message: String,
}

impl FieldIssue {
    /// The issue `message` with `field`.
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> FieldIssue {
        FieldIssue {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// A JSON object's members in order, each value still as its JSON text.
pub struct RawObject(Vec<(String, Box<RawValue>)>);

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

/// A JSON type a field can be read as, and how a message names it.
pub trait FieldType: serde::de::DeserializeOwned {
    /// `a string`, `a list of strings`, …
    const EXPECTED: &'static str;
}

impl FieldType for String {
    const EXPECTED: &'static str = "a string";
}

impl FieldType for Vec<String> {
    const EXPECTED: &'static str = "a list of strings";
}

impl FieldType for bool {
    const EXPECTED: &'static str = "true or false";
}

/// Reads an object's fields one by one and collects every problem, so that each kind of
/// problem reads the same whichever body has it: an unknown field, a missing one, one of the
/// wrong JSON type, one whose value a parser refused.
pub struct Fields<'a> {
    object: &'a RawObject,
    issues: Vec<FieldIssue>,
}

impl<'a> Fields<'a> {
    /// Starts reading `object`, whose members must be among `known`: each other one is an
    /// issue at once.
    pub fn new(object: &'a RawObject, known: &[&str]) -> Fields<'a> {
        Fields {
            object,
            issues: object.unknown_fields(known),
        }
    }

    /// A field that must be given: "is required" when absent. An explicit `null` is a value of
    /// the wrong type.
    pub fn required<T: FieldType>(&mut self, name: &str) -> Option<T> {
        match self.member(name) {
            None => {
                self.issue(name, "is required");
                None
            }
            Some(raw) => self.decode(name, raw, false),
        }
    }

    /// A field that may be left out; an explicit `null` means "not given".
    pub fn optional<T: FieldType>(&mut self, name: &str) -> Option<T> {
        let raw = self.object.get(name)?;
        self.decode(name, raw, false)
    }

    /// A field of a change: left out (`None`) leaves it alone, `null` (`Some(None)`) clears
    /// it. `None` too when the value is of the wrong type (an issue then says so).
    pub fn nullable<T: FieldType>(&mut self, name: &str) -> Option<Option<T>> {
        match self.member(name)? {
            "null" => Some(None),
            raw => self.decode(name, raw, true).map(Some),
        }
    }

    /// A required field's JSON text as written (for a value read from its digits, such as an
    /// amount): "is required" when absent.
    pub fn required_raw(&mut self, name: &str) -> Option<&'a str> {
        let raw = self.member(name);
        if raw.is_none() {
            self.issue(name, "is required");
        }
        raw
    }

    /// An optional field's JSON text as written; `None` when absent or `null`.
    pub fn optional_raw(&self, name: &str) -> Option<&'a str> {
        self.object.get(name)
    }

    /// `value` passed through `parse`, whose refusal becomes the field's issue.
    pub fn check<T, U, E: Into<String>>(
        &mut self,
        name: &str,
        value: Option<T>,
        parse: impl FnOnce(T) -> Result<U, E>,
    ) -> Option<U> {
        match parse(value?) {
            Ok(parsed) => Some(parsed),
            Err(message) => {
                self.issue(name, message);
                None
            }
        }
    }

    /// Records a problem with `name`.
    pub fn issue(&mut self, name: &str, message: impl Into<String>) {
        self.issues.push(FieldIssue::new(name, message));
    }

    /// Every problem found, in the order found (unknown fields first).
    pub fn finish(self) -> Vec<FieldIssue> {
        self.issues
    }

    /// The member's JSON text, `null` included; `None` when absent.
    fn member(&self, name: &str) -> Option<&'a str> {
        self.object
            .0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.get())
    }

    fn decode<T: FieldType>(&mut self, name: &str, raw: &str, nullable: bool) -> Option<T> {
        match serde_json::from_str::<T>(raw) {
            Ok(value) => Some(value),
            Err(_) => {
                let or_null = if nullable { " or null" } else { "" };
                self.issue(
                    name,
                    format!("must be {}{or_null}, not {}", T::EXPECTED, json_kind(raw)),
                );
                None
            }
        }
    }
}

/// What kind of JSON value `raw` is, for messages: `a number`, `an object`, …
pub fn json_kind(raw: &str) -> &'static str {
    match raw.trim_start().as_bytes().first() {
        Some(b'{') => "an object",
        Some(b'[') => "an array",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        Some(b'"') => "a string",
        _ => "a number",
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
    fn fields_report_every_problem_in_one_voice() {
        let body = RawObject::parse(
            br#"{"prodcut": "x", "name": 7, "note": null, "tags": ["a"], "label": null}"#,
        )
        .expect("object");
        let mut fields = Fields::new(
            &body,
            &["product", "name", "note", "tags", "label", "amount"],
        );
        assert_eq!(fields.required::<String>("product"), None);
        assert_eq!(fields.optional::<String>("name"), None);
        assert_eq!(fields.nullable::<String>("note"), Some(None));
        assert_eq!(
            fields.optional::<Vec<String>>("tags"),
            Some(vec!["a".to_owned()])
        );
        assert_eq!(fields.optional::<String>("label"), None);
        assert_eq!(fields.required_raw("amount"), None);
        let issues = fields.finish();
        let text: Vec<String> = issues
            .iter()
            .map(|i| format!("{} {}", i.field, i.message))
            .collect();
        assert_eq!(
            text,
            [
                "prodcut is not a known field; did you mean product?",
                "product is required",
                "name must be a string, not a number",
                "amount is required",
            ]
        );
    }

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
