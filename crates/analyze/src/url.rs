//! URL analysis as a browser would parse it (WHATWG URL Standard, via the `url` crate).
//!
//! Hosts are canonicalized before classification: case folded, trailing dot removed,
//! percent-decoded, and IPv4 in any notation (`127.1`, `0x7f000001`, `2130706433`, octal) turned
//! into dotted decimal, even for schemes the WHATWG parser treats as opaque (`ssh://`, `redis://`).
//! Nothing is resolved: a hostname that resolves to a private address is the egress proxy's
//! concern, using [`classify_ip`] on the address it actually connects to.

mod ip;

pub use ip::{IpClass, classify_ip, embedded_v4};

use std::net::IpAddr;

/// Facts about one URL argument.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct UrlFacts {
    /// The URL exactly as given.
    pub raw: String,
    /// Does not parse as a WHATWG URL with a host (`mailto:`, `data:`, garbage).
    pub opaque: bool,
    /// Lower-case scheme without `:`.
    pub scheme: String,
    /// Canonical host: lower-cased, trailing dot removed, IP literals as `127.0.0.1` / `::1`.
    pub host: String,
    /// Effective port: explicit, else the scheme's default when known.
    pub port: Option<u16>,
    /// The URL carries a user name or password.
    pub userinfo: bool,
    /// Percent-encoded user name as written (empty when none).
    pub username: String,
    /// The URL carries a password in its userinfo.
    pub password: bool,
    /// The host is an IP address in any notation.
    pub ip_literal: bool,
    /// Private address space (RFC 1918, CGNAT, IPv6 ULA).
    pub private: bool,
    /// Loopback address, or `localhost` / `*.localhost`.
    pub loopback: bool,
    /// Link-local address (169.254/16, fe80::/10).
    pub link_local: bool,
    /// Cloud metadata endpoint by address or well-known name.
    pub metadata: bool,
    /// Any non-public destination: private, loopback, link-local, metadata, unspecified, reserved...
    pub internal: bool,
    /// Path component as serialized by the parser.
    pub path: String,
    /// Query string without `?` (empty when none).
    pub query: String,
}

/// Host names of cloud metadata services.
const METADATA_HOSTS: &[&str] = &[
    "metadata.google.internal",
    "metadata.goog",
    "metadata.azure.com",
    "metadata",
    "instance-data",
    "instance-data.ec2.internal",
];

/// Analyzes `raw` as a URL.
pub fn analyze(raw: &str) -> UrlFacts {
    let mut facts = UrlFacts {
        raw: raw.to_owned(),
        ..UrlFacts::default()
    };
    let Ok(parsed) = url::Url::parse(raw.trim()) else {
        facts.opaque = true;
        return facts;
    };
    facts.scheme = parsed.scheme().to_owned();
    facts.username = parsed.username().to_owned();
    facts.password = parsed.password().is_some();
    facts.userinfo = !facts.username.is_empty() || facts.password;
    facts.path = parsed.path().to_owned();
    facts.query = parsed.query().unwrap_or_default().to_owned();
    let Some(host) = canonical_host(&parsed) else {
        facts.opaque = true;
        return facts;
    };
    facts.port = parsed
        .port_or_known_default()
        .or_else(|| default_port(&facts.scheme));
    match host {
        CanonicalHost::Ip(ip) => {
            let class = classify_ip(ip);
            facts.host = ip.to_string();
            facts.ip_literal = true;
            facts.private = class.private;
            facts.loopback = class.loopback;
            facts.link_local = class.link_local;
            facts.metadata = class.metadata;
            facts.internal = class.internal;
        }
        CanonicalHost::Name(name) => {
            facts.loopback = name == "localhost" || name.ends_with(".localhost");
            facts.metadata = METADATA_HOSTS.contains(&name.as_str());
            facts.internal = facts.loopback || facts.metadata || is_internal_name(&name);
            facts.host = name;
        }
    }
    facts
}

/// A host after canonicalization.
enum CanonicalHost {
    /// An IP literal in any notation.
    Ip(IpAddr),
    /// A domain name, lower-cased and without trailing dot.
    Name(String),
}

