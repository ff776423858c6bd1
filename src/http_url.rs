//! The `http://` address of a command-line flag (`send --url`, `--handler http:URL`): the `url`
//! crate's parse, plus the authority rules of [`crate::url_authority`] that it leaves lenient.
//! `send --url` may also be `https://` ([`parse_web`]).

use crate::url_authority::{self, AuthorityError};

/// How the `url` crate treats http: port 80 by default, a backslash ends the authority.
const HTTP: url_authority::Scheme = url_authority::Scheme {
    default_port: 80,
    backslash_ends_authority: true,
};

/// How the `url` crate treats https: port 443 by default, a backslash ends the authority.
const HTTPS: url_authority::Scheme = url_authority::Scheme {
    default_port: 443,
    backslash_ends_authority: true,
};

/// Why a flag's URL was refused; the message is written to follow `--flag 'URL': `.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum UrlError {
    #[error("not a URL ({0}); write it as http://host[:port]/path")]
    Syntax(url::ParseError),
    #[error("scheme '{0}' is not http; write it as http://host[:port]/path")]
    Scheme(String),
    #[error(
        "https is not supported here (only `send --url` speaks it); put a plain-http endpoint \
         or a local proxy in front"
    )]
    Https,
    #[error("{0}; write it as http://host[:port]/path")]
    Authority(AuthorityError),
}

/// Parses an http or https URL, refusing what [`crate::url_authority`] describes.
pub(crate) fn parse_web(raw: &str) -> Result<url::Url, UrlError> {
    let text = raw.trim_matches(|c: char| c <= ' ');
    match text.split_once(':') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("https") => {
            url_authority::check(rest, HTTPS).map_err(UrlError::Authority)?;
            url::Url::parse(text).map_err(UrlError::Syntax)
        }
        _ => parse(raw),
    }
}

