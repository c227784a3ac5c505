//! The signature debugger's comparison: the base string a server computed for a refused request
//! against the one the client's code produced — where they first differ, and which of the usual
//! mistakes explains it. Pure text work: no secret is ever needed (a base string holds none).
//!
//! Both strings are masked first ([`mask_credentials`]): the consumer key and the token id are
//! credentials that are shown once (RULES.md R6), so a kept base string holds only their first 8
//! characters, and a pasted one is compared in the same form.

use crate::encode;

/// What a masked credential keeps of its value.
const KEPT: usize = 8;
/// Marks the masked rest.
const MASK: &str = "…";

/// `oauth_consumer_key` and `oauth_token` values (as they appear in a base string, encoded
/// once or twice) reduced to their first 8 characters and `…`; in a TokenPassport's base
/// string (`account&consumerKey&token&nonce&timestamp`), its second and third fields.
pub fn mask_credentials(base_string: &str) -> String {
    if let Some(masked) = mask_passport(base_string) {
        return masked;
    }
    let mut out = String::with_capacity(base_string.len());
    let mut rest = base_string;
    // In a base string the parameter string is encoded twice (`%3D` for `=`); a pasted
    // parameter string alone may be encoded once.
    const KEYS: [&str; 6] = [
        "oauth_consumer_key%3D",
        "oauth_token%3D",
        "oauth_signature%3D",
        "oauth_consumer_key=",
        "oauth_token=",
        "oauth_signature=",
    ];
    while let Some((at, key)) = KEYS
        .iter()
        .filter_map(|k| rest.find(k).map(|at| (at, *k)))
        .min_by_key(|(at, _)| *at)
    {
        let value_at = at + key.len();
        out.push_str(&rest[..value_at]);
        let value = &rest[value_at..];
        if key.starts_with("oauth_signature") {
            // A signature sent in the query or the body (signed there, as RFC 5849 puts it) is
            // never kept: up to the next parameter.
            let len = value
                .find(if key.ends_with("%3D") { "%26" } else { "&" })
                .unwrap_or(value.len());
            out.push_str("***");
            rest = &value[len..];
            continue;
        }
        let len = value
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(value.len());
        if len > KEPT {
            out.push_str(&value[..KEPT]);
            out.push_str(MASK);
        } else {
            out.push_str(&value[..len]);
        }
        rest = &value[len..];
    }
    out.push_str(rest);
    out
}

/// A TokenPassport base string: five fields joined by `&`, none percent-encoded, the
/// timestamp digits.
fn mask_passport(base_string: &str) -> Option<String> {
    let fields: Vec<&str> = base_string.split('&').collect();
    let shaped = fields.len() == 5
        && !base_string.contains('%')
        && !fields[4].is_empty()
        && fields[4].bytes().all(|b| b.is_ascii_digit());
    if !shaped {
        return None;
    }
    let cut = |v: &str| {
        if v.chars().count() > KEPT {
            format!("{}{MASK}", v.chars().take(KEPT).collect::<String>())
        } else {
            v.to_owned()
        }
    };
    Some(format!(
        "{}&{}&{}&{}&{}",
        fields[0],
        cut(fields[1]),
        cut(fields[2]),
        fields[3],
        fields[4]
    ))
}

/// What is known of how the server read the request, kept with its base string.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServerSide {
    /// The masked base string.
    pub base_string: String,
    /// Names of the query's parameters.
    pub query_params: Vec<String>,
    /// Names of the form body's parameters (none when the body was not a signed form).
    pub form_params: Vec<String>,
    /// Whether the body was read as `application/x-www-form-urlencoded` (and so signed).
    pub form_body_signed: bool,
    /// Whether the `Authorization` header had a `realm` (never part of the base string).
    pub realm_sent: bool,
}

