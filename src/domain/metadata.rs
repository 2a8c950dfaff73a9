//! Merchant metadata: up to 10 string pairs, echoed back and sent with webhooks.

use std::collections::BTreeMap;

/// The most keys a session's metadata may have.
pub const MAX_PAIRS: usize = 10;
/// The longest key, in characters.
pub const MAX_KEY_CHARS: usize = 40;
/// The longest value, in characters.
pub const MAX_VALUE_CHARS: usize = 500;

/// Validated metadata; keys sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata(BTreeMap<String, String>);

/// One problem with one key (`metadata.<key>`) or with the object as a whole (`metadata`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataIssue {
    /// `metadata.<key>`, or `metadata` for the object as a whole.
    pub field: String,
    /// What is wrong, phrased to follow the name.
    pub message: String,
}

impl Metadata {
    /// Parses a JSON value; every problem is reported, not only the first.
    pub fn parse(value: &serde_json::Value) -> Result<Metadata, Vec<MetadataIssue>> {
        let issue = |field: String, message: String| MetadataIssue { field, message };
        let Some(object) = value.as_object() else {
            return Err(vec![issue(
                "metadata".into(),
                "must be an object of string values".into(),
            )]);
        };
        let mut issues = Vec::new();
        if object.len() > MAX_PAIRS {
            issues.push(issue(
                "metadata".into(),
                format!("must have at most {MAX_PAIRS} keys (got {})", object.len()),
            ));
        }
        let mut pairs = BTreeMap::new();
        for (key, value) in object {
            let field = format!("metadata.{key}");
            let key_len = key.chars().count();
            if key_len == 0 || key_len > MAX_KEY_CHARS {
                issues.push(issue(
                    field.clone(),
                    format!("keys must be 1 to {MAX_KEY_CHARS} characters"),
                ));
            } else if key.chars().any(char::is_control) {
                issues.push(issue(
                    field.clone(),
                    "keys must not contain control characters".into(),
                ));
            }
            match value.as_str() {
                Some(s) if s.chars().count() <= MAX_VALUE_CHARS => {
                    pairs.insert(key.clone(), s.to_owned());
                }
                Some(_) => issues.push(issue(
                    field,
                    format!("values must be at most {MAX_VALUE_CHARS} characters"),
                )),
                None => issues.push(issue(field, "values must be strings".into())),
            }
        }
        if issues.is_empty() {
            Ok(Metadata(pairs))
        } else {
            Err(issues)
        }
    }

    /// Parses the metadata member's raw JSON text. Unlike a parsed `serde_json::Value`, which
    /// keeps the last of repeated keys, this refuses them, as the body's top level does.
    pub fn parse_json(raw: &str) -> Result<Metadata, Vec<MetadataIssue>> {
        let not_object = || MetadataIssue {
            field: "metadata".into(),
            message: "must be an object of string values".into(),
        };
        let members = match serde_json::from_str::<Members>(raw) {
            Ok(Members(Some(members))) => members,
            Ok(Members(None)) | Err(_) => return Err(vec![not_object()]),
        };
        let mut object = serde_json::Map::new();
        let mut repeated = Vec::new();
        for (key, value) in members {
            if object.contains_key(&key) {
                if !repeated.contains(&key) {
                    repeated.push(key);
                }
            } else {
                object.insert(key, value);
            }
        }
        if !repeated.is_empty() {
            return Err(repeated
                .into_iter()
                .map(|key| MetadataIssue {
                    field: format!("metadata.{key}"),
                    message: "appears more than once; each key may be given once".into(),
                })
                .collect());
        }
        Metadata::parse(&serde_json::Value::Object(object))
    }

    /// The pairs, sorted by key.
    pub fn pairs(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// The pairs as a JSON object of strings, as the API and webhooks show them.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::Value::Object(
            self.0
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect(),
        )
    }

    /// Stored as a JSON object text.
    pub fn to_db(&self) -> String {
        self.to_json().to_string()
    }

    /// Reads back what `to_db` wrote; anything unreadable becomes empty metadata.
    pub fn from_db(text: &str) -> Metadata {
        serde_json::from_str(text).map(Metadata).unwrap_or_default()
    }
}

/// An object's members in order, repeated keys kept; `None` for any other JSON value.
struct Members(Option<Vec<(String, serde_json::Value)>>);

impl<'de> serde::Deserialize<'de> for Members {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Members, D::Error> {
        struct MembersVisitor;
        impl<'de> serde::de::Visitor<'de> for MembersVisitor {
            type Value = Members;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Members, A::Error> {
                let mut members = Vec::new();
                while let Some(entry) = map.next_entry::<String, serde_json::Value>()? {
                    members.push(entry);
                }
                Ok(Members(Some(members)))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Members, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(Members(None))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Members, E> {
                Ok(Members(None))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Members, E> {
                Ok(Members(None))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Members, E> {
                Ok(Members(None))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Members, E> {
                Ok(Members(None))
            }
            fn visit_str<E>(self, _: &str) -> Result<Members, E> {
                Ok(Members(None))
            }
            fn visit_unit<E>(self) -> Result<Members, E> {
                Ok(Members(None))
            }
        }
        deserializer.deserialize_any(MembersVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_string_pairs() {
        let m = Metadata::parse(&json!({"order_id": "ord_284"})).expect("valid");
        assert_eq!(m.to_json(), json!({"order_id": "ord_284"}));
        assert_eq!(Metadata::from_db(&m.to_db()), m);
    }

    #[test]
    fn refuses_a_key_given_twice() {
        let issues = Metadata::parse_json(r#"{"order_id": "a", "x": "1", "order_id": "b"}"#)
            .expect_err("a repeated key");
        assert_eq!(issues.len(), 1);
        assert_eq!(issues[0].field, "metadata.order_id");
        assert!(issues[0].message.contains("more than once"));
        let m = Metadata::parse_json(r#"{"order_id": "a"}"#).expect("valid");
        assert_eq!(m.pairs()["order_id"], "a");
        assert_eq!(
            Metadata::parse_json("[1]").expect_err("array")[0].field,
            "metadata"
        );
        assert_eq!(
            Metadata::parse_json("null").expect_err("null")[0].field,
            "metadata"
        );
    }

    #[test]
    fn reports_every_problem() {
        let mut big = serde_json::Map::new();
        for i in 0..11 {
            big.insert(format!("k{i}"), json!("v"));
        }
        assert!(Metadata::parse(&serde_json::Value::Object(big)).is_err());
        let issues = Metadata::parse(&json!({"a": 1, "b": null, "": "x", "c": "x".repeat(501)}))
            .expect_err("invalid");
        assert_eq!(issues.len(), 4);
        assert!(Metadata::parse(&json!(["a"])).is_err());
        assert!(Metadata::parse(&json!({ "k".repeat(41): "v" })).is_err());
    }
}
