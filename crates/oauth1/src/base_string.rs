//! The signature base string (RFC 5849 §3.4.1):
//! `METHOD & enc(base URI) & enc(normalized parameters)`.
//!
//! Signed parameters are the query (form-decoded, so `+` is a space), an
//! `application/x-www-form-urlencoded` body, and the OAuth parameters except `realm` and
//! `oauth_signature`. Each name and value is RFC 3986 encoded, the pairs are sorted by encoded
//! name then encoded value (byte order: sorting decoded strings gives a different order), and
//! repeated names and empty values are all kept.
//!
//! The hot path allocates twice (the parameter list and the output): values that are already
//! canonical, which is nearly all of them, are borrowed from the request.

use std::borrow::Cow;
use std::fmt;

use thiserror::Error;

use crate::encode::{self, DecodeError};
use crate::header::AuthorizationHeader;
use crate::url::RequestUrl;

/// Where a signed parameter came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamSource {
    Query,
    FormBody,
    Header,
}

impl fmt::Display for ParamSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Query => "query",
            Self::FormBody => "form body",
            Self::Header => "Authorization header",
        })
    }
}

/// Query and form parameters a request may have at most (the web UI's forms too). They are counted before any is
/// decoded, so a body of millions of `a&a&…` is refused for the price of one scan (every
/// request builds its base string, known consumer key or not). PHP's `max_input_vars` has the
/// same default.
pub const MAX_FORM_PARAMS: usize = 1000;

/// Why the base string cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum BaseStringError {
    #[error("the request has more than {max} query and form parameters")]
    TooManyParameters { max: usize },
    #[error("invalid HTTP method {method:?}: it must be a non-empty token such as GET or POST")]
    InvalidMethod { method: String },
    /// A query or form parameter could not be decoded. `position` counts parameters from 1.
    #[error("{source_kind} parameter #{position} ({name:?}), {part}: {error}")]
    Param {
        source_kind: ParamSource,
        position: usize,
        name: String,
        part: &'static str,
        error: DecodeError,
    },
}

/// One signed parameter, name and value in canonical RFC 3986 encoding.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct EncodedParam<'a> {
    name: Cow<'a, str>,
    value: Cow<'a, str>,
}

/// The signed parameters of a request, collected and sorted.
#[derive(Debug, Clone)]
pub struct SignedParams<'a> {
    params: Vec<EncodedParam<'a>>,
}

/// Names the parameter of a form holding its first non-UTF-8 byte, at offset `bad` of `input`.
fn utf8_error_in_form(source: ParamSource, input: &[u8], bad: usize) -> BaseStringError {
    let mut position = 0;
    let mut start = 0;
    for segment in input.split(|&b| b == b'&') {
        if !segment.is_empty() {
            position += 1;
        }
        if bad < start + segment.len() {
            let eq = segment
                .iter()
                .position(|&b| b == b'=')
                .unwrap_or(segment.len());
            let in_name = bad - start < eq;
            return BaseStringError::Param {
                source_kind: source,
                position,
                name: name_for_error(&segment[..eq]),
                part: if in_name { "name" } else { "value" },
                error: DecodeError::InvalidUtf8 {
                    offset: if in_name {
                        bad - start
                    } else {
                        bad - start - eq - 1
                    },
                },
            };
        }
        start += segment.len() + 1;
    }
    // Not reached: `bad` lies inside `input`, so a segment above holds it.
    BaseStringError::Param {
        source_kind: source,
        position,
        name: String::new(),
        part: "value",
        error: DecodeError::InvalidUtf8 { offset: 0 },
    }
}

fn name_for_error(raw: &[u8]) -> String {
    const MAX: usize = 64;
    let lossy = String::from_utf8_lossy(&raw[..raw.len().min(MAX)]);
    lossy.into_owned()
}

impl<'a> SignedParams<'a> {
    /// An empty set.
    pub fn new() -> Self {
        Self {
            params: Vec::with_capacity(16),
        }
    }

    /// Collects the query, the form body (pass it only when the request's content type is
    /// `application/x-www-form-urlencoded`) and the signed header parameters.
    pub fn from_request(
        url: &RequestUrl<'a>,
        form_body: Option<&'a [u8]>,
        header: &'a AuthorizationHeader<'a>,
    ) -> Result<Self, BaseStringError> {
        let mut params = Self::new();
        if let Some(query) = url.query() {
            params.add_form_str(ParamSource::Query, query)?;
        }
        if let Some(body) = form_body {
            params.add_form(ParamSource::FormBody, body)?;
        }
        params.add_header(header);
        Ok(params)
    }

