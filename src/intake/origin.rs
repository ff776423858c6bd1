//! Which web pages may post: a browser names the page that sent a request (`Origin`,
//! `Sec-Fetch-Site`); a request from another site's page is refused unless `--allow-origin`
//! names that site. Clients that are not browsers send neither header and are not judged.

use axum::http::{header, HeaderMap};

/// The origins allowed besides the server's own, normalised (see [`normalise`]), and the
/// scheme of the server's own (`http`, or `https` behind `--tls-cert`).
#[derive(Clone, Debug, Default)]
pub struct Origins(Vec<String>, Option<&'static str>);

impl Origins {
    /// The `--allow-origin` values, each already checked by [`parse`].
    pub fn new(allowed: impl IntoIterator<Item = String>) -> Self {
        Origins(allowed.into_iter().map(|o| normalise(&o)).collect(), None)
    }

    /// The server's own origin starts with `scheme` (`http` unless set).
    pub(crate) fn scheme(mut self, scheme: &'static str) -> Self {
        self.1 = Some(scheme);
        self
    }

    /// Why a request must be refused, or `None` when it may go on: its `Origin` is this
    /// server's (as the client addressed it: its `Host`) or an allowed one; without an
    /// `Origin`, it is not marked `Sec-Fetch-Site: cross-site`.
    pub(crate) fn judge(&self, headers: &HeaderMap) -> Option<String> {
        let text = |name: &str| headers.get(name).map(|v| v.to_str().unwrap_or("?"));
        if let Some(origin) = text(header::ORIGIN.as_str()) {
            let seen = normalise(origin);
            let scheme = self.1.unwrap_or("http");
            let own =
                text(header::HOST.as_str()).map(|host| normalise(&format!("{scheme}://{host}")));
            if own.as_deref() == Some(seen.as_str()) || self.0.contains(&seen) {
                return None;
            }
            return Some(format!(
                "a request from the web page of another origin ({origin}) is refused; \
                 serve --allow-origin {origin} allows it"
            ));
        }
        if text("sec-fetch-site").is_some_and(|s| s.eq_ignore_ascii_case("cross-site")) {
            return Some(
                "a cross-site request (Sec-Fetch-Site: cross-site) without an Origin is refused"
                    .into(),
            );
        }
        None
    }
}

/// Checks an `--allow-origin` value: `scheme://host[:port]`, nothing after it.
pub(crate) fn parse(value: &str) -> Result<String, String> {
    let rest = value
        .strip_prefix("http://")
        .or_else(|| value.strip_prefix("https://"))
        .ok_or_else(|| format!("{value:?} is not an origin: write scheme://host[:port]"))?;
    let host = rest.strip_suffix('/').unwrap_or(rest);
    if host.is_empty() || host.contains(['/', '?', '#', '@', ' ']) {
        return Err(format!(
            "{value:?} is not an origin: write scheme://host[:port], without a path"
        ));
    }
    Ok(value.to_string())
}

/// Lower case, no trailing `/`, no default port: the form two equal origins share.
fn normalise(origin: &str) -> String {
    let o = origin.trim().trim_end_matches('/').to_ascii_lowercase();
    if let Some(host) = o.strip_prefix("http://") {
        return format!("http://{}", host.strip_suffix(":80").unwrap_or(host));
    }
    if let Some(host) = o.strip_prefix("https://") {
        return format!("https://{}", host.strip_suffix(":443").unwrap_or(host));
    }
    o
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn own_allowed_and_foreign_origins() {
        let none = Origins::default();
        let allowed = Origins::new(["HTTP://Evil.example/".to_string()]);
        let own = headers(&[
            ("host", "127.0.0.1:3910"),
            ("origin", "http://127.0.0.1:3910"),
        ]);
        let evil = headers(&[
            ("host", "127.0.0.1:3910"),
            ("origin", "http://evil.example"),
        ]);
        let null = headers(&[("host", "x"), ("origin", "null")]);
        let cross = headers(&[("host", "x"), ("sec-fetch-site", "cross-site")]);
        let same = headers(&[("host", "x"), ("sec-fetch-site", "same-origin")]);
        let default_port = headers(&[("host", "a.example"), ("origin", "http://a.example:80")]);
        assert_eq!(none.judge(&own), None);
        assert_eq!(none.judge(&default_port), None);
        assert_eq!(none.judge(&same), None);
        assert_eq!(none.judge(&HeaderMap::new()), None);
        assert!(none
            .judge(&evil)
            .unwrap()
            .contains("--allow-origin http://evil.example"));
        assert!(none.judge(&null).is_some());
        assert!(none.judge(&cross).is_some());
        assert_eq!(allowed.judge(&evil), None);
        assert!(allowed.judge(&cross).is_some());
    }

    #[test]
    fn an_allowed_origin_is_scheme_host_and_port() {
        assert!(parse("http://a.example:8080").is_ok());
        assert!(parse("https://a.example/").is_ok());
        assert!(parse("a.example").is_err());
        assert!(parse("http://a.example/page").is_err());
        assert!(parse("http://").is_err());
    }
}
