//! What of a request may be written down: URIs with secret-looking query values masked, and
//! text clipped to the audit trail's column sizes.

/// `s` cut to at most `max` bytes, at a character boundary.
pub(crate) fn clip(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

/// Query parameter names whose values never reach the audit trail: OAuth and NLAuth
/// parameters (a client may put its signature, or its password, in the query) and anything
/// named like a secret.
fn is_sensitive_param(name: &str) -> bool {
    // As the name is read (`oauth%5Ftoken` is `oauth_token`); undecodable, as sent.
    let decoded = tessera_oauth1::encode::form_decode(name);
    let name = decoded.as_deref().unwrap_or(name).to_ascii_lowercase();
    name.starts_with("oauth_")
        || name.starts_with("nlauth_")
        || ["password", "passwd", "pwd", "secret", "signature"]
            .iter()
            .any(|s| name.contains(s))
}

/// The request URI for the audit trail, with the values of sensitive query parameters masked.
pub(crate) fn redact_sensitive_query(uri: &str) -> String {
    let Some((path, query)) = uri.split_once('?') else {
        return uri.to_owned();
    };
    let sensitive = |pair: &str| is_sensitive_param(pair.split_once('=').map_or(pair, |(n, _)| n));
    if !query.split('&').any(sensitive) {
        return uri.to_owned();
    }
    let parts: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if is_sensitive_param(name) => format!("{name}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{path}?{}", parts.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn oauth_query_values_are_masked_for_the_audit_trail() {
        assert_eq!(
            redact_sensitive_query("/r?script=1&oauth_signature=abc&OAUTH_TOKEN=x&deploy=2"),
            "/r?script=1&oauth_signature=***&OAUTH_TOKEN=***&deploy=2"
        );
        assert_eq!(redact_sensitive_query("/r"), "/r");
        assert_eq!(
            redact_sensitive_query(
                "/rest/issuetoken?consumerKey=k&nlauth_signature=pw&Password=hunter2&client_secret=s&name=n"
            ),
            "/rest/issuetoken?consumerKey=k&nlauth_signature=***&Password=***&client_secret=***&name=n"
        );
        assert_eq!(
            redact_sensitive_query("/r?oauth%5Ftoken=LEAK&pass%77ord=LEAK&a=1"),
            "/r?oauth%5Ftoken=***&pass%77ord=***&a=1"
        );
    }

    #[test]
    fn clipping_keeps_whole_characters() {
        assert_eq!(clip("héllo", 2), "h");
        assert_eq!(clip("abc", 5), "abc");
    }
}
