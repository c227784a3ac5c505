//! The request URL as OAuth signs it: the base string URI (RFC 5849 §3.4.1.2) and the query.
//!
//! The path is kept **exactly as the request carried it**: no decoding, no re-encoding, no dot
//! segment removal. Every client library signs the path it sends, so `%2F` and lower-case `%c3`
//! must survive. Only the scheme and host are lower-cased and a default port dropped.

use std::borrow::Cow;
use std::fmt;

use thiserror::Error;

use crate::encode::{is_unreserved, push_escape};

/// Why a URL cannot be used for signing.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UrlError {
    #[error("the URL must be absolute (scheme://host/path)")]
    NotAbsolute,
    #[error("unsupported scheme {scheme:?}: only http and https can be signed")]
    UnsupportedScheme { scheme: String },
    #[error("the URL has no host")]
    MissingHost,
    #[error("user information (user@host) is not allowed in a signed URL")]
    UserInfo,
    #[error("invalid host: {why}")]
    InvalidHost { why: &'static str },
    #[error("invalid port {port:?}: it must be a number from 1 to 65535")]
    InvalidPort { port: String },
    #[error(
        "byte 0x{byte:02X} at position {position} is not allowed in a URL; percent-encode it first"
    )]
    DisallowedCharacter { position: usize, byte: u8 },
    #[error("the path must start with '/' (got {path:?})")]
    InvalidPath { path: String },
}

/// URL scheme of a signed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl Scheme {
    /// Parses a scheme, case-insensitively.
    pub fn parse(s: &str) -> Result<Self, UrlError> {
        if s.eq_ignore_ascii_case("http") {
            Ok(Self::Http)
        } else if s.eq_ignore_ascii_case("https") {
            Ok(Self::Https)
        } else {
            Err(UrlError::UnsupportedScheme {
                scheme: s.to_owned(),
            })
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
        }
    }

    pub fn default_port(self) -> u16 {
        match self {
            Self::Http => 80,
            Self::Https => 443,
        }
    }
}

/// A request URL split into the parts the signature uses. Borrows the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestUrl<'a> {
    scheme: Scheme,
    /// As given; lower-cased when written into the base string.
    host: &'a str,
    /// Explicit port, `None` when absent or equal to the scheme's default.
    port: Option<u16>,
    /// Exactly as sent, never empty (an empty path is `/`).
    path: &'a str,
    /// The raw query without `?`, if any.
    query: Option<&'a str>,
}

fn allowed_in_url(b: u8) -> bool {
    crate::charset::URL_CHARS.contains(b)
}

fn check_url_chars(s: &str, offset: usize) -> Result<(), UrlError> {
    match s.bytes().position(|b| !allowed_in_url(b)) {
        Some(i) => Err(UrlError::DisallowedCharacter {
            position: offset + i,
            byte: s.as_bytes()[i],
        }),
        None => Ok(()),
    }
}

/// Percent-encodes (upper-case hex) every byte that cannot appear in a URL, leaving `%` and all
/// reserved characters alone, so the result is what an HTTP client puts on the wire for a URL
/// typed with spaces or non-ASCII characters. Borrowed when nothing changes.
pub fn escape_disallowed(url: &str) -> Cow<'_, str> {
    if url.bytes().all(allowed_in_url) {
        return Cow::Borrowed(url);
    }
    let mut out = String::with_capacity(url.len() + 16);
    for &b in url.as_bytes() {
        if allowed_in_url(b) {
            out.push(b as char);
        } else {
            push_escape(&mut out, b);
        }
    }
    Cow::Owned(out)
}

fn parse_port(s: &str) -> Result<Option<u16>, UrlError> {
    if s.is_empty() {
        // RFC 3986 §3.2.3: an empty port is the scheme's default.
        return Ok(None);
    }
    let invalid = || UrlError::InvalidPort { port: s.to_owned() };
    if !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    match s.parse::<u16>() {
        Ok(0) | Err(_) => Err(invalid()),
        Ok(p) => Ok(Some(p)),
    }
}

