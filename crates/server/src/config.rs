//! The server's settings, as the binary resolves them from flags, environment and file.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use tessera_core::verifier::VerifierConfig;

/// Settings of the HTTP server.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Scheme and authority (`http://127.0.0.1:8080`) under which clients reach this server
    /// and sign their requests. Empty: the listen address and its `localhost` / `127.0.0.1` /
    /// `[::1]` forms, under `http`.
    pub public_origins: Vec<Origin>,
    /// Peers whose `X-Forwarded-For`/`-Proto`/`-Host` headers are believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// Peers allowed to call the verification API and the forward-auth endpoint. Empty: the
    /// loopback addresses only.
    pub trusted_services: Vec<IpAddr>,
    /// Largest request body read, in bytes.
    pub max_body_bytes: usize,
    /// How long graceful shutdown waits for requests in flight.
    pub shutdown_grace: Duration,
    /// Wrong passwords (issuetoken, web UI) allowed in a sliding hour from one address, and
    /// for one user from sources it never signed in from; beyond it, passwords are not
    /// evaluated until the oldest failure ages out (see `throttle`).
    pub login_failures_per_hour: usize,
    /// Wrong passwords allowed in a sliding hour for one user from one source (an address, or
    /// a browser's device cookie).
    pub login_failures_per_user_and_source: usize,
    /// A web UI session ends after this long without a request.
    pub ui_idle_timeout: Duration,
    /// A web UI session ends this long after sign-in, however busy.
    pub ui_session_lifetime: Duration,
    /// Connection and request limits of the HTTP edge (time-outs, caps, sizes).
    pub edge: crate::edge::EdgeLimits,
    pub verifier: VerifierConfig,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            public_origins: Vec::new(),
            trusted_proxies: Vec::new(),
            trusted_services: Vec::new(),
            max_body_bytes: 10 * 1024 * 1024,
            shutdown_grace: Duration::from_secs(30),
            login_failures_per_hour: crate::throttle::FAILURES_PER_HOUR,
            login_failures_per_user_and_source: crate::throttle::FAILURES_PER_USER_AND_SOURCE,
            ui_idle_timeout: Duration::from_secs(30 * 60),
            ui_session_lifetime: Duration::from_secs(12 * 3600),
            edge: crate::edge::EdgeLimits::default(),
            verifier: VerifierConfig::default(),
        }
    }
}

impl ServerConfig {
    /// Whether `ip` is a proxy whose `X-Forwarded-*` headers are believed (an IPv4-mapped
    /// IPv6 address counts as its IPv4 address).
    pub fn is_trusted_proxy(&self, ip: IpAddr) -> bool {
        self.trusted_proxies.contains(&ip) || self.trusted_proxies.contains(&ip.to_canonical())
    }
}

/// One public origin: scheme and lower-case authority (`host[:port]`, default port left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub scheme: tessera_oauth1::Scheme,
    pub authority: String,
}

impl Origin {
    /// Parses `http://host[:port]` (a trailing `/` is allowed; nothing else may follow).
    /// The host is a DNS name (ASCII letters, digits, `-`, `.`), an IPv4 address or a bracketed
    /// IPv6 address, and the port 1–65535: an origin no request could name is refused.
    pub fn parse(s: &str) -> Result<Self, String> {
        let s = s.trim();
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| format!("public origin {s:?} must look like https://host[:port]"))?;
        let scheme = tessera_oauth1::Scheme::parse(scheme)
            .map_err(|_| format!("public origin {s:?}: scheme must be http or https"))?;
        let authority = rest.strip_suffix('/').unwrap_or(rest);
        if authority.is_empty() || authority.contains(['/', '?', '#', '@']) {
            return Err(format!(
                "public origin {s:?} must be scheme://host[:port] with no path"
            ));
        }
        let (host, port) = match authority.strip_prefix('[') {
            Some(v6) => {
                let (address, after) = v6
                    .split_once(']')
                    .ok_or_else(|| format!("public origin {s:?}: unclosed [ in the host"))?;
                if address.parse::<std::net::Ipv6Addr>().is_err() {
                    return Err(format!(
                        "public origin {s:?}: {address:?} is not an IPv6 address"
                    ));
                }
                // `]` ends the host: nothing may follow but `:port`.
                let port = (!after.is_empty()).then(|| after.strip_prefix(':').unwrap_or(after));
                (None, port)
            }
            None => match authority.rsplit_once(':') {
                Some((host, port)) => (Some(host), Some(port)),
                None => (Some(authority), None),
            },
        };
        if let Some(host) = host {
            let label_ok = |l: &str| {
                !l.is_empty()
                    && !l.starts_with('-')
                    && !l.ends_with('-')
                    && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            };
            if !host.split('.').all(label_ok) {
                return Err(format!(
                    "public origin {s:?}: {host:?} is not a host name or address (ASCII letters, \
                     digits, '-' and '.'; IPv6 in brackets)"
                ));
            }
        }
        if let Some(port) = port
            && !port.parse::<u16>().is_ok_and(|p| p != 0)
        {
            return Err(format!("public origin {s:?}: the port must be 1–65535"));
        }
        Ok(Self::new(scheme, authority))
    }

    pub fn new(scheme: tessera_oauth1::Scheme, authority: &str) -> Self {
        let authority = authority.to_ascii_lowercase();
        let default_suffix = format!(":{}", scheme.default_port());
        let authority = authority
            .strip_suffix(&default_suffix)
            .map(str::to_owned)
            .unwrap_or(authority);
        Self { scheme, authority }
    }

    /// Whether a request with this `Host` (as sent: any case, default port or not) names this
    /// origin. Allocation-free: it runs for every signed request.
    pub fn is_host(&self, host: &str) -> bool {
        let scheme = self.scheme;
        if host.eq_ignore_ascii_case(&self.authority) {
            return true;
        }
        // `host:443` for https (`:80` for http) names the origin without its default port.
        host.rsplit_once(':').is_some_and(|(name, port)| {
            port.parse::<u16>().ok() == Some(scheme.default_port())
                && !name.is_empty()
                && name.eq_ignore_ascii_case(&self.authority)
        })
    }

    /// Plain HTTP to this machine itself: the one case where the web UI's session cookie may go
    /// without `Secure` (a browser would not send it back otherwise).
    pub fn is_loopback_http(&self) -> bool {
        if self.scheme != tessera_oauth1::Scheme::Http {
            return false;
        }
        let host = match self.authority.rsplit_once(':') {
            Some((host, port)) if port.bytes().all(|b| b.is_ascii_digit()) => host,
            _ => self.authority.as_str(),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host == "localhost" || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
    }

    /// Whether an `Origin` request header (`scheme://host[:port]`) names this origin.
    pub fn is_origin_header(&self, value: &str) -> bool {
        Origin::parse(value).is_ok_and(|o| &o == self)
    }

    /// The default origins of a server listening on `addr`: plain HTTP to it, by its address
    /// and as `localhost`, `127.0.0.1` and `[::1]`.
    pub fn defaults_for(addr: SocketAddr) -> Vec<Origin> {
        let port = addr.port();
        let http = tessera_oauth1::Scheme::Http;
        let mut hosts = vec![
            format!("localhost:{port}"),
            format!("127.0.0.1:{port}"),
            format!("[::1]:{port}"),
        ];
        let own = match addr.ip() {
            IpAddr::V4(ip) => format!("{ip}:{port}"),
            IpAddr::V6(ip) => format!("[{ip}]:{port}"),
        };
        if !addr.ip().is_unspecified() && !hosts.contains(&own) {
            hosts.push(own);
        }
        hosts.iter().map(|h| Origin::new(http, h)).collect()
    }
}

