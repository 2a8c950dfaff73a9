//! Reading a JSON request body ourselves, so that every way a body can be wrong (not JSON, too
//! large, not an object, a repeated key) gets the API's error envelope instead of actix's
//! plain-text answers, and so that numbers keep the exact text they were written with.

use std::fmt;
use std::time::Duration;

use actix_web::http::StatusCode;
use actix_web::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use actix_web::{HttpRequest, web};
use futures_util::StreamExt;
use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::error::ApiError;
use crate::state::AppState;

/// A JSON object's members in order, each value still as its JSON text.
pub struct RawObject(pub Vec<(String, Box<RawValue>)>);

impl RawObject {
    /// One issue per member not in `known`, with a suggestion for a near miss.
    pub fn unknown_fields(&self, known: &[&str]) -> Vec<crate::error::FieldIssue> {
        self.0
            .iter()
            .filter(|(name, _)| !known.contains(&name.as_str()))
            .map(|(name, _)| {
                let message = match crate::domain::suggest::closest(name, known) {
                    Some(hit) => format!("is not a known field; did you mean {hit}?"),
                    None => format!("is not a known field; the fields are {}", known.join(", ")),
                };
                crate::error::FieldIssue::new(name.clone(), message)
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

/// Why a body could not be read.
#[derive(Debug, PartialEq, Eq)]
pub enum BodyError {
    TooLarge,
    /// The client stopped sending before the body was complete.
    TimedOut,
    Unreadable(String),
}

/// Reads the whole body, at most `limit` bytes, within `timeout`: a client that starts a
/// body and never finishes it must not hold a connection (and its memory) for ever.
pub async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
    timeout: Duration,
) -> Result<web::BytesMut, BodyError> {
    let declared = req
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(BodyError::TooLarge);
    }
    let read = async {
        let mut body = web::BytesMut::with_capacity(declared.unwrap_or(1024).min(limit));
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|e| BodyError::Unreadable(e.to_string()))?;
            if body.len() + chunk.len() > limit {
                return Err(BodyError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    tokio::time::timeout(timeout, read)
        .await
        .unwrap_or(Err(BodyError::TimedOut))
}

/// The configured body time-out of the server handling `req`.
pub fn body_timeout(req: &HttpRequest) -> Duration {
    let seconds = req
        .app_data::<web::Data<AppState>>()
        .map_or(10, |state| state.settings.body_timeout_seconds);
    Duration::from_secs(seconds)
}

impl BodyError {
    /// The API's answer to it.
    pub fn into_api_error(self, limit: usize) -> ApiError {
        match self {
            BodyError::TooLarge => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "body_too_large",
                format!("the request body is larger than {limit} bytes"),
            )
            .with_suggestion("Send a smaller body; metadata is limited to 10 short string values."),
            BodyError::TimedOut => ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                "request_timeout",
                "the request body did not arrive in time",
            )
            .with_suggestion("Send the whole body at once, with a correct Content-Length."),
            BodyError::Unreadable(e) => ApiError::bad_request(
                "body_unreadable",
                format!("the request body could not be read: {e}"),
            ),
        }
    }
}

/// Checks the content type and size, then parses a JSON object.
pub async fn read_json_object(
    req: &HttpRequest,
    payload: web::Payload,
    limit: usize,
) -> Result<RawObject, ApiError> {
    check_content_type(req)?;
    let body = read_body(req, payload, limit, body_timeout(req))
        .await
        .map_err(|e| e.into_api_error(limit))?;
    parse_object(&body)
}

fn check_content_type(req: &HttpRequest) -> Result<(), ApiError> {
    let content_type = req
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
    {
        Ok(())
    } else {
        let got = if content_type.is_empty() {
            "no Content-Type".to_owned()
        } else {
            format!("Content-Type {content_type:?}")
        };
        Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
            format!("the body must be JSON, but the request has {got}"),
        )
        .with_suggestion("Send the body as JSON with the header Content-Type: application/json."))
    }
}

/// Parses `bytes` as one JSON object.
pub fn parse_object(bytes: &[u8]) -> Result<RawObject, ApiError> {
    let invalid = |message: String| {
        ApiError::bad_request("invalid_json", message).with_suggestion(
            "Send one JSON object, e.g. {\"product\": \"Creator plan\", \"amount\": 116, \"customer\": \"buyer@example.com\"}.",
        )
    };
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
        let o = parse_object(br#"{"amount": 19.99, "a": {"b": 1}}"#).expect("object");
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
                parse_object(bad).is_err(),
                "{:?}",
                String::from_utf8_lossy(bad)
            );
        }
    }
}
