//! What `send` posts to a web API that is not necessarily ours: method, URL and body templates,
//! extra headers, and the `--sent` file of answers.

use crate::error::UsageError;
use crate::sync::lock;
use anyhow::{Context, Result};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use reqwest::Method;
use std::io::Write;
use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// The request body (`--body`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Body {
    /// `{"event_id":…,"account_id":…}` (plus `duration_us` when the events have one).
    Json,
    /// `event_id=…&account_id=…` as `application/x-www-form-urlencoded`.
    Form,
    /// Any text with `{account_id}`, `{event_id}` and `{duration_us}` replaced.
    Template(String),
}

impl std::str::FromStr for Body {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "json" => Ok(Body::Json),
            "form" => Ok(Body::Form),
            t if t.contains("{event_id}") => Ok(Body::Template(t.to_string())),
            t => Err(format!(
                "'{t}' is not json, form, or a template naming {{event_id}} (e.g. \
                 '{{\"id\":{{event_id}},\"user\":{{account_id}}}}')"
            )),
        }
    }
}

/// One `--header 'Name: value'`.
#[derive(Clone, Debug)]
pub struct Header(pub HeaderName, pub HeaderValue);

impl Header {
    /// `Authorization: Bearer <token>`, marked sensitive so that it is never shown.
    pub(crate) fn authorization(token: &crate::token::Token) -> Result<Header, UsageError> {
        let mut value = HeaderValue::from_str(&token.header_value())
            .map_err(|e| UsageError(format!("the token cannot be sent as a header: {e}")))?;
        value.set_sensitive(true);
        Ok(Header(reqwest::header::AUTHORIZATION, value))
    }
}

impl std::str::FromStr for Header {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (k, v) = s
            .split_once(':')
            .ok_or_else(|| format!("header '{s}' is not 'Name: value'"))?;
        let name = HeaderName::from_bytes(k.trim().as_bytes())
            .map_err(|_| format!("'{}' is not a valid header name", k.trim()))?;
        let value = HeaderValue::from_str(v.trim())
            .map_err(|_| format!("the value of header '{}' is not valid", k.trim()))?;
        Ok(Header(name, value))
    }
}

/// How each event becomes a request.
#[derive(Clone, Debug)]
pub struct RequestSpec {
    pub method: Method,
    /// The URL; `{account_id}` and `{event_id}` in it are replaced too.
    pub url: String,
    pub body: Body,
    pub headers: HeaderMap,
}

impl RequestSpec {
    /// Our own API's request: JSON `POST` to `url`.
    pub fn json_post(url: &str) -> Self {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        RequestSpec {
            method: Method::POST,
            url: url.to_string(),
            body: Body::Json,
            headers,
        }
    }

    /// Validates the combination before anything is sent.
    pub fn new(method: &str, url: &str, body: Body, headers: Vec<Header>) -> Result<Self> {
        let method = Method::from_bytes(method.to_ascii_uppercase().as_bytes())
            .map_err(|_| UsageError(format!("'{method}' is not an HTTP method")))?;
        let probe = fill(url, 1, 1, None);
        crate::http_url::parse_web(&probe).map_err(|e| {
            let shown = crate::url_authority::redact(url);
            UsageError(format!("--url '{shown}': {e}"))
        })?;
        let mut map = HeaderMap::new();
        for Header(k, v) in headers {
            map.append(k, v);
        }
        if !map.contains_key(CONTENT_TYPE) {
            let kind = match &body {
                Body::Json => "application/json",
                Body::Form => "application/x-www-form-urlencoded",
                Body::Template(t) if t.trim_start().starts_with(['{', '[']) => "application/json",
                Body::Template(t) if t.contains('=') && !t.contains(' ') => {
                    "application/x-www-form-urlencoded"
                }
                Body::Template(_) => "text/plain; charset=utf-8",
            };
            map.insert(CONTENT_TYPE, HeaderValue::from_static(kind));
        }
        Ok(RequestSpec {
            method,
            url: url.to_string(),
            body,
            headers: map,
        })
    }