    /// Adds every pair of a form-encoded string (a query or a form body).
    pub fn add_form(
        &mut self,
        source: ParamSource,
        input: &'a [u8],
    ) -> Result<(), BaseStringError> {
        match std::str::from_utf8(input) {
            Ok(text) => self.add_form_str(source, text),
            Err(e) => Err(utf8_error_in_form(source, input, e.valid_up_to())),
        }
    }

    /// Adds every pair of a form-encoded string already known to be UTF-8.
    pub fn add_form_str(
        &mut self,
        source: ParamSource,
        input: &'a str,
    ) -> Result<(), BaseStringError> {
        // Counted in one pass over the bytes, before anything is decoded.
        let room = MAX_FORM_PARAMS.saturating_sub(self.params.len());
        let pairs = encode::count_form_pairs_upto(input.as_bytes(), room);
        if pairs > room {
            return Err(BaseStringError::TooManyParameters {
                max: MAX_FORM_PARAMS,
            });
        }
        self.params.reserve(pairs);
        for (i, (name, value)) in encode::split_form(input).enumerate() {
            let err = |part, error| BaseStringError::Param {
                source_kind: source,
                position: i + 1,
                name: name_for_error(name.as_bytes()),
                part,
                error,
            };
            let name = encode::canonicalize_form(name).map_err(|e| err("name", e))?;
            let value = encode::canonicalize_form(value).map_err(|e| err("value", e))?;
            self.params.push(EncodedParam { name, value });
        }
        Ok(())
    }

    /// Adds the header's parameters except `realm` and `oauth_signature`.
    pub fn add_header(&mut self, header: &'a AuthorizationHeader<'a>) {
        for p in header.signed_params() {
            self.params.push(EncodedParam {
                name: p.encoded_name(),
                value: p.encoded_value(),
            });
        }
    }

    /// Adds one decoded pair (the client side, which knows its values unencoded).
    pub fn add_decoded(&mut self, name: &str, value: &str) {
        self.params.push(EncodedParam {
            name: Cow::Owned(encode::encode(name).into_owned()),
            value: Cow::Owned(encode::encode(value).into_owned()),
        });
    }

    fn sort(&mut self) {
        // Equal elements are indistinguishable in the output, so stability does not matter.
        self.params.sort_unstable();
    }

    /// Writes `name=value&…`, sorted; `twice` applies the base string's second encoding.
    fn write_normalized(&self, out: &mut String, twice: bool) {
        for (i, p) in self.params.iter().enumerate() {
            if twice {
                if i > 0 {
                    out.push_str("%26");
                }
                encode::encode_encoded_into(out, &p.name);
                out.push_str("%3D");
                encode::encode_encoded_into(out, &p.value);
            } else {
                if i > 0 {
                    out.push('&');
                }
                out.push_str(&p.name);
                out.push('=');
                out.push_str(&p.value);
            }
        }
    }

    /// The normalized parameter string of RFC 5849 §3.4.1.3.2.
    pub fn normalized(mut self) -> String {
        self.sort();
        let mut out = String::with_capacity(self.estimated_len());
        self.write_normalized(&mut out, false);
        out
    }

    fn estimated_len(&self) -> usize {
        self.params
            .iter()
            .map(|p| p.name.len() + p.value.len() + 8)
            .sum::<usize>()
    }

    /// The signature base string for `method` and `url`.
    pub fn base_string(
        mut self,
        method: &str,
        url: &RequestUrl<'_>,
    ) -> Result<String, BaseStringError> {
        check_method(method)?;
        self.sort();
        let mut out = String::with_capacity(
            method.len()
                + 3 * (url.host().len() + url.path().len())
                + 2 * self.estimated_len()
                + 32,
        );
        for b in method.bytes() {
            out.push(b.to_ascii_uppercase() as char);
        }
        out.push('&');
        url.write_encoded_base_uri(&mut out);
        out.push('&');
        self.write_normalized(&mut out, true);
        Ok(out)
    }
}

impl Default for SignedParams<'_> {
    fn default() -> Self {
        Self::new()
    }
}