/// Splits `host[:port]` (host may be an IPv6 literal in brackets).
fn split_authority(authority: &str) -> Result<(&str, Option<u16>), UrlError> {
    if authority.contains('@') {
        return Err(UrlError::UserInfo);
    }
    if authority.is_empty() {
        return Err(UrlError::MissingHost);
    }
    let (host, port) = if authority.starts_with('[') {
        let close = authority.find(']').ok_or(UrlError::InvalidHost {
            why: "IPv6 literal without ']'",
        })?;
        let (host, rest) = authority.split_at(close + 1);
        if host.len() == 2
            || !host[1..host.len() - 1]
                .bytes()
                .all(|b| b.is_ascii_hexdigit() || b == b':' || b == b'.')
        {
            return Err(UrlError::InvalidHost {
                why: "an IPv6 literal holds hex digits, ':' and '.' only",
            });
        }
        match rest.strip_prefix(':') {
            Some(port) => (host, parse_port(port)?),
            None if rest.is_empty() => (host, None),
            None => {
                return Err(UrlError::InvalidHost {
                    why: "unexpected characters after the IPv6 literal",
                });
            }
        }
    } else {
        match authority.rsplit_once(':') {
            Some((host, port)) => (host, parse_port(port)?),
            None => (authority, None),
        }
    };
    if host.is_empty() {
        return Err(UrlError::MissingHost);
    }
    let is_reg_name_byte = |b: u8| is_unreserved(b) || b"%!$&'()*+,;=".contains(&b);
    if !host.starts_with('[') && !host.bytes().all(is_reg_name_byte) {
        return Err(UrlError::InvalidHost {
            why: "a host name holds unreserved characters, sub-delimiters and %-escapes only",
        });
    }
    Ok((host, port))
}

impl<'a> RequestUrl<'a> {
    /// Parses an absolute `http`/`https` URL. A fragment is dropped (it is never sent).
    /// Characters that cannot appear in a URL are refused; see [`escape_disallowed`].
    pub fn parse(url: &'a str) -> Result<Self, UrlError> {
        check_url_chars(url, 0)?;
        let (scheme, rest) = url.split_once("://").ok_or(UrlError::NotAbsolute)?;
        if scheme.is_empty() || !scheme.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(UrlError::NotAbsolute);
        }
        let scheme = Scheme::parse(scheme)?;
        let rest = rest.split_once('#').map_or(rest, |(before, _)| before);
        let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path_and_query) = rest.split_at(authority_end);
        let (host, port) = split_authority(authority)?;
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path_and_query, None),
        };
        Ok(Self::from_split(scheme, host, port, path, query))
    }

    /// Builds the URL of a request received by a server: the scheme it was served under, the
    /// `Host` header value (`host[:port]`), and the request target's path and query as received.
    pub fn from_parts(
        scheme: Scheme,
        authority: &'a str,
        path_and_query: &'a str,
    ) -> Result<Self, UrlError> {
        check_url_chars(authority, 0)?;
        check_url_chars(path_and_query, 0)?;
        let (host, port) = split_authority(authority)?;
        let (path, query) = match path_and_query.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (path_and_query, None),
        };
        if !path.is_empty() && !path.starts_with('/') {
            return Err(UrlError::InvalidPath {
                path: path.to_owned(),
            });
        }
        Ok(Self::from_split(scheme, host, port, path, query))
    }

    fn from_split(
        scheme: Scheme,
        host: &'a str,
        port: Option<u16>,
        path: &'a str,
        query: Option<&'a str>,
    ) -> Self {
        Self {
            scheme,
            host,
            port: port.filter(|&p| p != scheme.default_port()),
            path: if path.is_empty() { "/" } else { path },
            query,
        }
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// The host as given (not lower-cased).
    pub fn host(&self) -> &'a str {
        self.host
    }

    /// The port, when it is not the scheme's default.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The path exactly as sent (`/` when the URL had none).
    pub fn path(&self) -> &'a str {
        self.path
    }

    /// The raw query (without `?`).
    pub fn query(&self) -> Option<&'a str> {
        self.query
    }

    /// Appends the RFC 3986 encoding of the base string URI to `out`, without building it first.
    pub(crate) fn write_encoded_base_uri(&self, out: &mut String) {
        out.push_str(self.scheme.as_str());
        out.push_str("%3A%2F%2F");
        let host = self.host.as_bytes();
        if host
            .iter()
            .all(|&b| is_unreserved(b) && !b.is_ascii_uppercase())
        {
            out.push_str(self.host);
        } else {
            for &b in host {
                let b = b.to_ascii_lowercase();
                if is_unreserved(b) {
                    out.push(char::from(b));
                } else {
                    push_escape(out, b);
                }
            }
        }
        if let Some(port) = self.port {
            out.push_str("%3A");
            out.push_str(itoa_u16(port, &mut [0u8; 5]));
        }
        crate::encode::encode_into(out, self.path);
    }

    /// The base string URI: `scheme://host[:port]/path`, scheme and host lower-cased.
    pub fn base_uri(&self) -> String {
        self.to_string()
    }
}