    /// The URL and body of one event.
    pub fn render(&self, event: u64, account: u64, duration: Option<u64>) -> (String, String) {
        let url = if self.url.contains('{') {
            fill(&self.url, event, account, duration)
        } else {
            self.url.clone()
        };
        let body = match (&self.body, duration) {
            (Body::Json, Some(d)) => {
                format!(r#"{{"event_id":{event},"account_id":{account},"duration_us":{d}}}"#)
            }
            (Body::Json, None) => format!(r#"{{"event_id":{event},"account_id":{account}}}"#),
            (Body::Form, Some(d)) => {
                format!("event_id={event}&account_id={account}&duration_us={d}")
            }
            (Body::Form, None) => format!("event_id={event}&account_id={account}"),
            (Body::Template(t), d) => fill(t, event, account, d),
        };
        (url, body)
    }
}

fn fill(template: &str, event: u64, account: u64, duration: Option<u64>) -> String {
    let d = duration.map_or(String::new(), |d| d.to_string());
    template
        .replace("{event_id}", &event.to_string())
        .replace("{account_id}", &account.to_string())
        .replace("{duration_us}", &d)
}

/// The `--sent` file: one row per event as its final answer arrives, flushed at once so it
/// holds every answer even if `send` is killed.
pub struct SentLog {
    file: Mutex<std::io::BufWriter<std::fs::File>>,
}

/// One answered event.
pub struct SentRow {
    pub event: u64,
    pub account: u64,
    pub sent_unix_us: u64,
    pub answered_unix_us: u64,
    pub status: u16,
}

impl SentLog {
    /// Creates (or truncates) the file and writes its header.
    pub fn create(path: &Path) -> Result<Self> {
        let file = std::fs::File::create(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        let mut w = std::io::BufWriter::new(file);
        writeln!(w, "{}", crate::judge::sent::HEADER)?;
        w.flush()?;
        Ok(SentLog {
            file: Mutex::new(w),
        })
    }

    pub fn append(&self, r: &SentRow) -> Result<()> {
        let mut w = lock(&self.file);
        writeln!(
            w,
            "{},{},{},{},{}",
            r.event, r.account, r.sent_unix_us, r.answered_unix_us, r.status
        )?;
        w.flush().context("cannot write the --sent file")
    }
}

/// Microseconds since the unix epoch, for files other tools compare with their own logs.
pub(crate) fn unix_us() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_and_urls_are_filled_in() {
        let t: Body = r#"{"user":{account_id},"id":"{event_id}"}"#.parse().unwrap();
        let spec = RequestSpec::new("put", "http://h/a/{account_id}", t, vec![]).unwrap();
        assert_eq!(spec.method, Method::PUT);
        assert_eq!(
            spec.render(5, 7, None),
            (
                "http://h/a/7".to_string(),
                r#"{"user":7,"id":"5"}"#.to_string()
            )
        );
        assert_eq!(spec.headers[CONTENT_TYPE], "application/json");
        let form = RequestSpec::new("POST", "http://h/", Body::Form, vec![]).unwrap();
        assert_eq!(
            form.render(1, 2, Some(3)).1,
            "event_id=1&account_id=2&duration_us=3"
        );
    }

    #[test]
    fn headers_and_bad_values_are_checked() {
        let h: Header = "X-Token: abc ".parse().unwrap();
        assert_eq!((h.0.as_str(), h.1.to_str().unwrap()), ("x-token", "abc"));
        assert!("no colon".parse::<Header>().is_err());
        assert!("body text".parse::<Body>().is_err());
        let own: Header = "Content-Type: text/csv".parse().unwrap();
        let s = RequestSpec::new("POST", "http://h/", Body::Json, vec![own]).unwrap();
        assert_eq!(s.headers[CONTENT_TYPE], "text/csv");
        assert!(RequestSpec::new("P O", "http://h/", Body::Json, vec![]).is_err());
        assert!(RequestSpec::new("POST", "not a url", Body::Json, vec![]).is_err());
    }

    /// `--url` goes through the same `http_url::parse` as `--handler http:`, with the
    /// placeholders filled in first, and its error names the flag and the URL as given.
    #[test]
    fn url_templates_are_checked_with_their_placeholders_filled() {
        let new = |url: &str| RequestSpec::new("POST", url, Body::Json, vec![]);
        for good in [
            "http://h/users/{account_id}/events/{event_id}",
            "http://h:8080/e?account={account_id}&d={duration_us}",
            "http://[::1]:80/api",
            "http://127.0.0.1/api",
            "https://h/api",
            "https://h:8443/api",
        ] {
            assert!(new(good).is_ok(), "{good}");
        }
        let e = new("http://127.0.0.1:/x/{account_id}").unwrap_err();
        assert!(e.is::<UsageError>());
        let msg = e.to_string();
        assert!(
            msg.starts_with("--url 'http://127.0.0.1:/x/{account_id}': "),
            "{msg}"
        );
        assert!(msg.contains("port after ':' is empty"), "{msg}");
        for bad in [
            "http://h:99999/",
            "http://h:x/",
            "http:///{account_id}",
            "https://h:/",
            "ftp://h/",
        ] {
            assert!(new(bad).is_err(), "{bad}");
        }
    }
}