/// A usual mistake that explains a difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cause {
    /// The method is not upper case, or another one.
    Method,
    /// A default port (`:443`, `:80`) written into the URL.
    DefaultPortIncluded,
    /// A port the request was sent to left out, or another one.
    Port,
    /// Scheme or host differ (case, or another host than the one the request was sent to).
    SchemeOrHost,
    /// The path differs from the one sent (decoded, re-encoded, a trailing slash).
    Path,
    /// The query was left in the URL part instead of going into the parameters.
    QueryInUrl,
    /// A space encoded as `+` (form style) instead of `%20`.
    SpaceAsPlus,
    /// A value not percent-encoded (reserved characters left as they are).
    NotEncoded,
    /// A value encoded twice.
    EncodedTwice,
    /// The form body's parameters left out, though the body is a signed form.
    FormNotSigned,
    /// Parameters signed that the server does not see: a body signed that is not sent as
    /// `application/x-www-form-urlencoded`, or a parameter not sent at all.
    ExtraParameters,
    /// A query parameter left out.
    QueryNotSigned,
    /// `realm` put in the base string.
    RealmIncluded,
    /// `oauth_signature` put in the base string.
    SignatureIncluded,
    /// The parameters are not sorted by name, then value (encoded).
    NotSorted,
    /// Another request: the nonce or the timestamp differ.
    OtherRequest,
    /// Not three parts joined by `&`.
    NotABaseString,
    /// Percent-encoding with lower-case hex digits (`%2f`).
    LowerCaseHex,
}

impl Cause {
    /// A stable code (for JSON and the CLI).
    pub fn code(self) -> &'static str {
        match self {
            Cause::Method => "method",
            Cause::DefaultPortIncluded => "default_port_included",
            Cause::Port => "port",
            Cause::SchemeOrHost => "scheme_or_host",
            Cause::Path => "path",
            Cause::QueryInUrl => "query_in_url",
            Cause::SpaceAsPlus => "space_as_plus",
            Cause::NotEncoded => "not_encoded",
            Cause::EncodedTwice => "encoded_twice",
            Cause::FormNotSigned => "form_not_signed",
            Cause::ExtraParameters => "extra_parameters",
            Cause::QueryNotSigned => "query_not_signed",
            Cause::RealmIncluded => "realm_included",
            Cause::SignatureIncluded => "signature_included",
            Cause::NotSorted => "not_sorted",
            Cause::OtherRequest => "other_request",
            Cause::NotABaseString => "not_a_base_string",
            Cause::LowerCaseHex => "lower_case_hex",
        }
    }

    /// What to change, in a sentence.
    pub fn explain(self) -> &'static str {
        match self {
            Cause::Method => "The method must be the request's, in upper case (GET, POST).",
            Cause::DefaultPortIncluded => {
                "The URL has a default port (:443 for https, :80 for http): leave it out of the base string."
            }
            Cause::Port => {
                "The port differs: a non-default port the request was sent to belongs in the base string URL."
            }
            Cause::SchemeOrHost => {
                "The scheme or host differ: use the URL the request is sent to, scheme and host in lower case."
            }
            Cause::Path => {
                "The path differs: sign the path exactly as it is sent (no decoding or re-encoding, the same trailing slash)."
            }
            Cause::QueryInUrl => {
                "The query is in the URL part: the base string URL ends at the path; query parameters go among the parameters."
            }
            Cause::SpaceAsPlus => {
                "A space is encoded as + : OAuth 1.0 encodes a space as %20 (and + as %2B), in the query too."
            }
            Cause::NotEncoded => {
                "A value is not percent-encoded: every character but A-Z a-z 0-9 - . _ ~ must be (RFC 3986)."
            }
            Cause::EncodedTwice => {
                "A value is encoded twice: decode what was sent once, then encode it once for the base string."
            }
            Cause::FormNotSigned => {
                "The form body's parameters are missing: an application/x-www-form-urlencoded body is part of the signed parameters."
            }
            Cause::ExtraParameters => {
                "Parameters are signed that the server does not see: a body is signed only when sent as application/x-www-form-urlencoded, and every signed parameter must be sent."
            }
            Cause::QueryNotSigned => {
                "A query parameter is missing: every parameter of the query is signed."
            }
            Cause::RealmIncluded => {
                "realm is in the base string: it is sent in the Authorization header but never signed."
            }
            Cause::SignatureIncluded => {
                "oauth_signature is in the base string: it is the one parameter left out."
            }
            Cause::NotSorted => {
                "The parameters are not in order: sort by encoded name, then by encoded value."
            }
            Cause::OtherRequest => {
                "The nonce or timestamp differ: this base string is from another request; compare the one of the refused request."
            }
            Cause::NotABaseString => {
                "This is not a base string: it is the method, the encoded URL and the encoded parameters, joined by &."
            }
            Cause::LowerCaseHex => {
                "Percent-encoding uses lower-case hex (%2f): OAuth 1.0 asks for upper case (%2F)."
            }
        }
    }
}

