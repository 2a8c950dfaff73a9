//! Merchant metadata: up to 10 string pairs, echoed back and sent with webhooks.

use std::collections::BTreeMap;

pub const MAX_PAIRS: usize = 10;
pub const MAX_KEY_CHARS: usize = 40;
pub const MAX_VALUE_CHARS: usize = 500;

/// Validated metadata; keys sorted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata(BTreeMap<String, String>);

/// One problem with one key (`metadata.<key>`) or with the object as a whole (`metadata`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataIssue {
    pub field: String,
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

    pub fn pairs(&self) -> &BTreeMap<String, String> {
        &self.0
    }

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
