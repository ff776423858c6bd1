//! Turning a `POST /api` body into an event: JSON or form fields, with the status code each
//! kind of bad input earns.
//!
//! 415: the content type is neither JSON nor form fields. 400: the body cannot be parsed at
//! all (broken JSON, broken percent-encoding), a JSON object names a key twice (which of the
//! two a reader takes differs between parsers), or the content type declares a charset other
//! than UTF-8. 422: it parses, but a field is missing, not a whole number, negative or too
//! large.

use super::metrics::{Reason, Refusal};
use crate::types::{AccountId, EventId, Micros};

/// Bodies larger than this are refused with 413 before they are read in full.
pub(crate) const MAX_BODY: usize = 64 * 1024;

/// One event as a request carries it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Incoming {
    pub event: EventId,
    pub account: AccountId,
    pub duration: Option<Micros>,
}

/// The body encodings `POST /api` understands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encoding {
    Json,
    Form,
}

/// Picks the encoding from a `Content-Type` header value; a `charset` parameter must name
/// UTF-8 (or its subset ASCII), the only text this intake reads.
pub(crate) fn encoding(content_type: Option<&str>) -> Result<Encoding, Refusal> {
    let mut parts = content_type.map(|v| v.split(';'));
    let essence = parts
        .as_mut()
        .and_then(Iterator::next)
        .map(|v| v.trim().to_ascii_lowercase());
    for param in parts.into_iter().flatten() {
        let Some((name, value)) = param.split_once('=') else {
            continue;
        };
        if name.trim().eq_ignore_ascii_case("charset") {
            check_charset(value.trim().trim_matches('"'))?;
        }
    }
    match essence.as_deref() {
        Some("application/json") => Ok(Encoding::Json),
        Some("application/x-www-form-urlencoded") => Ok(Encoding::Form),
        other => Err(Refusal::new(
            Reason::UnsupportedMediaType,
            format!(
                "content type {} is not supported; send application/json or \
                 application/x-www-form-urlencoded",
                other.map_or("(none)".to_string(), |v| format!("'{v}'"))
            ),
        )),
    }
}

fn check_charset(charset: &str) -> Result<(), Refusal> {
    const UTF8: [&str; 3] = ["utf-8", "utf8", "us-ascii"];
    if UTF8.iter().any(|c| charset.eq_ignore_ascii_case(c)) {
        return Ok(());
    }
    Err(Refusal::new(
        Reason::BadRequest,
        format!(
            "charset '{charset}' is not supported; the body must be UTF-8 (send charset=utf-8 \
             or no charset)"
        ),
    ))
}

/// Parses a body in the given encoding.
pub(crate) fn event(encoding: Encoding, body: &[u8]) -> Result<Incoming, Refusal> {
    match encoding {
        Encoding::Json => from_json(body),
        Encoding::Form => from_form(body),
    }
}

/// One field's raw value, before it is checked to be a whole number.
enum Raw<'a> {
    Json(&'a serde_json::Value),
    Text(&'a str),
}

fn from_json(body: &[u8]) -> Result<Incoming, Refusal> {
    let parsed: Json = serde_json::from_slice(body).map_err(|e| {
        // Any JSON value is accepted, so a data error can only be a key given twice.
        let what = match e.classify() {
            serde_json::error::Category::Data => "invalid JSON object",
            _ => "malformed JSON",
        };
        Refusal::new(Reason::BadRequest, format!("{what}: {e}"))
    })?;
    let Json::Object(obj) = parsed else {
        return Err(Refusal::new(
            Reason::InvalidValue,
            "expected a JSON object with account_id and event_id",
        ));
    };
    let field = |name| {
        obj.iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| Raw::Json(v))
    };
    build(field("event_id"), field("account_id"), field("duration_us"))
}

/// A JSON body: an object's members in order, each key once, or any other value (refused
/// later as not an object). `serde_json::Value` would keep the last of two equal keys
/// silently, where other readers of the same body keep the first.
enum Json {
    Object(Vec<(String, serde_json::Value)>),
    Other,
}

