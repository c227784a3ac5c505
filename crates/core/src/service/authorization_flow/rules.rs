//! The flow's rules that need no store: the callback match, the redirect, `state`, the
//! verifier's digest, and whether the record still lets a request token through.

use super::*;

/// The parameters the consent's redirect adds to the callback (a callback may not carry them).
const CALLBACK_PARAMETERS: &[&str] = &[
    "oauth_token",
    "oauth_verifier",
    "company",
    "role",
    "entity",
    "state",
    "error",
];

/// Longest `state` the consent page carries to the callback.
pub const STATE_MAX: usize = 512;

/// `state` as the consent page takes it: at most [`STATE_MAX`] ASCII letters and digits.
pub fn check_flow_state(state: &str) -> Result<()> {
    if state.len() > STATE_MAX || !state.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(Error::invalid(
            "state",
            format!("must be at most {STATE_MAX} letters and digits"),
        ));
    }
    Ok(())
}

/// Whether an `oauth_callback` names the record's Callback URL: the same string, except that a
/// registered `http://localhost` callback matches any port (a desktop application's loopback
/// listener gets whatever port is free).
pub fn callback_matches(registered: &str, presented: &str) -> bool {
    if registered == presented {
        return true;
    }
    match (loopback_parts(registered), loopback_parts(presented)) {
        (Some((host_a, rest_a)), Some((host_b, rest_b))) => host_a == host_b && rest_a == rest_b,
        _ => false,
    }
}

