//! The authority (`[user[:password]@]host[:port]`) of a URL given on the command line, checked
//! as written: the rules that the `url` crate (and lapin, which parses with it) leave lenient.
//!
//! The `url` crate follows the WHATWG URL standard, built to make sense of whatever a browser's
//! address bar receives: `http://h:/x` is port 80, `amqp://h:/%2f` port 5672, and a host lost
//! to missing or extra slashes is found elsewhere or (lapin) replaced by `localhost`. On a
//! command line such a URL is far more likely a typo or a script variable that expanded to
//! nothing (`amqp://$HOST:$PORT/`) than intent, and taking it would send a whole workload
//! somewhere the user did not mean. `http_url` (for `http://` flags) and `broker::amqp` (for
//! `--broker`) both refuse it here, with the same words.

/// `text` with the password of every URL in it replaced by `***` (`scheme://user:***@host/…`),
/// and a userinfo without a password (`scheme://token@host`, often a token itself) by `***`.
/// Every URL the program shows (reports, dashboards, logs, errors) goes through this, so a
/// credential given on the command line is used but never printed. A password may hold an
/// unescaped '@': the host comes after the last one before the path.
pub(crate) fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (before, after) = rest.split_at(at + 3);
        out.push_str(before);
        // The authority ends at the path, query or fragment, or where the text stops being a
        // URL (a space: the URL is part of a command line or a message). Not at a backslash or
        // a quote, which an amqp password may hold.
        let end = after
            .find(|c: char| matches!(c, '/' | '?' | '#') || c.is_whitespace())
            .unwrap_or(after.len());
        let authority = &after[..end];
        match authority.rsplit_once('@') {
            Some((userinfo, host)) => {
                if let Some((user, _)) = userinfo.split_once(':') {
                    out.push_str(user);
                    out.push_str(":***@");
                } else {
                    out.push_str("***@");
                }
                out.push_str(host);
            }
            None => out.push_str(authority),
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// What differs between URL schemes for the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scheme {
    /// The port a URL without one gets, named when a `:` is left without a port.
    pub default_port: u16,
    /// The `url` crate ends the authority at a backslash for its "special" schemes (http), as
    /// browsers do; for others (amqp) a backslash belongs to the userinfo, e.g. a password.
    pub backslash_ends_authority: bool,
}

/// Why an authority was refused; each caller adds how its kind of URL is written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AuthorityError {
    #[error("no '//' before the host")]
    NoAuthority,
    #[error("the host is empty")]
    EmptyHost,
    #[error("an IPv6 address needs brackets, e.g. [::1]")]
    BareIpv6,
    #[error("the port after ':' is empty; give one, or drop the ':' for port {0}")]
    EmptyPort(u16),
    #[error("port '{0}' is not a number")]
    PortNotNumber(String),
    #[error("port {0} is out of range (1-65535)")]
    PortOutOfRange(String),
}

/// The host of an authority that passed [`check`], as written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Host<'a> {
    /// `[…]`, brackets included.
    Ipv6(&'a str),
    /// A name or an IPv4 address, possibly percent-encoded.
    Other(&'a str),
}

/// Checks the authority of `//authority/path…`, the text after `scheme:`, and returns its host.
/// Text the `url` crate would refuse anyway (a bracket left open, a space in a host) may pass:
/// its own parse reports that, with its own words.
pub(crate) fn check(after_scheme: &str, scheme: Scheme) -> Result<Host<'_>, AuthorityError> {
    let rest = after_scheme
        .strip_prefix("//")
        .ok_or(AuthorityError::NoAuthority)?;
    let end = if scheme.backslash_ends_authority {
        rest.find(['/', '?', '#', '\\'])
    } else {
        rest.find(['/', '?', '#'])
    };
    let authority = &rest[..end.unwrap_or(rest.len())];
    // A password may hold an unescaped '@'; the host comes after the last one.
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, hp)| hp);
    let (host, port) = if host_port.starts_with('[') {
        match host_port.find(']') {
            Some(close) => match &host_port[close + 1..] {
                "" => (Host::Ipv6(&host_port[..=close]), None),
                after => (Host::Ipv6(&host_port[..=close]), after.strip_prefix(':')),
            },
            None => return Ok(Host::Ipv6(host_port)),
        }
    } else {
        match host_port.split_once(':') {
            Some((_, port)) if port.contains(':') => return Err(AuthorityError::BareIpv6),
            Some((host, port)) => (Host::Other(host), Some(port)),
            None => (Host::Other(host_port), None),
        }
    };
    if host == Host::Other("") {
        return Err(AuthorityError::EmptyHost);
    }
    check_port(port, scheme)?;
    Ok(host)
}