impl<'de> serde::Deserialize<'de> for Json {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

struct JsonVisitor;

impl<'de> serde::de::Visitor<'de> for JsonVisitor {
    type Value = Json;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Json, A::Error> {
        let mut members: Vec<(String, serde_json::Value)> = Vec::with_capacity(3);
        while let Some(key) = map.next_key::<String>()? {
            if members.iter().any(|(k, _)| *k == key) {
                return Err(serde::de::Error::custom(format!(
                    "key \"{key}\" is given twice"
                )));
            }
            let value = map.next_value()?;
            members.push((key, value));
        }
        Ok(Json::Object(members))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Json, A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        Ok(Json::Other)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Json, E> {
        Ok(Json::Other)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Json, E> {
        Ok(Json::Other)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Json, E> {
        Ok(Json::Other)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Json, E> {
        Ok(Json::Other)
    }

    fn visit_str<E>(self, _: &str) -> Result<Json, E> {
        Ok(Json::Other)
    }

    fn visit_unit<E>(self) -> Result<Json, E> {
        Ok(Json::Other)
    }
}

fn from_form(body: &[u8]) -> Result<Incoming, Refusal> {
    let text = std::str::from_utf8(body)
        .map_err(|_| Refusal::new(Reason::BadRequest, "form body is not valid UTF-8"))?;
    let mut fields: Vec<(String, String)> = Vec::new();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (percent_decode(k)?, percent_decode(v)?);
        if fields.iter().any(|(seen, _)| *seen == k) {
            return Err(Refusal::new(
                Reason::InvalidValue,
                format!("field {k} is given twice"),
            ));
        }
        fields.push((k, v));
    }
    let field = |name: &str| {
        fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| Raw::Text(v))
    };
    build(field("event_id"), field("account_id"), field("duration_us"))
}

fn build(
    event: Option<Raw>,
    account: Option<Raw>,
    duration: Option<Raw>,
) -> Result<Incoming, Refusal> {
    let required = |raw: Option<Raw>, name: &str| {
        let raw =
            raw.ok_or_else(|| Refusal::new(Reason::InvalidValue, format!("missing field {name}")))?;
        whole_number(raw, name)
    };
    let event = EventId(required(event, "event_id")?);
    let account = AccountId(required(account, "account_id")?);
    let duration = match duration {
        Some(raw) => Some(Micros(whole_number(raw, "duration_us")?)),
        None => None,
    };
    Ok(Incoming {
        event,
        account,
        duration,
    })
}

/// Accepts a JSON integer or a string of digits (what form posts and many clients send).
fn whole_number(raw: Raw, name: &str) -> Result<u64, Refusal> {
    let text = match raw {
        Raw::Json(v) if v.is_u64() => return Ok(v.as_u64().unwrap_or_default()),
        Raw::Json(v) if v.is_i64() => return Err(negative(name)),
        Raw::Json(serde_json::Value::String(s)) => s.as_str(),
        // serde_json reads an integer beyond u64 as a float; say what is wrong with it.
        Raw::Json(v)
            if v.as_f64()
                .is_some_and(|f| f.fract() == 0.0 && f > u64::MAX as f64 / 2.0) =>
        {
            return Err(too_large(name))
        }
        Raw::Json(v) => {
            return Err(Refusal::new(
                Reason::InvalidValue,
                format!("{name} must be a whole number ≥ 0, got {v}"),
            ))
        }
        Raw::Text(s) => s,
    };
    if let Some(rest) = text.strip_prefix('-') {
        if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) {
            return Err(negative(name));
        }
    }
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Refusal::new(
            Reason::InvalidValue,
            format!("{name} must be a whole number ≥ 0, got '{text}'"),
        ));
    }
    text.parse().map_err(|_| too_large(name))
}

fn too_large(name: &str) -> Refusal {
    Refusal::new(
        Reason::InvalidValue,
        format!("{name} is too large (at most {})", u64::MAX),
    )
}

fn negative(name: &str) -> Refusal {
    Refusal::new(Reason::InvalidValue, format!("{name} must not be negative"))
}