/// `http://localhost[:port]<rest>` as (host, rest); `None` for anything else.
fn loopback_parts(url: &str) -> Option<(&str, &str)> {
    let rest = url.strip_prefix("http://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(end);
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    if host != "localhost" {
        return None;
    }
    if let Some(port) = port
        && !(port.bytes().all(|b| b.is_ascii_digit()) && port.parse::<u16>().is_ok_and(|p| p > 0))
    {
        return None;
    }
    Some((host, path))
}

/// The callback URL with the flow's answer appended to its query (before any fragment).
pub(super) fn redirect_to(callback: &str, params: &[(&str, &str)]) -> String {
    let (base, fragment) = match callback.split_once('#') {
        Some((base, fragment)) => (base, Some(fragment)),
        None => (callback, None),
    };
    let mut out = String::from(base);
    let mut sep = if base.contains('?') { '&' } else { '?' };
    for (name, value) in params {
        out.push(sep);
        out.push_str(name);
        out.push('=');
        out.push_str(&tessera_oauth1::encode::encode(value));
        sep = '&';
    }
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

pub(super) fn verifier_digest(verifier: &str) -> [u8; 32] {
    Sha256::digest(verifier.as_bytes()).into()
}

/// Whether the record still lets this request token through: the flow may have been switched
/// off, or the callback changed, since requesttoken (a request token outlives neither).
pub(super) fn still_allowed(
    integration: &Integration,
    row: &RequestTokenRow,
) -> std::result::Result<(), (Detail, &'static str)> {
    let s = &integration.switches;
    if !s.token_based_auth || !s.tba_authorization_flow {
        return Err((
            Detail::AuthorizationFlowRequired,
            "the integration record's authorization flow was switched off",
        ));
    }
    if !callback_matches(s.callback_url.as_deref().unwrap_or(""), &row.callback) {
        return Err((
            Detail::InvalidCallback,
            "the integration record's callback URL changed",
        ));
    }
    Ok(())
}

/// Longest callback URL a record may have.
const CALLBACK_MAX: usize = 2000;

/// A callback is an absolute URL; plain `http` only to the local machine, as NetSuite allows.
/// It is written as a browser sends it (visible ASCII: an international domain in its `xn--`
/// form), names no user or password and no backslash (which browsers read as a slash), a port
/// when it has one, and none of the parameters the flow adds to it (RULES.md §4.2) — so the
/// redirect the consent page sends is the callback and nothing else.
pub(crate) fn validate_callback(url: &str) -> Result<String> {
    let invalid = |why: &str| Error::invalid("callback_url", why);
    if url.len() > CALLBACK_MAX {
        return Err(invalid("must be at most 2000 characters"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("must not contain spaces or control characters"));
    }
    if !url.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(invalid(
            "must be ASCII: write an international domain in its xn-- form and percent-encode the rest",
        ));
    }
    if url.contains('\\') {
        return Err(invalid("must not contain a backslash"));
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err(invalid(
            "must be an absolute URL such as https://example.com/callback",
        ));
    };
    let scheme = scheme.to_ascii_lowercase();
    let valid_scheme = !scheme.is_empty()
        && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    if !valid_scheme {
        return Err(invalid("has an invalid scheme"));
    }
    // Schemes a browser runs or reads locally are never an application's callback.
    if matches!(
        scheme.as_str(),
        "javascript" | "vbscript" | "data" | "file" | "blob" | "about" | "filesystem"
    ) {
        return Err(invalid(
            "must not use the javascript, data, file or similar scheme",
        ));
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err(invalid("must not contain a user name or password"));
    }
    // `[v6]` or `[v6]:port` (a valid IPv6 address, nothing after `]` but a port), else
    // `host` or `host:port`.
    let (host, port) = match authority.strip_prefix('[') {
        Some(bracketed) => {
            let Some((address, after)) = bracketed.split_once(']') else {
                return Err(invalid("has an unclosed [ in its host"));
            };
            if address.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(invalid("has a [host] that is not an IPv6 address"));
            }
            let port = match after {
                "" => None,
                p => match p.strip_prefix(':') {
                    Some(port) => Some(port),
                    None => return Err(invalid("has something after its [host] but a port")),
                },
            };
            (address, port)
        }
        None => match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        },
    };
    if let Some(port) = port
        && !(!port.is_empty()
            && port.bytes().all(|b| b.is_ascii_digit())
            && port.parse::<u16>().is_ok_and(|p| p > 0))
    {
        return Err(invalid("has a port that is not 1 to 65535"));
    }
    if scheme == "http" {
        if !matches!(
            host.to_ascii_lowercase().as_str(),
            "localhost" | "127.0.0.1" | "::1"
        ) {
            return Err(invalid(
                "must use https (plain http is allowed for localhost only)",
            ));
        }
    } else if scheme == "https" && host.is_empty() {
        return Err(invalid("must name a host"));
    }
    let query = rest
        .split('#')
        .next()
        .and_then(|r| r.split_once('?'))
        .map_or("", |(_, q)| q);
    for pair in query.split('&') {
        let raw = pair.split('=').next().unwrap_or("");
        // As the application will read it: `st%61te` is `state`.
        let name = tessera_oauth1::encode::form_decode(raw)
            .map_err(|_| invalid("has a query that is not valid percent-encoding"))?;
        if CALLBACK_PARAMETERS.contains(&name.as_ref()) {
            return Err(invalid(&format!(
                "must not carry {name}: the authorization flow adds it"
            )));
        }
    }
    Ok(url.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn callbacks_need_https_except_on_localhost() {
        for ok in [
            "https://example.com/cb",
            "http://localhost:8080/cb",
            "http://127.0.0.1/cb",
            "http://[::1]:9000/cb",
            "myapp://callback",
        ] {
            assert!(validate_callback(ok).is_ok(), "{ok}");
        }
        for bad in [
            "example.com/cb",
            "http://example.com/cb",
            "http://localhost.evil.com/cb",
            "https:///nohost",
            "https://exa mple.com",
            "1http://x",
            "https://u:p@app.example/cb",
            "https://evil.com\\@good.com/",
            "https://bücher.example/cb",
            "http://localhost:99999/cb",
            "http://localhost:0/cb",
            "https://app.example/cb?oauth_verifier=x",
            "https://app.example/cb?a=1&state=evil",
            "https://app.example:+80/cb",
            "http://localhost:+80/cb",
            "https://app.example/cb?st%61te=1",
            "https://app.example/cb?oauth%5Ftoken=1",
            "http://[::1]evil.example/cb",
            "https://[evil.example]/cb",
            "javascript://%0aalert(1)",
            "JavaScript://x",
            "file:///etc/passwd",
            "data://x",
        ] {
            assert!(validate_callback(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn callbacks_match_exactly_or_on_a_loopback_port() {
        assert!(callback_matches(
            "https://a.example/cb",
            "https://a.example/cb"
        ));
        assert!(!callback_matches(
            "https://a.example/cb",
            "https://a.example/cb2"
        ));
        assert!(!callback_matches(
            "https://a.example/cb",
            "https://a.example:444/cb"
        ));
        assert!(callback_matches(
            "http://localhost/cb",
            "http://localhost:51234/cb"
        ));
        assert!(callback_matches(
            "http://localhost:8080/cb",
            "http://localhost:9/cb"
        ));
        assert!(!callback_matches(
            "http://localhost:8080/cb",
            "http://localhost:9/other"
        ));
        assert!(!callback_matches(
            "http://localhost/cb",
            "http://localhost.evil.com/cb"
        ));
        assert!(!callback_matches(
            "http://localhost/cb",
            "http://localhost:x/cb"
        ));
        assert!(!callback_matches(
            "http://localhost/cb",
            "http://evil.com@localhost/cb"
        ));
        assert!(!callback_matches(
            "http://127.0.0.1/cb",
            "http://127.0.0.1:9/cb"
        ));
        assert!(!callback_matches("http://localhost/cb", ""));
        assert!(!callback_matches(
            "http://localhost/cb",
            "http://localhost:99999/cb"
        ));
        assert!(!callback_matches(
            "http://localhost/cb",
            "http://localhost:0/cb"
        ));
        assert!(!callback_matches(
            "http://localhost/cb",
            "http://localhost:+80/cb"
        ));
    }

    #[test]
    fn redirects_append_to_the_query_before_the_fragment() {
        assert_eq!(
            redirect_to(
                "https://a.example/cb",
                &[("oauth_token", "t"), ("state", "")]
            ),
            "https://a.example/cb?oauth_token=t&state="
        );
        assert_eq!(
            redirect_to("https://a.example/cb?x=1#top", &[("a", "b c")]),
            "https://a.example/cb?x=1&a=b%20c#top"
        );
    }

    #[test]
    fn state_is_short_and_alphanumeric() {
        assert!(check_flow_state("").is_ok());
        assert!(check_flow_state(&"a".repeat(512)).is_ok());
        assert!(check_flow_state(&"a".repeat(513)).is_err());
        assert!(check_flow_state("a-b").is_err());
        assert!(check_flow_state("a b").is_err());
    }
}