/// Where two base strings differ, and why, as far as the usual mistakes tell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// The byte index (a character boundary in both) where they first differ; `None`: equal.
    pub first_difference: Option<usize>,
    pub causes: Vec<Cause>,
}

/// Compares the server's base string (masked) with the client's (masked here).
pub fn compare(server: &ServerSide, client: &str) -> Comparison {
    let client = mask_credentials(client.trim());
    let ours = server.base_string.as_str();
    let first_difference = first_difference(ours, &client);
    let mut causes = Vec::new();
    if first_difference.is_some() {
        explain(server, &client, &mut causes);
    }
    Comparison {
        first_difference,
        causes,
    }
}

fn first_difference(a: &str, b: &str) -> Option<usize> {
    let mut at = 0;
    for (x, y) in a.chars().zip(b.chars()) {
        if x != y {
            return Some(at);
        }
        at += x.len_utf8();
    }
    (a.len() != b.len()).then_some(at)
}

/// A base string's three parts, the last two decoded once.
struct Parts {
    method: String,
    url: String,
    params: Vec<(String, String)>,
}

fn parts(base: &str) -> Option<Parts> {
    let mut it = base.splitn(3, '&');
    let method = it.next()?.to_owned();
    let url = decode_lossy(it.next()?);
    let params_text = decode_lossy(it.next()?);
    let params = params_text
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((n, v)) => (n.to_owned(), v.to_owned()),
            None => (p.to_owned(), String::new()),
        })
        .collect();
    Some(Parts {
        method,
        url,
        params,
    })
}

/// `s` with the hex digits of every `%XX` in upper case.
fn upper_hex(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut left = 0;
    for c in s.chars() {
        if c == '%' {
            left = 2;
            out.push(c);
        } else if left > 0 {
            left -= 1;
            out.push(c.to_ascii_uppercase());
        } else {
            out.push(c);
        }
    }
    out
}

fn decode_lossy(s: &str) -> String {
    encode::decode(s).map_or_else(|_| s.to_owned(), |d| d.into_owned())
}

/// scheme, host, port (as written), path.
fn url_parts(url: &str) -> (String, String, Option<String>, String, bool) {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => {
            if p.chars().all(|c| c.is_ascii_digit()) && !p.is_empty() {
                (h.to_owned(), Some(p.to_owned()))
            } else {
                (authority.to_owned(), None)
            }
        }
        _ => (authority.to_owned(), None),
    };
    let has_query = path.contains('?');
    let path = path.split('?').next().unwrap_or("").to_owned();
    (scheme.to_owned(), host, port, path, has_query)
}