fn check_port(port: Option<&str>, scheme: Scheme) -> Result<(), AuthorityError> {
    match port {
        None => Ok(()),
        Some("") => Err(AuthorityError::EmptyPort(scheme.default_port)),
        Some(p) if !p.bytes().all(|b| b.is_ascii_digit()) => {
            Err(AuthorityError::PortNotNumber(p.to_string()))
        }
        // Port 0 asks the system for any free port when binding; nothing listens there.
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Ok(()),
            _ => Err(AuthorityError::PortOutOfRange(p.to_string())),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPECIAL: Scheme = Scheme {
        default_port: 80,
        backslash_ends_authority: true,
    };
    const OTHER: Scheme = Scheme {
        default_port: 5672,
        backslash_ends_authority: false,
    };

    #[test]
    fn the_empty_port_message_names_the_scheme_default() {
        assert_eq!(check("//h:/x", SPECIAL), Err(AuthorityError::EmptyPort(80)));
        let e = check("//h:/x", OTHER).unwrap_err();
        assert_eq!(e, AuthorityError::EmptyPort(5672));
        assert!(e.to_string().ends_with("drop the ':' for port 5672"), "{e}");
    }

    #[test]
    fn a_backslash_ends_the_authority_only_where_the_url_crate_says_so() {
        // In amqp the backslash is part of the password; in http it starts the path.
        assert_eq!(check("//u:p\\w@h:1/", OTHER), Ok(Host::Other("h")));
        assert_eq!(
            check("//u:p\\w@h:1/", SPECIAL),
            Err(AuthorityError::PortNotNumber("p".into()))
        );
        assert_eq!(
            check("//h:\\x", SPECIAL),
            Err(AuthorityError::EmptyPort(80))
        );
        assert_eq!(
            check("//h:\\x", OTHER),
            Err(AuthorityError::PortNotNumber("\\x".into()))
        );
    }

    #[test]
    fn every_password_in_a_text_is_masked() {
        assert_eq!(
            redact("http://alice:s3cretPW@127.0.0.1:9/hook"),
            "http://alice:***@127.0.0.1:9/hook"
        );
        assert_eq!(redact("amqp://u:a@b@h/v?x=@"), "amqp://u:***@h/v?x=@");
        assert_eq!(redact("http://h:80/x?u=a:b@c"), "http://h:80/x?u=a:b@c");
        assert_eq!(redact("http://tok3n@h/"), "http://***@h/");
        assert_eq!(redact("no url here: a@b"), "no url here: a@b");
        assert_eq!(
            redact("exec:curl -d x 'http://u:pw@h/a' http://v:pw2@g:1"),
            "exec:curl -d x 'http://u:***@h/a' http://v:***@g:1"
        );
        assert_eq!(
            redact("POST http://u:p@h/x: refused"),
            "POST http://u:***@h/x: refused"
        );
        assert_eq!(redact("amqp://u:p\\w'@h"), "amqp://u:***@h");
    }

    #[test]
    fn the_host_is_returned_as_written() {
        assert_eq!(check("//[::1]:80/x", OTHER), Ok(Host::Ipv6("[::1]")));
        assert_eq!(check("//u:p@[::1]", OTHER), Ok(Host::Ipv6("[::1]")));
        assert_eq!(check("//u:a@b@h%61:9?x", OTHER), Ok(Host::Other("h%61")));
        assert_eq!(check("//u:p@:9/", OTHER), Err(AuthorityError::EmptyHost));
    }
}
