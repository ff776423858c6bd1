//! `http:URL`: one POST per event through a pooled keep-alive client.

use crate::engine::handler::Job;
use std::fmt;
use std::str::FromStr;

/// A validated `http://` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Target(reqwest::Url);

impl FromStr for Target {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let url = reqwest::Url::parse(s).map_err(|e| format!("http:{s}: not a URL ({e})"))?;
        match url.scheme() {
            "http" if url.host().is_some() => Ok(Target(url)),
            "http" => Err(format!("http:{s}: the URL has no host")),
            // The client is built without TLS (no TLS stack in this binary's dependencies).
            "https" => Err(format!(
                "http:{s}: https is not supported; put a plain-http endpoint or a local proxy in front"
            )),
            other => Err(format!("http:{s}: scheme {other} is not http")),
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

/// Posts events to one URL; connections are kept alive and reused across events.
pub struct HttpHandler {
    client: reqwest::Client,
    target: Target,
}

impl HttpHandler {
    pub fn new(target: Target) -> anyhow::Result<Self> {
        use anyhow::Context;
        let client = reqwest::Client::builder()
            // Every worker may hold a connection; the default idle limit is unbounded too,
            // but say it: reuse is the point of the pool.
            .pool_max_idle_per_host(usize::MAX)
            .tcp_nodelay(true)
            // One small POST per event: HTTP/1.1 keep-alive, and no per-request proxy lookup
            // (an HTTP_PROXY in the environment would otherwise route local calls away).
            .http1_only()
            .no_proxy()
            .build()
            .context("cannot build the HTTP client")?;
        Ok(HttpHandler { client, target })
    }

    pub async fn call(&self, job: &Job) -> Result<(), String> {
        let body = format!(
            "{{\"account_id\":{},\"event_id\":{}}}",
            job.account.0, job.event.0
        );
        let resp = self
            .client
            .post(self.target.0.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| format!("POST {}: {}", self.target, error_chain(&e)))?;
        let status = resp.status();
        // Read the body to its end, so the connection goes back to the pool.
        let _ = resp.bytes().await;
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("HTTP {status}"))
        }
    }
}

/// reqwest's top-level message alone ("error sending request") hides the cause.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_http_urls_with_a_host_pass() {
        assert!("http://127.0.0.1:8080/x".parse::<Target>().is_ok());
        assert!("https://example.com"
            .parse::<Target>()
            .unwrap_err()
            .contains("https"));
        assert!("ftp://example.com".parse::<Target>().is_err());
        assert!("not a url".parse::<Target>().is_err());
    }
}