fn itoa_u16(mut n: u16, buf: &mut [u8; 5]) -> &str {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    // Only ASCII digits were written.
    std::str::from_utf8(&buf[i..]).unwrap_or("0")
}

impl fmt::Display for RequestUrl<'_> {
    /// Writes the base string URI.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}://{}",
            self.scheme.as_str(),
            self.host.to_ascii_lowercase()
        )?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        f.write_str(self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(url: &str) -> String {
        RequestUrl::parse(url).unwrap().base_uri()
    }

    #[test]
    fn base_uri_normalisation() {
        assert_eq!(
            base("HTTP://Example.COM:80/r%20v/X?id=123"),
            "http://example.com/r%20v/X"
        );
        assert_eq!(
            base("https://www.example.net:8080/?q=1"),
            "https://www.example.net:8080/"
        );
        assert_eq!(base("https://h:443"), "https://h/");
        assert_eq!(base("http://h:443/a"), "http://h:443/a");
        assert_eq!(base("http://h:/a"), "http://h/a");
        assert_eq!(base("http://[::1]:8080/a#frag"), "http://[::1]:8080/a");
        assert_eq!(base("http://[FE80::1]/a"), "http://[fe80::1]/a");
        assert_eq!(base("http://h/a%2Fb/%c3%a9"), "http://h/a%2Fb/%c3%a9");
    }

    #[test]
    fn refuses_what_cannot_be_signed() {
        assert_eq!(RequestUrl::parse("/relative"), Err(UrlError::NotAbsolute));
        assert!(matches!(
            RequestUrl::parse("ftp://h/"),
            Err(UrlError::UnsupportedScheme { .. })
        ));
        assert_eq!(RequestUrl::parse("http://u:p@h/"), Err(UrlError::UserInfo));
        assert_eq!(RequestUrl::parse("http:///x"), Err(UrlError::MissingHost));
        assert!(matches!(
            RequestUrl::parse("http://h:99999/"),
            Err(UrlError::InvalidPort { .. })
        ));
        assert!(matches!(
            RequestUrl::parse("http://h/a b"),
            Err(UrlError::DisallowedCharacter {
                position: 10,
                byte: b' '
            })
        ));
        assert!(matches!(
            RequestUrl::parse("http://[zz]/"),
            Err(UrlError::InvalidHost { .. })
        ));
    }

    #[test]
    fn escape_disallowed_keeps_existing_escapes() {
        assert_eq!(
            escape_disallowed("http://h/café?a=b c&x=%2F"),
            "http://h/caf%C3%A9?a=b%20c&x=%2F"
        );
        assert!(matches!(escape_disallowed("http://h/a"), Cow::Borrowed(_)));
    }

    #[test]
    fn from_parts_uses_host_header() {
        let url = RequestUrl::from_parts(Scheme::Https, "API.Example.com:443", "/p?x=1").unwrap();
        assert_eq!(url.base_uri(), "https://api.example.com/p");
        assert_eq!(url.query(), Some("x=1"));
        assert!(matches!(
            RequestUrl::from_parts(Scheme::Http, "h", "p"),
            Err(UrlError::InvalidPath { .. })
        ));
    }
}
