//! `http:URL`: one POST per event over a pool of keep-alive HTTP/1.1 connections.
//!
//! The client is hyper's connection-level API, not a general-purpose client: every call goes to
//! the same URL, so the request line, `Host`, `Content-Type` and any credentials are prepared
//! once, and only the small JSON body is written per event. A call takes an idle connection (or
//! opens one), drives that connection inside its own task (no hand-off to a connection task per
//! request), reads the status and the body to its end, and puts the connection back. A call that
//! is abandoned (its timeout) drops its connection, which may hold half an exchange.

mod conn;

use crate::engine::work::Job;
use crate::sync::lock;
use conn::{Conn, Exchange};
use hyper::header::HeaderValue;
use hyper::{StatusCode, Uri};
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};

/// A validated `http://` URL, with what every request to it needs prepared.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target {
    url: url::Url,
    parts: Arc<Parts>,
}

/// The pieces of a [`Target`] each connection and each request use.
#[derive(Debug, PartialEq, Eq)]
struct Parts {
    /// Where to connect: a host name, or an IP address without brackets.
    host: String,
    port: u16,
    /// The request target in origin form: `/path?query`.
    path: Uri,
    /// `host[:port]` as the URL wrote it.
    authority: HeaderValue,
    /// `Basic …` from `user:password@` in the URL.
    credentials: Option<HeaderValue>,
}

impl FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Messages show the URL without its password, like everything else that names it.
        let shown = crate::url_authority::redact(s);
        let url = crate::http_url::parse(s).map_err(|e| format!("http:{shown}: {e}"))?;
        let host = match url.host() {
            Some(url::Host::Domain(d)) => d.to_string(),
            Some(url::Host::Ipv4(a)) => a.to_string(),
            Some(url::Host::Ipv6(a)) => a.to_string(),
            // `http_url::parse` refuses an http URL without a host.
            None => return Err(format!("http:{shown}: the URL has no host")),
        };
        let port = url.port_or_known_default().unwrap_or(80);
        let bad = |what: &str| format!("http:{shown}: cannot use {what} in a request");
        let path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        let path = Uri::try_from(path).map_err(|_| bad("the path"))?;
        let authority = match (url.host_str(), url.port()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            (None, _) => unreachable!("the host was checked above"),
        };
        let authority = HeaderValue::try_from(authority).map_err(|_| bad("the host"))?;
        let credentials = credentials(&url).map_err(|_| bad("the credentials"))?;
        let parts = Arc::new(Parts {
            host,
            port,
            path,
            authority,
            credentials,
        });
        Ok(Target { url, parts })
    }
}

/// The `Authorization` header for `http://user:password@host/`, as browsers and curl send it.
fn credentials(url: &url::Url) -> Result<Option<HeaderValue>, hyper::header::InvalidHeaderValue> {
    use base64::Engine;
    if url.username().is_empty() && url.password().is_none() {
        return Ok(None);
    }
    let decode = |s: &str| percent_encoding::percent_decode_str(s).collect::<Vec<u8>>();
    let mut pair = decode(url.username());
    pair.push(b':');
    pair.extend(decode(url.password().unwrap_or("")));
    let encoded = base64::engine::general_purpose::STANDARD.encode(pair);
    let mut value = HeaderValue::try_from(format!("Basic {encoded}"))?;
    value.set_sensitive(true);
    Ok(Some(value))
}

/// The URL less its password (sent as `Authorization`, never shown).
impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::url_authority::redact(self.url.as_str()))
    }
}

/// Posts events to one URL; connections are kept alive and reused across events.
pub struct HttpHandler {
    target: Target,
    /// Connections between calls, most recently used last: a call takes the warmest one.
    idle: Mutex<Vec<Conn>>,
}

impl HttpHandler {
    pub fn target(&self) -> &Target {
        &self.target
    }

    pub fn new(target: Target) -> Self {
        HttpHandler {
            target,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// One POST of `job`; `Err` says why it failed (cannot connect, an I/O error, a non-2xx).
    pub async fn call(&self, job: &Job) -> Result<(), String> {
        let status = self
            .post(job)
            .await
            .map_err(|e| format!("POST {}: {e}", self.target))?;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {status}"))
        }
    }

    async fn post(&self, job: &Job) -> Result<StatusCode, String> {
        let mut request = conn::request(&self.target.parts, job);
        loop {
            let (mut c, reused) = match self.take_idle() {
                Some(c) => (c, true),
                None => (Conn::open(&self.target.parts).await?, false),
            };
            match c.exchange(request).await {
                Exchange::Answered(status) => {
                    if c.reusable() {
                        lock(&self.idle).push(c);
                    }
                    return Ok(status);
                }
                // An idle connection the server had closed: the request was never written, so
                // sending it on another connection cannot repeat it.
                Exchange::NotSent(r, _) if reused => request = *r,
                Exchange::NotSent(_, e) | Exchange::Failed(e) => return Err(e),
            }
        }
    }

    fn take_idle(&self) -> Option<Conn> {
        lock(&self.idle).pop()
    }

    /// Connections kept for reuse right now.
    #[cfg(test)]
    fn idle_count(&self) -> usize {
        lock(&self.idle).len()
    }
}

#[cfg(test)]
mod tests;