fn percent_decode(s: &str) -> Result<String, Refusal> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = b
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok());
                let byte = hex
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| {
                        Refusal::new(Reason::BadRequest, "broken percent-encoding in form body")
                    })?;
                out.push(byte);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out)
        .map_err(|_| Refusal::new(Reason::BadRequest, "form field is not valid UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(enc: Encoding, body: &str) -> Reason {
        event(enc, body.as_bytes()).unwrap_err().reason
    }

    #[test]
    fn json_and_form_give_the_same_event() {
        let j = event(Encoding::Json, br#"{"account_id": 7, "event_id": "12"}"#).unwrap();
        let f = event(Encoding::Form, b"event_id=12&account_id=%37").unwrap();
        assert_eq!(j, f);
        assert_eq!(
            (j.event, j.account, j.duration),
            (EventId(12), AccountId(7), None)
        );
    }

    #[test]
    fn bad_bodies_get_400_or_422() {
        use Encoding::*;
        assert_eq!(reason(Json, "{\"account_id\": 1,"), Reason::BadRequest);
        assert_eq!(reason(Json, "[1, 2]"), Reason::InvalidValue);
        assert_eq!(reason(Json, r#"{"account_id": 1}"#), Reason::InvalidValue);
        assert_eq!(
            reason(Json, r#"{"account_id": -1, "event_id": 1}"#),
            Reason::InvalidValue
        );
        assert_eq!(
            reason(Json, r#"{"account_id": 1.5, "event_id": 1}"#),
            Reason::InvalidValue
        );
        assert_eq!(
            reason(Json, r#"{"account_id": "x", "event_id": 1}"#),
            Reason::InvalidValue
        );
        assert_eq!(
            reason(Form, "account_id=-4&event_id=1"),
            Reason::InvalidValue
        );
        assert_eq!(
            reason(Form, "account_id=1&event_id=1&event_id=2"),
            Reason::InvalidValue
        );
        assert_eq!(
            reason(Form, "account_id=%zz&event_id=1"),
            Reason::BadRequest
        );
        assert_eq!(
            reason(Form, "account_id=1&event_id=99999999999999999999"),
            Reason::InvalidValue
        );
    }

    #[test]
    fn an_id_beyond_u64_is_called_too_large_in_either_encoding() {
        let json = br#"{"account_id": 18446744073709551616, "event_id": 1}"#;
        let form = b"account_id=18446744073709551616&event_id=1";
        for (enc, body) in [(Encoding::Json, &json[..]), (Encoding::Form, &form[..])] {
            let err = event(enc, body).unwrap_err();
            assert_eq!(err.reason, Reason::InvalidValue);
            assert!(
                err.message.contains("account_id is too large"),
                "{}",
                err.message
            );
        }
    }

    #[test]
    fn content_types() {
        assert_eq!(
            encoding(Some("application/json; charset=utf-8")),
            Ok(Encoding::Json)
        );
        assert_eq!(
            encoding(Some("Application/X-WWW-Form-Urlencoded")),
            Ok(Encoding::Form)
        );
        assert_eq!(
            encoding(Some("text/plain")).unwrap_err().reason,
            Reason::UnsupportedMediaType
        );
        assert_eq!(
            encoding(None).unwrap_err().reason,
            Reason::UnsupportedMediaType
        );
        assert_eq!(
            encoding(Some("application/json; charset=\"UTF-8\"")),
            Ok(Encoding::Json)
        );
        let latin1 = encoding(Some(
            "application/x-www-form-urlencoded; charset=ISO-8859-1",
        ));
        let latin1 = latin1.unwrap_err();
        assert_eq!(latin1.reason, Reason::BadRequest);
        assert!(
            latin1.message.contains("charset 'ISO-8859-1'"),
            "{}",
            latin1.message
        );
    }

    #[test]
    fn a_json_key_given_twice_is_refused() {
        let body = br#"{"event_id": 1, "account_id": 2, "event_id": 3}"#;
        let err = event(Encoding::Json, body).unwrap_err();
        assert_eq!(err.reason, Reason::BadRequest);
        assert!(
            err.message.contains("\"event_id\" is given twice"),
            "{}",
            err.message
        );
        // Nested objects are values like any other; only the event's own keys count.
        let nested = br#"{"event_id": 1, "account_id": 2, "x": {"a": 1}, "y": [1, {}]}"#;
        assert!(event(Encoding::Json, nested).is_ok());
        assert_eq!(reason(Encoding::Json, "null"), Reason::InvalidValue);
        assert_eq!(reason(Encoding::Json, "\"x\""), Reason::InvalidValue);
    }
}