fn canonical_host(parsed: &url::Url) -> Option<CanonicalHost> {
    match parsed.host()? {
        url::Host::Ipv4(v4) => Some(CanonicalHost::Ip(IpAddr::V4(v4))),
        url::Host::Ipv6(v6) => Some(CanonicalHost::Ip(IpAddr::V6(v6))),
        url::Host::Domain("") => None,
        url::Host::Domain(domain) => Some(canonical_domain(domain)),
    }
}

/// Re-parses a domain with special-scheme host rules so opaque-scheme hosts get the same
/// IPv4-notation, percent-decoding and case folding as `http` hosts.
fn canonical_domain(domain: &str) -> CanonicalHost {
    let special = url::Url::parse(&format!("http://{domain}/"))
        .ok()
        .and_then(|u| match u.host()? {
            url::Host::Ipv4(v4) => Some(CanonicalHost::Ip(IpAddr::V4(v4))),
            url::Host::Ipv6(v6) => Some(CanonicalHost::Ip(IpAddr::V6(v6))),
            url::Host::Domain(d) => Some(CanonicalHost::Name(trim_dots(d))),
        });
    special.unwrap_or_else(|| CanonicalHost::Name(trim_dots(&domain.to_lowercase())))
}

fn trim_dots(domain: &str) -> String {
    domain.trim_end_matches('.').to_ascii_lowercase()
}

/// Names that only resolve inside a private network by convention: single-label names
/// (`intranet`, resolved through the search domain) and private-use or service-discovery
/// suffixes (Kubernetes `.svc`, Consul `.consul`, mDNS `.local`, ...).
fn is_internal_name(name: &str) -> bool {
    const SUFFIXES: &[&str] = &[
        "internal",
        "local",
        "localdomain",
        "localhost",
        "home.arpa",
        "lan",
        "corp",
        "intranet",
        "private",
        "svc",
        "consul",
    ];
    !name.contains('.')
        || SUFFIXES.iter().any(|suffix| {
            name.strip_suffix(suffix)
                .is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
        })
}

