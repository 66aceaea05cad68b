//! The client's address: the TCP peer, or, behind reverse proxies we trust, the address those
//! proxies say they received the request from.
//!
//! `X-Forwarded-For` is written by whoever sends the request, so it is read only when the peer
//! is one of `guard.trusted_proxies`, and then only as far as the chain of trusted proxies
//! goes: walking from the right (the entry the nearest proxy appended), every trusted address
//! is skipped and the first untrusted one is the client. Entries left of it were written by the
//! client itself and are ignored, so a client cannot pick the address it is limited under.

use std::net::{IpAddr, SocketAddr};

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The header reverse proxies append the address they received a request from to.
const FORWARDED_FOR: &str = "x-forwarded-for";

/// The reverse proxies whose `X-Forwarded-For` is believed; parsed once at startup.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses addresses (`192.0.2.7`, `::1`) and networks (`10.0.0.0/8`, `fd00::/8`).
    ///
    /// # Errors
    ///
    /// Names the first entry that is neither, so a typo stops the server at startup instead
    /// of silently trusting nobody (or everybody).
    pub fn parse(entries: &[String]) -> anyhow::Result<TrustedProxies> {
        let networks = entries
            .iter()
            .map(|entry| {
                let entry = entry.trim();
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        anyhow::anyhow!(
                            "guard.trusted_proxies: `{entry}` is not an IP address or a network \
                             in CIDR notation (e.g. 10.0.0.0/8)"
                        )
                    })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(TrustedProxies(networks))
    }

    /// Whether `address` is a trusted proxy.
    pub fn contains(&self, address: IpAddr) -> bool {
        let address = address.to_canonical();
        self.0.iter().any(|network| network.contains(&address))
    }

    /// The client's address for a request from `peer` with `headers`.
    ///
    /// A malformed entry ends the walk at the last address known good (the peer or a trusted
    /// proxy): a proxy we trust would not have written it, so everything left of it is the
    /// client's word.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.contains(client) {
            return client;
        }
        // Several headers count as one list joined by commas, in order (RFC 9110 §5.3).
        let mut entries = Vec::new();
        for value in headers.get_all(FORWARDED_FOR) {
            let Ok(value) = value.to_str() else {
                return client;
            };
            entries.extend(value.split(','));
        }
        for entry in entries.into_iter().rev() {
            let Some(address) = parse_entry(entry) else {
                return client;
            };
            client = address;
            if !self.contains(address) {
                return address;
            }
        }
        client
    }
}

/// One `X-Forwarded-For` entry: an address, or an address with a port as some proxies write.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .or_else(|_| entry.parse::<SocketAddr>().map(|socket| socket.ip()))
        .ok()
        .map(|address| address.to_canonical())
}

/// The address a request came from over TCP: `ConnectInfo`, present whenever the server runs
/// through [`crate::serve`].
pub fn peer_address(extensions: &axum::http::Extensions) -> Option<IpAddr> {
    extensions
        .get::<axum::extract::ConnectInfo<SocketAddr>>()
        .map(|info| info.0.ip())
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn proxies(entries: &[&str]) -> TrustedProxies {
        let entries: Vec<String> = entries.iter().map(|e| (*e).to_owned()).collect();
        TrustedProxies::parse(&entries).unwrap()
    }

    fn forwarded(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(FORWARDED_FOR, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn addresses_and_networks_parse_and_garbage_is_refused_by_name() {
        let trusted = proxies(&["10.0.0.0/8", "192.0.2.7", " fd00::/8 ", "::1"]);
        assert!(trusted.contains(ip("10.1.2.3")));
        assert!(trusted.contains(ip("192.0.2.7")));
        assert!(!trusted.contains(ip("192.0.2.8")));
        assert!(trusted.contains(ip("fd12::1")));
        assert!(trusted.contains(ip("::1")));
        assert!(
            trusted.contains(ip("::ffff:10.0.0.1")),
            "IPv4-mapped IPv6 peers are their IPv4 address"
        );
        for bad in ["10.0.0.0/33", "proxy.internal", "", "10.0.0.1-10.0.0.9"] {
            let error = TrustedProxies::parse(&[bad.to_owned()]).unwrap_err();
            assert!(error.to_string().contains(bad.trim()), "{error}");
        }
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says() {
        let nobody = TrustedProxies::default();
        let headers = forwarded(&["198.51.100.1"]);
        assert_eq!(
            nobody.client_ip(ip("203.0.113.9"), &headers),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_spoofed_header_from_an_untrusted_peer_is_ignored() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let headers = forwarded(&["10.0.0.5, 198.51.100.1"]);
        assert_eq!(
            trusted.client_ip(ip("203.0.113.9"), &headers),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn the_first_untrusted_address_from_the_right_is_the_client() {
        let trusted = proxies(&["10.0.0.0/8", "192.0.2.7"]);
        // The client claimed 1.1.1.1; the CDN (192.0.2.7) saw 203.0.113.9; the inner proxy
        // (10.0.0.2) saw the CDN; the server sees the inner proxy's colleague 10.0.0.3.
        let headers = forwarded(&["1.1.1.1, 203.0.113.9, 192.0.2.7", "10.0.0.2"]);
        assert_eq!(
            trusted.client_ip(ip("10.0.0.3"), &headers),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_trusted_peer_without_the_header_is_itself_the_client() {
        let trusted = proxies(&["10.0.0.0/8"]);
        assert_eq!(
            trusted.client_ip(ip("10.0.0.3"), &HeaderMap::new()),
            ip("10.0.0.3")
        );
    }

    #[test]
    fn a_chain_of_only_trusted_addresses_ends_at_the_leftmost() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let headers = forwarded(&["10.0.0.9, 10.0.0.8"]);
        assert_eq!(trusted.client_ip(ip("10.0.0.3"), &headers), ip("10.0.0.9"));
    }

    #[test]
    fn garbage_stops_the_walk_at_the_last_trusted_address() {
        let trusted = proxies(&["10.0.0.0/8"]);
        for (header, expected) in [
            ("198.51.100.1, not-an-address", "10.0.0.3"),
            ("198.51.100.1, , 10.0.0.8", "10.0.0.8"),
            ("198.51.100.1, unknown, 10.0.0.8", "10.0.0.8"),
            ("", "10.0.0.3"),
        ] {
            assert_eq!(
                trusted.client_ip(ip("10.0.0.3"), &forwarded(&[header])),
                ip(expected),
                "{header:?}"
            );
        }
        let mut not_text = HeaderMap::new();
        not_text.append(
            FORWARDED_FOR,
            HeaderValue::from_bytes(b"198.51.100.1\xff").unwrap(),
        );
        assert_eq!(trusted.client_ip(ip("10.0.0.3"), &not_text), ip("10.0.0.3"));
    }

    #[test]
    fn entries_with_ports_and_ipv6_are_understood() {
        let trusted = proxies(&["10.0.0.0/8"]);
        let headers = forwarded(&["198.51.100.1:4711"]);
        assert_eq!(
            trusted.client_ip(ip("10.0.0.3"), &headers),
            ip("198.51.100.1")
        );
        let headers = forwarded(&["[2001:db8::1]:443, 2001:db8::2"]);
        assert_eq!(
            trusted.client_ip(ip("10.0.0.3"), &headers),
            ip("2001:db8::2")
        );
        let headers = forwarded(&["::ffff:198.51.100.1"]);
        assert_eq!(
            trusted.client_ip(ip("::ffff:10.0.0.3"), &headers),
            ip("198.51.100.1")
        );
    }
}
