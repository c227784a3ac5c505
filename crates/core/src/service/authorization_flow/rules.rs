//! The flow's rules that need no store: the callback match, the redirect, `state`, the
//! verifier's digest, and whether the record still lets a request token through.

use super::*;

/// The parameters the consent's redirect adds to the callback (a callback may not carry them).
pub(crate) const CALLBACK_PARAMETERS: &[&str] = &[
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

#[cfg(test)]
mod tests {
    use super::*;

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
