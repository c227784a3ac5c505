//! IP allow-lists (RULES.md R17, Tessera's choice): the networks an account's requests, or an
//! integration record's requests in one account, may come from.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

use crate::error::{Error, Result};

/// The most networks one list holds.
pub const ALLOW_LIST_MAX: usize = 100;
/// The longest text a list is read from (before anything is parsed).
const TEXT_MAX: usize = 8 * 1024;

/// The networks requests may come from. Empty: any address (no list).
///
/// Networks are kept canonical — host bits cleared (`10.1.2.3/8` is `10.0.0.0/8`), an address
/// alone is its own /32 or /128, IPv4-mapped IPv6 is IPv4 — so the stored text is the same on
/// every engine and PostgreSQL's `inet` reads every entry.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct IpAllowList(Vec<IpNet>);

impl IpAllowList {
    /// No list: every address is allowed.
    pub const fn any() -> Self {
        Self(Vec::new())
    }

    /// Reads networks separated by commas, spaces or line breaks (`10.0.0.0/8, 2001:db8::/32`,
    /// `192.0.2.7`). Every entry is checked; the first bad one is named. Duplicates are kept
    /// once, in the order given.
    pub fn parse(field: &'static str, text: &str) -> Result<Self> {
        if text.len() > TEXT_MAX {
            return Err(Error::invalid(
                field,
                format!("is longer than {TEXT_MAX} bytes"),
            ));
        }
        let mut nets: Vec<IpNet> = Vec::new();
        for entry in text
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|e| !e.is_empty())
        {
            let net = parse_net(entry).ok_or_else(|| {
                Error::invalid(
                    field,
                    format!(
                        "{:?} is not an IP address or network (such as 192.0.2.7, \
                         10.0.0.0/8 or 2001:db8::/32)",
                        clip(entry)
                    ),
                )
            })?;
            if !nets.contains(&net) {
                nets.push(net);
            }
            if nets.len() > ALLOW_LIST_MAX {
                return Err(Error::invalid(
                    field,
                    format!("holds more than {ALLOW_LIST_MAX} networks"),
                ));
            }
        }
        Ok(Self(nets))
    }

    /// The stored form: canonical networks joined by commas; `None` for no list.
    pub fn to_stored(&self) -> Option<String> {
        (!self.0.is_empty()).then(|| self.to_string())
    }

    /// Reads the stored form back; `None` (SQL NULL) is no list.
    pub fn from_stored(stored: Option<&str>) -> Option<Self> {
        match stored {
            None => Some(Self::any()),
            Some(text) => Self::parse("ip_allow", text).ok(),
        }
    }

    pub fn is_any(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `ip` may send requests: any address when there is no list.
    pub fn allows(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.is_empty() || self.0.iter().any(|net| net.contains(&ip))
    }

    /// The networks, canonical, in the order given.
    pub fn networks(&self) -> impl Iterator<Item = String> + '_ {
        self.0.iter().map(IpNet::to_string)
    }
}

/// An address alone, or a network in CIDR notation, canonical.
fn parse_net(entry: &str) -> Option<IpNet> {
    let net = match entry.parse::<IpNet>() {
        Ok(net) => net,
        Err(_) => IpNet::from(entry.parse::<IpAddr>().ok()?),
    };
    // IPv4-mapped IPv6 (::ffff:10.0.0.0/104) is the IPv4 network it maps.
    let net = match net {
        IpNet::V6(v6) if v6.addr().to_ipv4_mapped().is_some() && v6.prefix_len() >= 96 => {
            let v4 = v6.addr().to_ipv4_mapped()?;
            IpNet::new(IpAddr::V4(v4), v6.prefix_len() - 96).ok()?
        }
        other => other,
    };
    Some(net.trunc())
}

fn clip(entry: &str) -> String {
    entry.chars().take(60).collect()
}

impl fmt::Display for IpAllowList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text: Vec<String> = self.networks().collect();
        f.write_str(&text.join(","))
    }
}

impl fmt::Debug for IpAllowList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.networks()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn networks_are_read_canonical_and_matched() {
        let list = IpAllowList::parse(
            "f",
            "10.1.2.3/8, 192.0.2.7\n2001:db8::1/32 ::ffff:198.51.100.0/120",
        )
        .unwrap();
        assert_eq!(
            list.to_string(),
            "10.0.0.0/8,192.0.2.7/32,2001:db8::/32,198.51.100.0/24"
        );
        assert!(list.allows(ip("10.200.0.1")));
        assert!(list.allows(ip("192.0.2.7")));
        assert!(!list.allows(ip("192.0.2.8")));
        assert!(list.allows(ip("2001:db8:ffff::5")));
        // An IPv4 client seen as IPv4-mapped IPv6 (a dual-stack socket) is the IPv4 address.
        assert!(list.allows(ip("::ffff:10.9.9.9")));
        assert!(list.allows(ip("198.51.100.77")));
        assert!(!list.allows(ip("11.0.0.1")));
        // Stored and read back alike.
        let stored = list.to_stored().unwrap();
        assert_eq!(IpAllowList::from_stored(Some(&stored)), Some(list));
    }

    #[test]
    fn no_list_allows_everything_and_stores_as_null() {
        let list = IpAllowList::parse("f", " , \n").unwrap();
        assert!(list.is_any());
        assert!(list.allows(ip("203.0.113.1")));
        assert_eq!(list.to_stored(), None);
        assert_eq!(IpAllowList::from_stored(None), Some(IpAllowList::any()));
    }

    #[test]
    fn bad_entries_and_oversized_lists_are_named() {
        for bad in [
            "10.0.0.0/33",
            "300.1.1.1",
            "example.com",
            "10.0.0.0/8/8",
            "::1/129",
        ] {
            let e = IpAllowList::parse("ip_allow_list", bad).unwrap_err();
            assert!(e.to_string().contains("is not an IP address"), "{bad}: {e}");
        }
        let many: Vec<String> = (0..=ALLOW_LIST_MAX)
            .map(|i| format!("10.0.{i}.0/24"))
            .collect();
        let e = IpAllowList::parse("f", &many.join(",")).unwrap_err();
        assert!(e.to_string().contains("more than"), "{e}");
        assert!(IpAllowList::parse("f", &"1".repeat(TEXT_MAX + 1)).is_err());
        // Duplicates are kept once.
        let list = IpAllowList::parse("f", "10.0.0.1/8,10.0.0.0/8").unwrap();
        assert_eq!(list.to_string(), "10.0.0.0/8");
    }
}