impl std::str::FromStr for Origin {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        Origin::parse(s)
    }
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}", self.scheme.as_str(), self.authority)
    }
}

/// Written and read as `scheme://host[:port]` (the config file, `tessera config`).
impl serde::Serialize for Origin {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Origin {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Origin::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::Origin;

    #[test]
    fn an_origin_no_request_could_name_is_refused() {
        for bad in [
            "http://a.example:0",
            "http://a.example:99999",
            "http://a.example:",
            "http://::1",
            "http://*.example",
            "http://bücher.example",
            "http://.example",
            "http://[::1",
            "http://[nope]:80",
            "http://a_b.example",
        ] {
            assert!(Origin::parse(bad).is_err(), "{bad}");
        }
        for good in [
            "http://127.0.0.1:8080",
            "https://tessera.example.com",
            "http://[::1]:9",
            "http://[::1]",
            " http://localhost:8080 ",
            "https://1234567.restlets.api.netsuite.com/",
        ] {
            assert!(Origin::parse(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn only_plain_http_to_this_machine_counts_as_loopback() {
        for loopback in [
            "http://127.0.0.1:8080",
            "http://localhost",
            "http://[::1]:9",
        ] {
            assert!(
                Origin::parse(loopback).unwrap().is_loopback_http(),
                "{loopback}"
            );
        }
        for other in [
            "https://127.0.0.1:8080",
            "http://tessera.example.com",
            "http://10.0.0.1:8080",
            "http://localhost.example.com",
        ] {
            assert!(!Origin::parse(other).unwrap().is_loopback_http(), "{other}");
        }
    }

    #[test]
    fn an_origin_header_matches_in_any_case_and_with_the_default_port() {
        let o = Origin::parse("https://Tessera.example.com").unwrap();
        assert!(o.is_origin_header("https://tessera.example.com:443"));
        assert!(o.is_origin_header("https://TESSERA.example.com"));
        assert!(!o.is_origin_header("http://tessera.example.com"));
        assert!(!o.is_origin_header("null"));
        assert!(!o.is_origin_header("https://evil.example.com"));
    }

    #[test]
    fn a_host_names_an_origin_in_any_case_with_or_without_its_default_port() {
        let https = Origin::parse("https://1234567.Restlets.api.netsuite.com").unwrap();
        assert!(https.is_host("1234567.restlets.api.netsuite.com"));
        assert!(https.is_host("1234567.RESTLETS.api.netsuite.com:443"));
        assert!(!https.is_host("1234567.restlets.api.netsuite.com:80"));
        assert!(!https.is_host("1234567.restlets.api.netsuite.com.evil"));
        assert!(!https.is_host(":443"));
        let local = Origin::parse("http://localhost:8080").unwrap();
        assert!(local.is_host("LOCALHOST:8080"));
        assert!(!local.is_host("localhost"));
        assert!(!local.is_host("localhost:80"));
        let v6 = Origin::parse("http://[::1]").unwrap();
        assert!(v6.is_host("[::1]:80"));
        assert!(v6.is_host("[::1]"));
    }
}
