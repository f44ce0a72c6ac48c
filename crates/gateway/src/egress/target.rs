//! Where a proxied request goes: the CONNECT authority or the absolute-form URI, as the URL the
//! policy judges and the canonical host and port the proxy resolves and connects to.
//!
//! Pure: no resolution, no I/O. Hosts are canonicalized by the URL analyzer, so every IPv4
//! notation (`127.1`, `0x7f000001`, `2130706433`) and IPv4-mapped IPv6 is one address.

use std::net::IpAddr;

use warden_analyze::url::{self, UrlFacts};

/// A destination, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    /// The URL the policy judges (`https://host:port` for a tunnel).
    pub url: String,
    /// The canonical host: a lower-case name, or an IP address.
    pub host: Host,
    /// The port connected to.
    pub port: u16,
    /// The URL analyzer's facts.
    pub facts: UrlFacts,
}

/// A canonical host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Host {
    /// An IP literal, in whatever notation it was written.
    Ip(IpAddr),
    /// A name to resolve.
    Name(String),
}

/// Why a destination cannot be proxied (answered 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    /// A CONNECT target that is not `host:port`.
    #[error("CONNECT needs `host:port`, got `{0}`")]
    Authority(String),
    /// The URI does not parse as an http URL with a host.
    #[error(
        "`{0}` is not an absolute http URL with a host (configure this proxy as HTTP_PROXY / HTTPS_PROXY)"
    )]
    Url(String),
    /// An absolute-form request for another scheme than http.
    #[error("`{0}` scheme is not proxied in absolute form; https goes through CONNECT")]
    Scheme(String),
}

/// The target of `CONNECT authority`.
pub fn connect(authority: &str) -> Result<Target, TargetError> {
    let bad = || TargetError::Authority(authority.to_owned());
    let (host, port) = authority.rsplit_once(':').ok_or_else(bad)?;
    if host.is_empty() || authority.contains(['/', '?', '#', '@']) {
        return Err(bad());
    }
    let port: u16 = port.parse().map_err(|_| bad())?;
    let url = if port == 443 {
        format!("https://{host}")
    } else {
        format!("https://{host}:{port}")
    };
    let facts = url::analyze(&url);
    let host = host_of(&facts).ok_or_else(bad)?;
    Ok(Target {
        url,
        host,
        port,
        facts,
    })
}

/// The target of an absolute-form request (`GET http://host/path`).
pub fn absolute(uri: &str) -> Result<Target, TargetError> {
    let facts = url::analyze(uri);
    if facts.opaque {
        return Err(TargetError::Url(uri.to_owned()));
    }
    if facts.scheme != "http" {
        return Err(TargetError::Scheme(facts.scheme.clone()));
    }
    let host = host_of(&facts).ok_or_else(|| TargetError::Url(uri.to_owned()))?;
    let port = facts.port.unwrap_or(80);
    Ok(Target {
        url: uri.to_owned(),
        host,
        port,
        facts,
    })
}

fn host_of(facts: &UrlFacts) -> Option<Host> {
    if facts.host.is_empty() {
        return None;
    }
    if facts.ip_literal {
        return facts.host.parse().ok().map(Host::Ip);
    }
    Some(Host::Name(facts.host.clone()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn ip_literal_tricks_become_one_address() {
        let loopback: IpAddr = "127.0.0.1".parse().unwrap();
        for uri in [
            "http://127.1:8080/x",
            "http://0x7f000001:8080/x",
            "http://2130706433:8080/x",
            "http://0177.0.0.1:8080/x",
        ] {
            let t = absolute(uri).unwrap();
            assert_eq!(t.host, Host::Ip(loopback), "{uri}");
            assert_eq!(t.port, 8080);
            assert!(t.facts.loopback, "{uri}");
        }
        let mapped = absolute("http://[::ffff:127.0.0.1]:81/").unwrap();
        assert!(matches!(mapped.host, Host::Ip(IpAddr::V6(_))));
        assert!(mapped.facts.loopback && mapped.facts.internal);
    }

    #[test]
    fn connect_authorities_become_https_urls() {
        let t = connect("example.com:443").unwrap();
        assert_eq!(t.url, "https://example.com");
        assert_eq!(t.host, Host::Name("example.com".into()));
        assert_eq!(t.port, 443);
        let t = connect("0x7f000001:8443").unwrap();
        assert_eq!(t.url, "https://0x7f000001:8443");
        assert_eq!(t.host, Host::Ip("127.0.0.1".parse().unwrap()));
        let t = connect("[::1]:8443").unwrap();
        assert_eq!(t.host, Host::Ip("::1".parse().unwrap()));
        assert_eq!(
            connect("LocalHost.:443").unwrap().host,
            Host::Name("localhost".into())
        );
    }

    #[test]
    fn malformed_targets_are_refused() {
        for bad in [
            "example.com",
            ":443",
            "example.com:http",
            "a@b:443",
            "x/y:443",
            "h:99999",
        ] {
            assert!(connect(bad).is_err(), "{bad}");
        }
        assert_eq!(
            absolute("https://example.com/"),
            Err(TargetError::Scheme("https".into()))
        );
        assert!(matches!(absolute("/relative"), Err(TargetError::Url(_))));
        assert!(matches!(absolute("ftp://x/"), Err(TargetError::Scheme(_))));
    }
}
