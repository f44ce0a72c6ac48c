//! Classification of IP addresses by reachability and purpose.
//!
//! Used for URL hosts that are IP literals and, later, by the egress proxy to judge the address a
//! connection actually reaches. Pure: no resolution happens here.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// What kind of address an IP is; every flag is independent, `internal` summarizes them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct IpClass {
    /// RFC 1918 (10/8, 172.16/12, 192.168/16), shared CGNAT space (100.64/10) or IPv6 ULA (fc00::/7).
    pub private: bool,
    /// 127/8 or ::1.
    pub loopback: bool,
    /// 169.254/16 or fe80::/10.
    pub link_local: bool,
    /// A cloud instance-metadata endpoint (169.254.169.254, 169.254.170.2, 100.100.100.200, fd00:ec2::254).
    pub metadata: bool,
    /// 0.0.0.0/8 or `::` (reaches the local host on most stacks).
    pub unspecified: bool,
    /// 224/4 or ff00::/8.
    pub multicast: bool,
    /// 255.255.255.255.
    pub broadcast: bool,
    /// Documentation ranges (192.0.2/24, 198.51.100/24, 203.0.113/24, 2001:db8::/32).
    pub documentation: bool,
    /// Other special-purpose space (240/4, 192.0.0/24, 198.18/15 benchmarking, 100::/64 discard).
    pub reserved: bool,
    /// The address is embedded IPv4 (`::ffff:a.b.c.d`, `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`,
    /// 6to4 `2002:aabb:ccdd::`, Teredo `2001:0::`) and was classified as that IPv4.
    pub ipv4_embedded: bool,
    /// Not a globally routable unicast address: any of the flags above except `ipv4_embedded`.
    pub internal: bool,
}

/// Classifies `ip`; IPv4-mapped, IPv4-compatible, NAT64, 6to4 and Teredo IPv6 addresses are
/// judged as the IPv4 address they carry.
pub fn classify_ip(ip: IpAddr) -> IpClass {
    match ip {
        IpAddr::V4(v4) => classify_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(v6) {
            Some(v4) => IpClass {
                ipv4_embedded: true,
                ..classify_v4(v4)
            },
            None => classify_v6(v6),
        },
    }
}

/// The IPv4 address carried inside an IPv6 address, if it carries one.
pub fn embedded_v4(v6: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = v6.segments();
    let [a, b, c, d, e, f, g, h] = s;
    let tail = Ipv4Addr::from((u32::from(g) << 16) | u32::from(h));
    let mapped = [a, b, c, d, e] == [0; 5] && f == 0xffff;
    // IPv4-compatible (deprecated) form ::a.b.c.d, excluding :: and ::1 themselves.
    let compatible = [a, b, c, d, e, f] == [0; 6] && u32::from(tail) > 1;
    // NAT64 well-known prefix 64:ff9b::/96 and local-use 64:ff9b:1::/48 (RFC 8215) with the
    // address in the low 32 bits.
    let nat64 = [a, b, c, d, e, f] == [0x64, 0xff9b, 0, 0, 0, 0] || [a, b, c] == [0x64, 0xff9b, 1];
    if mapped || compatible || nat64 {
        return Some(tail);
    }
    if a == 0x2002 {
        // 6to4 (RFC 3056): 2002:AABB:CCDD::/48 wraps AA.BB.CC.DD.
        return Some(Ipv4Addr::from((u32::from(b) << 16) | u32::from(c)));
    }
    if [a, b] == [0x2001, 0] {
        // Teredo (RFC 4380): the client's address is stored inverted in the low 32 bits.
        return Some(Ipv4Addr::from(!u32::from(tail)));
    }
    None
}

fn classify_v4(ip: Ipv4Addr) -> IpClass {
    let [a, b, c, _] = ip.octets();
    let metadata = matches!(
        ip.octets(),
        [169, 254, 169, 254] | [169, 254, 170, 2] | [100, 100, 100, 200]
    );
    let mut class = IpClass {
        private: ip.is_private() || (a == 100 && (64..128).contains(&b)),
        loopback: ip.is_loopback(),
        link_local: ip.is_link_local(),
        metadata,
        unspecified: a == 0,
        multicast: ip.is_multicast(),
        broadcast: ip.is_broadcast(),
        documentation: ip.is_documentation(),
        reserved: (a >= 240 && !ip.is_broadcast())
            || (a == 192 && b == 0 && c == 0)
            || (a == 198 && (b == 18 || b == 19)),
        ipv4_embedded: false,
        internal: false,
    };
    class.internal = is_internal(&class);
    class
}

