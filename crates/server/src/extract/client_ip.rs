//! The client's address: the TCP peer, or, behind reverse proxies the operator names, the address
//! those proxies say they received the request from. Throttling counts by this address, so behind
//! an ingress without this setting every client would share the ingress's address (and one failing
//! client would lock everyone out).

use std::net::IpAddr;
use std::str::FromStr;

use axum::http::HeaderMap;

/// An address block such as `10.0.0.0/8` or `fd00::/8`; a bare address is a block of one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0:?} is not an address block (like 10.0.0.0/8, fd00::/8 or 192.0.2.7)")]
pub struct CidrError(String);

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || CidrError(s.to_owned());
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let network: IpAddr = addr.parse().map_err(|_| bad())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(bad)?,
            None => max,
        };
        Ok(Cidr { network, prefix })
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.network, ip) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// An IPv4 client seen on an IPv6 socket is still an IPv4 client.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Which header the trusted proxies write the client's address into.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, proxy2` (nginx, most ingresses and load balancers).
    #[default]
    XForwardedFor,
    /// RFC 7239 `Forwarded: for=client, for="[2001:db8::1]:443"`.
    Forwarded,
}

impl FromStr for ForwardedHeader {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(ForwardedHeader::XForwardedFor),
            "forwarded" => Ok(ForwardedHeader::Forwarded),
            _ => Err(format!("{s:?} is neither x-forwarded-for nor forwarded")),
        }
    }
}

/// Who may tell us the client's address. Empty (the default): nobody, the peer is the client.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies {
    pub proxies: Vec<Cidr>,
    pub header: ForwardedHeader,
}

impl TrustedProxies {
    /// The client's address for a request that came from `peer`. The forwarding header is read
    /// only when the peer is a trusted proxy, from the right: each trusted hop vouches for the one
    /// before it, and the first untrusted address is the client (anything left of it is whatever
    /// the client chose to send). A header that cannot be read leaves the peer as the client.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let trusted = |ip: IpAddr| self.proxies.iter().any(|c| c.contains(ip));
        if !trusted(peer) {
            return peer;
        }
        let name = match self.header {
            ForwardedHeader::XForwardedFor => "x-forwarded-for",
            ForwardedHeader::Forwarded => "forwarded",
        };
        // Every hop, unreadable ones as `None`, in order; only those from the right up to the first
        // untrusted one are ever looked at, so what the client wrote on the left cannot matter.
        let mut hops: Vec<Option<IpAddr>> = Vec::new();
        for value in headers.get_all(name) {
            let Ok(value) = value.to_str() else {
                hops.push(None);
                continue;
            };
            hops.extend(value.split(',').map(|element| match self.header {
                ForwardedHeader::XForwardedFor => parse_xff_hop(element),
                ForwardedHeader::Forwarded => parse_forwarded_for(element),
            }));
        }
        let mut client = peer;
        for hop in hops.into_iter().rev() {
            // A hop a trusted proxy wrote that cannot be read: the peer is all we know.
            let Some(hop) = hop else { return peer };
            client = hop;
            if !trusted(hop) {
                break;
            }
        }
        canonical(client)
    }
}

fn parse_xff_hop(element: &str) -> Option<IpAddr> {
    let e = element.trim();
    e.parse()
        .ok()
        .or_else(|| strip_port(e).and_then(|a| a.parse().ok()))
}

/// `for=` of one RFC 7239 element; other parameters are ignored, an element without `for` or with
/// an obfuscated identifier (`unknown`, `_hidden`) cannot be trusted as an address.
fn parse_forwarded_for(element: &str) -> Option<IpAddr> {
    element.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        if !k.trim().eq_ignore_ascii_case("for") {
            return None;
        }
        let v = v.trim().trim_matches('"');
        v.parse()
            .ok()
            .or_else(|| strip_port(v).and_then(|a| a.parse().ok()))
    })
}

