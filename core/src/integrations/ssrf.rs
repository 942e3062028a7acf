//! The SSRF guard: integration calls never reach loopback, private,
//! link-local (the instance metadata service at 169.254.169.254 included),
//! shared, multicast, documentation or other special addresses unless the
//! integration allows private networks. Names are checked after resolution,
//! by the HTTP client's resolver (`runners::http::resolver`), so DNS cannot smuggle a private address in;
//! literal addresses and every redirect target are checked before the call.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Why an address is special, or `None` for a public one.
pub fn special(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => special_v6(v6),
    }
}

fn special_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, c, _] = ip.octets();
    Some(match (a, b, c) {
        (0, _, _) => "an unspecified address",
        (10, _, _) | (172, 16..=31, _) | (192, 168, _) => "a private address",
        (100, 64..=127, _) => "a shared (carrier-grade NAT) address",
        (127, _, _) => "a loopback address",
        (169, 254, _) => "a link-local address (the instance metadata service lives here)",
        (192, 0, 0) => "an IETF protocol address",
        (192, 0, 2) | (198, 51, 100) | (203, 0, 113) => "a documentation address",
        (198, 18..=19, _) => "a benchmarking address",
        (224..=239, _, _) => "a multicast address",
        (240..=255, _, _) => "a reserved or broadcast address",
        _ => return None,
    })
}

fn special_v6(ip: Ipv6Addr) -> Option<&'static str> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return special_v4(v4);
    }
    let s = ip.segments();
    Some(match s[0] {
        _ if ip.is_unspecified() => "an unspecified address",
        _ if ip.is_loopback() => "a loopback address",
        0xfc00..=0xfdff => "a unique local (private) address",
        0xfe80..=0xfebf => "a link-local address",
        0xff00..=0xffff => "a multicast address",
        0x2001 if s[1] == 0x0db8 => "a documentation address",
        0x0064 if s[1] == 0xff9b => "a NAT64 address",
        _ => return None,
    })
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "refusing to connect to {address} ({why}) for integration {integration}: set allowPrivateNetworks on the integration to allow it"
)]
pub struct Refused {
    pub integration: String,
    pub address: String,
    pub why: &'static str,
}

/// Checks one address.
pub fn check(integration: &str, ip: IpAddr, allow_private: bool) -> Result<(), Refused> {
    match special(ip) {
        Some(why) if !allow_private => Err(Refused {
            integration: integration.to_owned(),
            address: ip.to_string(),
            why,
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.20.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:169.254.169.254",
            "224.0.0.1",
        ] {
            assert!(special(ip.parse().unwrap()).is_some(), "{ip}");
        }
        for ip in ["93.184.216.34", "8.8.8.8", "2606:4700::1111", "172.32.0.1"] {
            assert!(special(ip.parse().unwrap()).is_none(), "{ip}");
        }
    }

    #[test]
    fn refusals_are_clear_and_can_be_allowed() {
        let refused = check("crm", "169.254.169.254".parse().unwrap(), false).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "refusing to connect to 169.254.169.254 (a link-local address (the instance metadata service lives here)) for integration crm: set allowPrivateNetworks on the integration to allow it"
        );
        assert!(check("crm", "127.0.0.1".parse().unwrap(), true).is_ok());
    }
}