fn classify_v6(ip: Ipv6Addr) -> IpClass {
    let s = ip.segments();
    let first = s.first().copied().unwrap_or(0);
    let mut class = IpClass {
        private: (first & 0xfe00) == 0xfc00,
        loopback: ip.is_loopback(),
        link_local: (first & 0xffc0) == 0xfe80,
        metadata: ip == Ipv6Addr::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254),
        unspecified: ip.is_unspecified(),
        multicast: ip.is_multicast(),
        broadcast: false,
        documentation: first == 0x2001 && s.get(1).copied() == Some(0x0db8),
        reserved: matches!(s, [0x100, 0, 0, 0, ..]),
        ipv4_embedded: false,
        internal: false,
    };
    class.internal = is_internal(&class);
    class
}

fn is_internal(class: &IpClass) -> bool {
    class.private
        || class.loopback
        || class.link_local
        || class.metadata
        || class.unspecified
        || class.multicast
        || class.broadcast
        || class.documentation
        || class.reserved
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    fn class(s: &str) -> IpClass {
        classify_ip(s.parse().unwrap())
    }

    #[test]
    fn ipv4_ranges() {
        assert!(class("10.1.2.3").private);
        assert!(class("172.31.0.1").private);
        assert!(!class("172.32.0.1").private);
        assert!(class("192.168.1.1").private);
        assert!(class("100.64.0.1").private);
        assert!(class("127.0.0.2").loopback);
        assert!(class("169.254.1.1").link_local);
        let md = class("169.254.169.254");
        assert!(md.metadata && md.link_local && md.internal);
        assert!(class("0.0.0.0").unspecified);
        assert!(class("224.0.0.1").multicast);
        assert!(class("255.255.255.255").broadcast);
        assert!(class("203.0.113.9").documentation);
        assert!(class("240.0.0.1").reserved);
        let public = class("93.184.216.34");
        assert_eq!(public, IpClass::default());
    }

    #[test]
    fn ipv6_ranges() {
        assert!(class("::1").loopback);
        assert!(class("fd12::1").private);
        assert!(class("fe80::1").link_local);
        assert!(class("fd00:ec2::254").metadata);
        assert!(class("::").unspecified);
        assert!(class("ff02::1").multicast);
        assert!(class("2001:db8::1").documentation);
        assert!(!class("2606:4700::1111").internal);
    }

    #[test]
    fn embedded_ipv4_is_classified_as_ipv4() {
        let mapped = class("::ffff:127.0.0.1");
        assert!(mapped.loopback && mapped.ipv4_embedded && mapped.internal);
        assert!(class("::ffff:169.254.169.254").metadata);
        assert!(class("::10.0.0.1").private);
        assert!(class("64:ff9b::a9fe:a9fe").metadata);
        assert!(!class("::ffff:8.8.8.8").internal);
    }

    #[test]
    fn tunnelled_ipv4_is_classified_as_ipv4() {
        let six_to_four = class("2002:7f00:1::");
        assert!(six_to_four.loopback && six_to_four.ipv4_embedded && six_to_four.internal);
        assert!(class("2002:a00:1::1").private);
        assert!(class("2002:a9fe:a9fe::").metadata);
        assert!(!class("2002:808:808::1").internal);
        assert!(class("64:ff9b::7f00:1").loopback);
        assert!(class("64:ff9b:1::a00:1").private);
        // Teredo client 127.0.0.1 stored inverted: !0x7f000001 = 0x80fffffe.
        let teredo = class("2001:0:4136:e378:8000:63bf:80ff:fffe");
        assert!(teredo.loopback && teredo.internal, "{teredo:?}");
        assert!(!class("2001:0:4136:e378:8000:63bf:f7f7:f7f7").internal);
        assert!(!class("2001:4860::8888").internal);
    }
}