/// `1.2.3.4:5678` → `1.2.3.4`; `[2001:db8::1]:443` or `[2001:db8::1]` → `2001:db8::1`.
fn strip_port(s: &str) -> Option<&str> {
    if let Some(rest) = s.strip_prefix('[') {
        return rest.split_once(']').map(|(a, _)| a);
    }
    let (addr, port) = s.rsplit_once(':')?;
    port.parse::<u16>().ok().map(|_| addr)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(name: &'static str, values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(name, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn proxies(blocks: &[&str], header: ForwardedHeader) -> TrustedProxies {
        TrustedProxies {
            proxies: blocks.iter().map(|b| b.parse().unwrap()).collect(),
            header,
        }
    }

    #[test]
    fn blocks_parse_and_match() {
        let c: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(c.contains(ip("10.200.1.1")));
        assert!(c.contains(ip("::ffff:10.1.1.1")));
        assert!(!c.contains(ip("11.0.0.1")));
        let v6: Cidr = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")));
        assert!(!v6.contains(ip("fe80::1")));
        let one: Cidr = "192.0.2.7".parse().unwrap();
        assert!(one.contains(ip("192.0.2.7")) && !one.contains(ip("192.0.2.8")));
        assert!("0.0.0.0/0".parse::<Cidr>().unwrap().contains(ip("8.8.8.8")));
        for bad in ["10.0.0.0/33", "nonsense", "10.0.0.0/", "::/129"] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let t = TrustedProxies::default();
        let h = headers("x-forwarded-for", &["203.0.113.9"]);
        assert_eq!(t.client(ip("10.0.0.1"), &h), ip("10.0.0.1"));
    }

    #[test]
    fn an_untrusted_peer_cannot_claim_another_address() {
        let t = proxies(&["10.0.0.0/8"], ForwardedHeader::XForwardedFor);
        let h = headers("x-forwarded-for", &["203.0.113.9"]);
        assert_eq!(t.client(ip("198.51.100.1"), &h), ip("198.51.100.1"));
    }

    #[test]
    fn the_first_untrusted_hop_from_the_right_is_the_client() {
        let t = proxies(&["10.0.0.0/8"], ForwardedHeader::XForwardedFor);
        // The client forged the leftmost entry; the ingress appended the address it saw.
        let h = headers("x-forwarded-for", &["1.1.1.1, 203.0.113.9", "10.0.0.5"]);
        assert_eq!(t.client(ip("10.0.0.2"), &h), ip("203.0.113.9"));
        let all_trusted = headers("x-forwarded-for", &["10.0.0.9"]);
        assert_eq!(t.client(ip("10.0.0.2"), &all_trusted), ip("10.0.0.9"));
        assert_eq!(t.client(ip("10.0.0.2"), &HeaderMap::new()), ip("10.0.0.2"));
        let garbage = headers("x-forwarded-for", &["203.0.113.9, not-an-ip"]);
        assert_eq!(t.client(ip("10.0.0.2"), &garbage), ip("10.0.0.2"));
        // What the client wrote left of the address the ingress saw is never read: junk there
        // cannot make the client count as the proxy.
        let forged = headers("x-forwarded-for", &["x, 203.0.113.9"]);
        assert_eq!(t.client(ip("10.0.0.2"), &forged), ip("203.0.113.9"));
    }

    #[test]
    fn rfc_7239_forwarded_is_read_when_named() {
        let t = proxies(&["10.0.0.0/8"], ForwardedHeader::Forwarded);
        let h = headers(
            "forwarded",
            &[r#"for=198.51.100.1;proto=https, for="[2001:db8::7]:4711";by=10.0.0.1"#],
        );
        assert_eq!(t.client(ip("10.0.0.2"), &h), ip("2001:db8::7"));
        let port = headers("forwarded", &["for=\"192.0.2.60:8080\""]);
        assert_eq!(t.client(ip("10.0.0.2"), &port), ip("192.0.2.60"));
        let hidden = headers("forwarded", &["for=_hidden"]);
        assert_eq!(t.client(ip("10.0.0.2"), &hidden), ip("10.0.0.2"));
    }
}