/// Parses a plain-http URL, refusing what [`crate::url_authority`] describes.
pub(crate) fn parse(raw: &str) -> Result<url::Url, UrlError> {
    // The same leniency the `url` crate has for pasted text, so that the raw checks below
    // look at the characters it will parse.
    let text = raw.trim_matches(|c: char| c <= ' ');
    match text.split_once(':') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("http") => {
            url_authority::check(rest, HTTP).map_err(UrlError::Authority)?;
        }
        Some((scheme, _)) if scheme.eq_ignore_ascii_case("https") => return Err(UrlError::Https),
        _ => {
            let url = url::Url::parse(text).map_err(UrlError::Syntax)?;
            return Err(UrlError::Scheme(url.scheme().to_string()));
        }
    }
    url::Url::parse(text).map_err(UrlError::Syntax)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(raw: &str) -> UrlError {
        parse(raw).expect_err(raw)
    }

    #[test]
    fn an_empty_port_is_refused_not_taken_for_80() {
        for raw in [
            "http://127.0.0.1:/x",
            "http://h:",
            "http://h:?q=1",
            "http://h:#f",
            "http://u:p@h:/x",
            "http://[::1]:/x",
        ] {
            assert_eq!(
                refused(raw),
                UrlError::Authority(AuthorityError::EmptyPort(80)),
                "{raw}"
            );
        }
        let e = refused("http://h:/").to_string();
        assert!(e.contains("empty") && e.contains("port 80"), "{e}");
    }

    #[test]
    fn ports_must_be_digits_in_range() {
        for (raw, port) in [
            ("http://h:8o8o/", "8o8o"),
            ("http://h:-1/", "-1"),
            ("http://h:+80/", "+80"),
            ("http://h: 80/", " 80"),
            ("http://[::1]:x/", "x"),
        ] {
            assert_eq!(
                refused(raw),
                UrlError::Authority(AuthorityError::PortNotNumber(port.into())),
                "{raw}"
            );
        }
        assert_eq!(
            refused("http://h:80:81/"),
            UrlError::Authority(AuthorityError::BareIpv6)
        );
        for port in ["0", "00", "65536", "99999", "184467440737095516160"] {
            let raw = format!("http://h:{port}/");
            assert_eq!(
                refused(&raw),
                UrlError::Authority(AuthorityError::PortOutOfRange(port.into())),
                "{raw}"
            );
        }
        // The edges that are ports, including leading zeros as the `url` crate reads them.
        assert_eq!(parse("http://h:1/").unwrap().port(), Some(1));
        assert_eq!(parse("http://h:65535/").unwrap().port(), Some(65535));
        assert_eq!(parse("http://h:08080/").unwrap().port(), Some(8080));
    }

    #[test]
    fn the_host_must_be_written_after_two_slashes() {
        for raw in [
            "http://:80/x",
            "http:///x",
            "http://u:p@/x",
            "http://",
            "http://?q",
        ] {
            assert_eq!(
                refused(raw),
                UrlError::Authority(AuthorityError::EmptyHost),
                "{raw}"
            );
        }
        for raw in ["http:h/x", "http:/h/x", "http:\\\\h\\x"] {
            assert_eq!(
                refused(raw),
                UrlError::Authority(AuthorityError::NoAuthority),
                "{raw}"
            );
        }
        assert_eq!(
            refused("http://::1:80/"),
            UrlError::Authority(AuthorityError::BareIpv6)
        );
        assert!(matches!(refused("http://[::1/"), UrlError::Syntax(_)));
        assert!(matches!(refused("http://[::1]80/"), UrlError::Syntax(_)));
        assert!(matches!(refused("http://a b/"), UrlError::Syntax(_)));
    }

    #[test]
    fn other_schemes_and_non_urls_say_what_they_are() {
        assert_eq!(refused("https://h/"), UrlError::Https);
        assert_eq!(refused("HTTPS://h/"), UrlError::Https);
        assert_eq!(refused("ftp://h/"), UrlError::Scheme("ftp".into()));
        // A forgotten scheme reads as scheme `localhost`; the message shows the way out.
        let e = refused("localhost:8080/api");
        assert_eq!(e, UrlError::Scheme("localhost".into()));
        assert!(e.to_string().contains("http://host[:port]"), "{e}");
        assert!(matches!(refused("not a url"), UrlError::Syntax(_)));
        assert!(matches!(refused(""), UrlError::Syntax(_)));
    }

    #[test]
    fn good_urls_parse_with_their_parts() {
        let u = parse("http://127.0.0.1:3910/api").unwrap();
        assert_eq!(
            (u.host_str(), u.port(), u.path()),
            (Some("127.0.0.1"), Some(3910), "/api")
        );
        // Default port, written or not.
        let u = parse("http://localhost").unwrap();
        assert_eq!((u.port(), u.port_or_known_default()), (None, Some(80)));
        assert_eq!(
            parse("http://h:80/").unwrap().port_or_known_default(),
            Some(80)
        );
        let u = parse("http://[::1]:80/x").unwrap();
        assert_eq!(
            (u.host_str(), u.port_or_known_default()),
            (Some("[::1]"), Some(80))
        );
        let u = parse("http://[::1]/x").unwrap();
        assert_eq!(
            u.host(),
            Some(url::Host::Ipv6(std::net::Ipv6Addr::LOCALHOST))
        );
        let u = parse("http://ev:p%40ss@h:8080/a?b=c:d#e:f").unwrap();
        assert_eq!(
            (u.username(), u.password(), u.port()),
            ("ev", Some("p%40ss"), Some(8080))
        );
        // A colon after the authority belongs to the path, query or fragment.
        assert_eq!(parse("http://h/a:b").unwrap().path(), "/a:b");
        assert_eq!(parse("HTTP://H:8080/").unwrap().as_str(), "http://h:8080/");
        assert_eq!(parse("  http://h/ \n").unwrap().as_str(), "http://h/");
        // `send` templates: the placeholders are plain path and query text.
        let u = parse("http://app/users/{account_id}/events?id={event_id}").unwrap();
        assert_eq!(u.host_str(), Some("app"));
    }
}