/// Default ports for schemes the WHATWG standard does not know.
fn default_port(scheme: &str) -> Option<u16> {
    let port = match scheme {
        "ssh" | "sftp" | "scp" => 22,
        "git" => 9418,
        "postgres" | "postgresql" => 5432,
        "mysql" => 3306,
        "redis" => 6379,
        "rediss" => 6380,
        "mongodb" => 27017,
        "amqp" => 5672,
        "ldap" => 389,
        "ldaps" => 636,
        "smtp" => 25,
        "telnet" => 23,
        _ => return None,
    };
    Some(port)
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn ipv4_notations_canonicalize_to_loopback() {
        for raw in [
            "http://127.0.0.1/",
            "http://127.1/",
            "http://0x7f000001/",
            "http://2130706433/",
            "http://0177.0.0.1/",
            "http://0x7f.1/",
            "http://127.0.0.1./",
            "http://%31%32%37.0.0.1/",
            "HTTP://127.000.000.001:80/",
            "ssh://127.1/",
            "redis://0x7f000001:6379/",
        ] {
            let facts = analyze(raw);
            assert!(!facts.opaque, "{raw}");
            assert_eq!(facts.host, "127.0.0.1", "{raw}");
            assert!(
                facts.ip_literal && facts.loopback && facts.internal,
                "{raw}"
            );
        }
    }

    #[test]
    fn ipv6_and_mapped_literals() {
        let v6 = analyze("http://[::1]:8080/x");
        assert_eq!((v6.host.as_str(), v6.port), ("::1", Some(8080)));
        assert!(v6.loopback && v6.ip_literal);
        let mapped = analyze("http://[::ffff:127.0.0.1]/");
        assert!(mapped.loopback && mapped.ip_literal, "{mapped:?}");
        let md = analyze("http://[::ffff:a9fe:a9fe]/latest/meta-data/");
        assert!(md.metadata && md.link_local);
        assert!(analyze("http://[fd00:ec2::254]/").metadata);
    }

    #[test]
    fn metadata_names_and_addresses() {
        for raw in [
            "http://169.254.169.254/latest/meta-data/iam/",
            "http://metadata.google.internal/computeMetadata/v1/",
            "http://METADATA.GOOGLE.INTERNAL./",
            "http://metadata.goog/",
            "https://metadata.azure.com/",
            "http://0xa9fea9fe/",
            "http://2852039166/",
        ] {
            let facts = analyze(raw);
            assert!(facts.metadata && facts.internal, "{raw}");
        }
        assert!(analyze("http://169.254.169.254/").link_local);
    }

    #[test]
    fn names_are_folded_and_trimmed() {
        let facts = analyze("https://Example.COM./Path?q=1");
        assert_eq!(facts.host, "example.com");
        assert_eq!(facts.scheme, "https");
        assert_eq!(facts.port, Some(443));
        assert_eq!(facts.path, "/Path");
        assert_eq!(facts.query, "q=1");
        assert!(!facts.internal && !facts.ip_literal);
        assert!(analyze("http://LOCALHOST./").loopback);
        assert!(analyze("http://api.localhost/").loopback);
    }

    #[test]
    fn userinfo_tricks() {
        let facts = analyze("https://github.com@evil.example/");
        assert_eq!(facts.host, "evil.example");
        assert!(facts.userinfo && !facts.password);
        assert_eq!(facts.username, "github.com");
        let pw = analyze("https://user:hunter2@db.example.com/");
        assert!(pw.userinfo && pw.password);
        assert!(!analyze("https://example.com/").userinfo);
    }

    #[test]
    fn private_ranges() {
        assert!(analyze("http://10.0.0.5/").private);
        assert!(analyze("http://192.168.0.1:8443/").private);
        assert!(!analyze("http://8.8.8.8/").private);
        assert!(analyze("http://0.0.0.0:8080/").internal);
        assert!(analyze("http://printer.local/").internal);
    }

    #[test]
    fn hostless_and_garbage_are_opaque() {
        for raw in [
            "mailto:a@b.c",
            "data:text/plain,hi",
            "not a url",
            "",
            "http://",
            "file:///etc/passwd",
            "javascript:alert(1)",
        ] {
            assert!(analyze(raw).opaque, "{raw}");
        }
        assert_eq!(analyze("mailto:a@b.c").scheme, "mailto");
    }

    #[test]
    fn cluster_and_intranet_names_are_internal() {
        for raw in [
            "http://kubernetes.default.svc/",
            "http://api.prod.svc.cluster.local:8080/",
            "http://consul.service.consul/",
            "http://intranet/",
            "http://wiki.corp/",
            "http://db.internal/",
            "http://printer.local/",
            "http://app.localhost/",
            "http://router.lan/",
            "http://nas.home.arpa/",
            "http://build/",
        ] {
            let facts = analyze(raw);
            assert!(facts.internal, "{raw}: {facts:#?}");
        }
        for raw in [
            "https://example.com/",
            "https://svc.example.com/",
            "https://localization.example/",
            "https://corp.example.org/",
            "https://my.corporate/x",
        ] {
            let facts = analyze(raw);
            assert!(!facts.internal, "{raw}: {facts:#?}");
        }
    }

    #[test]
    fn tunnelled_ipv4_literals_are_internal() {
        let facts = analyze("http://[2002:7f00:1::]/");
        assert!(facts.loopback && facts.internal, "{facts:#?}");
        let facts = analyze("http://[64:ff9b::7f00:1]/");
        assert!(facts.loopback && facts.internal, "{facts:#?}");
        assert!(!analyze("http://[2002:808:808::]/").internal);
    }

    #[test]
    fn default_ports() {
        assert_eq!(analyze("ssh://git@github.com/x").port, Some(22));
        assert_eq!(analyze("postgres://db/x").port, Some(5432));
        assert_eq!(analyze("http://a.example/").port, Some(80));
        assert_eq!(analyze("foo://a.example/").port, None);
    }
}