fn check_method(method: &str) -> Result<(), BaseStringError> {
    if method.is_empty() || !method.bytes().all(|b| crate::charset::TCHAR.contains(b)) {
        return Err(BaseStringError::InvalidMethod {
            method: method.chars().take(32).collect(),
        });
    }
    Ok(())
}

/// The base string of a received request: query + form body + header parameters.
pub fn base_string(
    method: &str,
    url: &RequestUrl<'_>,
    form_body: Option<&[u8]>,
    header: &AuthorizationHeader<'_>,
) -> Result<String, BaseStringError> {
    SignedParams::from_request(url, form_body, header)?.base_string(method, url)
}

/// The normalized parameter string of a received request.
pub fn normalized_params(
    url: &RequestUrl<'_>,
    form_body: Option<&[u8]>,
    header: &AuthorizationHeader<'_>,
) -> Result<String, BaseStringError> {
    Ok(SignedParams::from_request(url, form_body, header)?.normalized())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_counted_before_they_are_decoded() {
        let mut at_limit = SignedParams::new();
        let thousand = vec!["a=1"; MAX_FORM_PARAMS].join("&");
        assert!(
            at_limit
                .add_form_str(ParamSource::FormBody, &thousand)
                .is_ok()
        );
        // Empty pairs do not count.
        let sparse = format!("{}&&&", vec!["a"; MAX_FORM_PARAMS].join("&"));
        assert!(
            SignedParams::new()
                .add_form_str(ParamSource::FormBody, &sparse)
                .is_ok()
        );
        // One more, across the query and the body together, is refused; so is a huge junk
        // body, with a bad escape that would otherwise be reported first.
        let mut over = SignedParams::new();
        over.add_form_str(ParamSource::Query, "q=1").unwrap();
        assert_eq!(
            over.add_form_str(ParamSource::FormBody, &thousand),
            Err(BaseStringError::TooManyParameters {
                max: MAX_FORM_PARAMS
            })
        );
        let junk = format!("%zz&{}", "a&".repeat(1_000_000));
        assert_eq!(
            SignedParams::new().add_form_str(ParamSource::FormBody, &junk),
            Err(BaseStringError::TooManyParameters {
                max: MAX_FORM_PARAMS
            })
        );
    }

    #[test]
    fn rfc5849_3_4_1_example() {
        let url = RequestUrl::parse("http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b")
            .unwrap();
        let header = AuthorizationHeader::parse(
            r#"OAuth realm="Example", oauth_consumer_key="9djdj82h48djs9d2", oauth_token="kkk9d7dh3k39sjv7", oauth_signature_method="HMAC-SHA1", oauth_timestamp="137131201", oauth_nonce="7d8f3e4a", oauth_signature="bYT5CMsGcbgUdFHObYMEfcx6bsw%3D""#,
        )
        .unwrap();
        let body = b"c2&a3=2+q";
        assert_eq!(
            normalized_params(&url, Some(body), &header).unwrap(),
            "a2=r%20b&a3=2%20q&a3=a&b5=%3D%253D&c%40=&c2=&oauth_consumer_key=9djdj82h48djs9d2&oauth_nonce=7d8f3e4a&oauth_signature_method=HMAC-SHA1&oauth_timestamp=137131201&oauth_token=kkk9d7dh3k39sjv7"
        );
        assert_eq!(
            base_string("post", &url, Some(body), &header).unwrap(),
            "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"
        );
    }

    #[test]
    fn method_must_be_a_token() {
        let url = RequestUrl::parse("http://h/").unwrap();
        let header = AuthorizationHeader::parse("OAuth").unwrap();
        for bad in ["", "GE T", "GET\n", "G/T"] {
            assert!(matches!(
                base_string(bad, &url, None, &header),
                Err(BaseStringError::InvalidMethod { .. })
            ));
        }
    }

    #[test]
    fn bad_query_names_the_parameter() {
        let url = RequestUrl::parse("http://h/?ok=1&bad=%zz").unwrap();
        let header = AuthorizationHeader::parse("OAuth").unwrap();
        let err = base_string("GET", &url, None, &header).unwrap_err();
        assert_eq!(
            err.to_string(),
            "query parameter #2 (\"bad\"), value: malformed percent-escape at byte 0: '%' must be followed by two hex digits"
        );
    }
}