fn explain(server: &ServerSide, client: &str, causes: &mut Vec<Cause>) {
    let mut add = |c: Cause| {
        if !causes.contains(&c) {
            causes.push(c);
        }
    };
    // The usual causes are those of an OAuth base string (a TokenPassport's has no method, URL
    // or parameters to get wrong): the first difference alone speaks for a passport.
    let Some(ours) = parts(&server.base_string)
        .filter(|p| !p.method.is_empty() && p.method.bytes().all(|b| b.is_ascii_uppercase()))
    else {
        return;
    };
    let Some(theirs) = parts(client) else {
        add(Cause::NotABaseString);
        return;
    };
    if upper_hex(client) == server.base_string && client != server.base_string {
        add(Cause::LowerCaseHex);
        return;
    }
    if ours.method != theirs.method {
        add(Cause::Method);
    }
    if ours.url != theirs.url {
        let (s1, h1, p1, path1, _) = url_parts(&ours.url);
        let (s2, h2, p2, path2, query2) = url_parts(&theirs.url);
        if query2 {
            add(Cause::QueryInUrl);
        }
        if s1 != s2 || h1 != h2 {
            add(Cause::SchemeOrHost);
        }
        if p1 != p2 {
            let default = matches!(
                (s2.to_ascii_lowercase().as_str(), p2.as_deref()),
                ("https", Some("443")) | ("http", Some("80"))
            );
            add(if p1.is_none() && default {
                Cause::DefaultPortIncluded
            } else {
                Cause::Port
            });
        }
        if path1 != path2 {
            add(Cause::Path);
        }
    }
    let names = |ps: &[(String, String)]| ps.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    let (our_names, their_names) = (names(&ours.params), names(&theirs.params));
    if their_names.iter().any(|n| n == "realm") {
        add(Cause::RealmIncluded);
    }
    if their_names.iter().any(|n| n == "oauth_signature") {
        add(Cause::SignatureIncluded);
    }
    for (name, value) in &ours.params {
        match theirs.params.iter().find(|(n, _)| n == name) {
            None if server.form_params.contains(name) => add(Cause::FormNotSigned),
            None if server.query_params.contains(name) => add(Cause::QueryNotSigned),
            None => {}
            Some((_, v)) if v == value => {}
            Some((_, v)) => {
                if matches!(name.as_str(), "oauth_nonce" | "oauth_timestamp") {
                    add(Cause::OtherRequest);
                } else if v.replace('+', "%20") == *value || v.replace("%2B", "%20") == *value {
                    add(Cause::SpaceAsPlus);
                } else if decode_lossy(value) == *v {
                    add(Cause::NotEncoded);
                } else if decode_lossy(v) == *value {
                    add(Cause::EncodedTwice);
                }
            }
        }
    }
    let extra = their_names
        .iter()
        .any(|n| !our_names.contains(n) && n != "realm" && n != "oauth_signature");
    if extra {
        add(Cause::ExtraParameters);
    }
    // The same parameters in another order.
    let mut sorted_theirs = theirs.params.clone();
    sorted_theirs.sort();
    if sorted_theirs != theirs.params {
        let mut sorted_ours = ours.params.clone();
        sorted_ours.sort();
        if sorted_ours == sorted_theirs {
            add(Cause::NotSorted);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{RequestToSign, Signer, encode::encode};

    const CK: &str = "14d909a0db36882645f9feb1767a261a7babea5aeb1b075bb2556ee3b1dc1b03";
    const TID: &str = "80b521502b5a9fb54997747f384819a65f6bc4deebf01cd594c0e8fec554959b";

    /// A base string as a correct client makes it, for `url` and a form `body`.
    fn correct(method: &str, url: &str, body: Option<&[u8]>) -> String {
        let signer = Signer::new(
            CK,
            &"a".repeat(64).as_str().into(),
            TID,
            &"b".repeat(64).as_str().into(),
        )
        .with_realm("1234567");
        signer
            .sign(&RequestToSign {
                method,
                url,
                nonce: Some("abcdef123"),
                timestamp: Some(1_700_000_000),
                form_body: body,
                ..RequestToSign::default()
            })
            .unwrap()
            .base_string
    }

    fn server(base: &str, query: &[&str], form: &[&str]) -> ServerSide {
        ServerSide {
            base_string: mask_credentials(base),
            query_params: query.iter().map(|s| s.to_string()).collect(),
            form_params: form.iter().map(|s| s.to_string()).collect(),
            form_body_signed: !form.is_empty(),
            realm_sent: true,
        }
    }

    const URL: &str =
        "https://1234567.restlets.api.netsuite.com/app/site/hosting/restlet.nl?script=1&deploy=1";

    #[test]
    fn a_signature_in_the_query_is_never_kept_and_lower_case_hex_is_named() {
        let base = "GET&https%3A%2F%2Fx%2Fp&a%3D1%26oauth_signature%3DLEAKME%253D%26z%3D2";
        let masked = mask_credentials(base);
        assert_eq!(
            masked,
            "GET&https%3A%2F%2Fx%2Fp&a%3D1%26oauth_signature%3D***%26z%3D2"
        );
        let ours = server(&correct("GET", URL, None), &["script", "deploy"], &[]);
        let lower = correct("GET", URL, None).replace("%2F", "%2f");
        assert_eq!(compare(&ours, &lower).causes, [Cause::LowerCaseHex]);
    }

    #[test]
    fn a_passport_base_string_has_its_credentials_masked() {
        let base = format!("1234567&{CK}&{TID}&nonce123&1700000000");
        let masked = mask_credentials(&base);
        assert_eq!(masked, "1234567&14d909a0…&80b52150…&nonce123&1700000000");
        let server = server(&base, &[], &[]);
        let other = format!("1234567&{CK}&{TID}&nonce124&1700000000");
        let c = compare(&server, &other);
        assert!(c.first_difference.is_some());
        assert!(c.causes.is_empty(), "{:?}", c.causes);
        assert_eq!(compare(&server, &base).first_difference, None);
    }

    #[test]
    fn credentials_are_masked_alike_on_both_sides() {
        let base = correct("GET", URL, None);
        let masked = mask_credentials(&base);
        assert!(!masked.contains(CK) && !masked.contains(TID), "{masked}");
        assert!(
            masked.contains("oauth_consumer_key%3D14d909a0…"),
            "{masked}"
        );
        assert!(masked.contains("oauth_token%3D80b52150…"), "{masked}");
        let same = compare(&server(&base, &["script", "deploy"], &[]), &base);
        assert_eq!(same.first_difference, None);
        assert!(same.causes.is_empty());
    }

    #[test]
    fn a_default_port_and_a_query_in_the_url_are_named() {
        let ours = server(&correct("GET", URL, None), &["script", "deploy"], &[]);
        let with_port = correct(
            "GET",
            "https://1234567.restlets.api.netsuite.com:443/app/site/hosting/restlet.nl?script=1&deploy=1",
            None,
        );
        // The signer normalizes the port away; a hand-made base string keeps it.
        let hand = with_port.replacen(
            encode("https://1234567.restlets.api.netsuite.com/").as_ref(),
            encode("https://1234567.restlets.api.netsuite.com:443/").as_ref(),
            1,
        );
        let c = compare(&ours, &hand);
        assert!(c.first_difference.is_some());
        assert_eq!(c.causes, [Cause::DefaultPortIncluded]);
        let query_in_url = hand.replacen(
            encode("https://1234567.restlets.api.netsuite.com:443/app/site/hosting/restlet.nl")
                .as_ref(),
            encode(URL).as_ref(),
            1,
        );
        let c = compare(&ours, &query_in_url);
        assert!(c.causes.contains(&Cause::QueryInUrl), "{:?}", c.causes);
    }

    #[test]
    fn plus_for_space_an_unsigned_form_and_realm_are_named() {
        let url = "https://1234567.restlets.api.netsuite.com/app/site/hosting/restlet.nl?script=1&deploy=1&q=a%20b";
        let form = b"name=Jane+Doe&city=Z%C3%BCrich";
        let base = correct("POST", url, Some(form));
        let ours = server(&base, &["script", "deploy", "q"], &["name", "city"]);
        // Form style: a space as +, encoded once more in the base string as %2B.
        let plus = base.replacen("q%3Da%2520b", "q%3Da%2Bb", 1);
        assert_eq!(compare(&ours, &plus).causes, [Cause::SpaceAsPlus]);
        let plus_encoded = base.replacen("q%3Da%2520b", "q%3Da%252Bb", 1);
        assert_eq!(compare(&ours, &plus_encoded).causes, [Cause::SpaceAsPlus]);
        // The body not signed.
        let unsigned = correct("POST", url, None);
        assert_eq!(compare(&ours, &unsigned).causes, [Cause::FormNotSigned]);
        // realm among the parameters.
        let with_realm = base.replacen("%26script%3D1", "%26realm%3D1234567%26script%3D1", 1);
        assert!(
            compare(&ours, &with_realm)
                .causes
                .contains(&Cause::RealmIncluded)
        );
        // Another request altogether.
        let other = base.replacen("abcdef123", "zzzzzz999", 1);
        assert_eq!(compare(&ours, &other).causes, [Cause::OtherRequest]);
        // The first difference is where the strings part.
        let c = compare(&ours, &plus);
        let at = c.first_difference.unwrap();
        assert_eq!(&ours.base_string[..at], &mask_credentials(&plus)[..at]);
        assert_ne!(
            ours.base_string[at..].chars().next(),
            plus[at..].chars().next()
        );
    }

    #[test]
    fn a_lower_case_method_and_a_decoded_path_are_named() {
        let url = "https://1234567.restlets.api.netsuite.com/services/rest/record/v1/customer%2F1";
        let base = correct("GET", url, None);
        let ours = server(&base, &[], &[]);
        let lower = base.replacen("GET&", "get&", 1);
        assert_eq!(compare(&ours, &lower).causes, [Cause::Method]);
        let decoded = base.replacen("customer%252F1", "customer%2F1", 1);
        assert_eq!(compare(&ours, &decoded).causes, [Cause::Path]);
        assert_eq!(
            compare(&ours, "not a base string").causes,
            [Cause::NotABaseString]
        );
    }
}
