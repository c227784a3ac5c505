//! The `Authorization: OAuth …` header (RFC 5849 §3.5.1): parsing and building.
//!
//! Accepted syntax: the scheme `OAuth` (any case), then `name="value"` pairs separated by `,` with
//! optional spaces or tabs, in any order, `realm` anywhere. Values are double-quoted and
//! percent-encoded; they are decoded strictly. An `oauth_*` parameter or `realm` given twice makes
//! the header malformed; other parameters are kept as they come (and signed, as
//! RFC 5849 §3.4.1.3.1 requires).

use std::borrow::Cow;
use std::fmt;

use thiserror::Error;

use crate::encode::{self, DecodeError};

/// At most this many parameters in one header. A real header has about nine; the cap bounds the
/// work an attacker can cause with a huge header.
pub const MAX_HEADER_PARAMS: usize = 64;

/// Why an `Authorization` header cannot be used. Every variant is a malformed request
/// (HTTP 400), not a failed login.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HeaderError {
    #[error("the Authorization header does not use the OAuth scheme")]
    NotOAuth,
    #[error("the request has more than one Authorization header")]
    MultipleHeaders,
    #[error("malformed Authorization header at byte {offset}: expected {expected}")]
    Syntax {
        offset: usize,
        expected: &'static str,
    },
    #[error("the value of parameter {name:?} must be double-quoted")]
    UnquotedValue { name: String },
    #[error("parameter {name:?} appears more than once")]
    DuplicateParameter { name: String },
    #[error("the Authorization header has more than {max} parameters")]
    TooManyParameters { max: usize },
    #[error("parameter {name:?}: {source}")]
    Encoding {
        name: String,
        #[source]
        source: DecodeError,
    },
    #[error("required parameter {name} is missing")]
    MissingParameter { name: &'static str },
}

/// The protocol parameters a verifier looks up by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OAuthParam {
    ConsumerKey,
    Token,
    SignatureMethod,
    Signature,
    Timestamp,
    Nonce,
    Version,
    BodyHash,
    Callback,
    Verifier,
}

impl OAuthParam {
    /// How many there are (the variants are indices `0..COUNT`).
    const COUNT: usize = 10;

    /// The wire name.
    pub const fn name(self) -> &'static str {
        match self {
            Self::ConsumerKey => "oauth_consumer_key",
            Self::Token => "oauth_token",
            Self::SignatureMethod => "oauth_signature_method",
            Self::Signature => "oauth_signature",
            Self::Timestamp => "oauth_timestamp",
            Self::Nonce => "oauth_nonce",
            Self::Version => "oauth_version",
            Self::BodyHash => "oauth_body_hash",
            Self::Callback => "oauth_callback",
            Self::Verifier => "oauth_verifier",
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "oauth_consumer_key" => Self::ConsumerKey,
            "oauth_token" => Self::Token,
            "oauth_signature_method" => Self::SignatureMethod,
            "oauth_signature" => Self::Signature,
            "oauth_timestamp" => Self::Timestamp,
            "oauth_nonce" => Self::Nonce,
            "oauth_version" => Self::Version,
            "oauth_body_hash" => Self::BodyHash,
            "oauth_callback" => Self::Callback,
            "oauth_verifier" => Self::Verifier,
            _ => return None,
        })
    }
}

/// One parameter of the header other than `realm`.
#[derive(Clone, PartialEq, Eq)]
pub struct HeaderParam<'a> {
    name: Cow<'a, str>,
    value: Cow<'a, str>,
    raw_value: &'a str,
}

impl<'a> HeaderParam<'a> {
    /// The decoded name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The decoded value.
    pub fn value(&self) -> &str {
        &self.value
    }

    /// The canonical RFC 3986 encoding of the name, for the base string.
    pub(crate) fn encoded_name(&self) -> Cow<'_, str> {
        encode::encode(&self.name)
    }

    /// The canonical RFC 3986 encoding of the value, for the base string. Borrows the raw value
    /// when it is already canonical (the usual case: hex keys, alphanumeric nonces, digits).
    pub(crate) fn encoded_value(&self) -> Cow<'_, str> {
        if encode::all_unreserved(self.raw_value.as_bytes()) {
            Cow::Borrowed(self.raw_value)
        } else {
            encode::encode(&self.value)
        }
    }
}

impl fmt::Debug for HeaderParam<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("HeaderParam")
            .field(&self.name)
            .field(&self.value)
            .finish()
    }
}

/// A parsed `Authorization: OAuth` header. Borrows the header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationHeader<'a> {
    realm: Option<Cow<'a, str>>,
    params: Vec<HeaderParam<'a>>,
    /// Index into `params` of each known protocol parameter, indexed by `OAuthParam as usize`.
    known: [Option<u8>; OAuthParam::COUNT],
}

fn is_tchar(b: u8) -> bool {
    crate::charset::TCHAR.contains(b)
}

/// Bytes a quoted value may hold: anything but `"` and controls.
fn is_qdtext(b: u8) -> bool {
    b != b'"' && b >= 0x20 && b != 0x7f
}

struct Cursor<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    fn take_while(&mut self, f: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        let rest = &self.s.as_bytes()[start..];
        self.pos += rest.iter().position(|&b| !f(b)).unwrap_or(rest.len());
        // Only ASCII bytes were matched by the callers' predicates, so this is a char boundary.
        &self.s[start..self.pos]
    }

    fn syntax(&self, expected: &'static str) -> HeaderError {
        HeaderError::Syntax {
            offset: self.pos,
            expected,
        }
    }
}

impl<'a> AuthorizationHeader<'a> {
    /// Parses the value of an `Authorization` header (`OAuth realm="…", oauth_…="…", …`).
    pub fn parse(value: &'a str) -> Result<Self, HeaderError> {
        let mut cur = Cursor { s: value, pos: 0 };
        cur.skip_ws();
        let scheme = cur.take_while(is_tchar);
        if !scheme.eq_ignore_ascii_case("OAuth") {
            return Err(HeaderError::NotOAuth);
        }
        if !matches!(cur.peek(), None | Some(b' ' | b'\t')) {
            return Err(HeaderError::NotOAuth);
        }
        let mut header = Self {
            realm: None,
            params: Vec::with_capacity(10),
            known: [None; OAuthParam::COUNT],
        };
        let mut count = 0usize;
        loop {
            cur.skip_ws();
            // Empty list elements (",,", a trailing ",") are allowed, as in RFC 9110 §5.6.1.
            while cur.peek() == Some(b',') {
                cur.pos += 1;
                cur.skip_ws();
            }
            if cur.peek().is_none() {
                break;
            }
            count += 1;
            if count > MAX_HEADER_PARAMS {
                return Err(HeaderError::TooManyParameters {
                    max: MAX_HEADER_PARAMS,
                });
            }
            let raw_name = cur.take_while(is_tchar);
            if raw_name.is_empty() {
                return Err(cur.syntax("a parameter name"));
            }
            cur.skip_ws();
            if cur.peek() != Some(b'=') {
                return Err(cur.syntax("'=' after the parameter name"));
            }
            cur.pos += 1;
            cur.skip_ws();
            let name = encode::decode(raw_name).map_err(|source| HeaderError::Encoding {
                name: raw_name.to_owned(),
                source,
            })?;
            if cur.peek() != Some(b'"') {
                return Err(HeaderError::UnquotedValue {
                    name: name.into_owned(),
                });
            }
            let open_quote = cur.pos;
            cur.pos += 1;
            let raw_value = cur.take_while(is_qdtext);
            if cur.peek() != Some(b'"') {
                return Err(HeaderError::Syntax {
                    offset: open_quote,
                    expected: "a closing '\"' for the value opened here (values cannot hold control characters)",
                });
            }
            cur.pos += 1;
            cur.skip_ws();
            if !matches!(cur.peek(), None | Some(b',')) {
                return Err(cur.syntax("',' between parameters"));
            }
            let value = encode::decode(raw_value).map_err(|source| HeaderError::Encoding {
                name: name.clone().into_owned(),
                source,
            })?;
            header.add(name, value, raw_value)?;
        }
        Ok(header)
    }

    fn add(
        &mut self,
        name: Cow<'a, str>,
        value: Cow<'a, str>,
        raw_value: &'a str,
    ) -> Result<(), HeaderError> {
        let duplicate = || HeaderError::DuplicateParameter {
            name: name.to_string(),
        };
        if name == "realm" {
            if self.realm.is_some() {
                return Err(duplicate());
            }
            self.realm = Some(value);
            return Ok(());
        }
        if name.starts_with("oauth_") {
            if let Some(known) = OAuthParam::from_name(&name) {
                let slot = &mut self.known[known as usize];
                if slot.is_some() {
                    return Err(duplicate());
                }
                // params.len() < MAX_HEADER_PARAMS <= u8::MAX.
                *slot = Some(self.params.len() as u8);
            } else if self.params.iter().any(|p| p.name == name) {
                return Err(duplicate());
            }
        }
        self.params.push(HeaderParam {
            name,
            value,
            raw_value,
        });
        Ok(())
    }

    /// The `realm`, if the header has one (it is never signed).
    pub fn realm(&self) -> Option<&str> {
        self.realm.as_deref()
    }

    /// Every parameter except `realm`, in the order received.
    pub fn params(&self) -> &[HeaderParam<'a>] {
        &self.params
    }

    /// The decoded value of a known protocol parameter.
    pub fn get(&self, param: OAuthParam) -> Option<&str> {
        self.known[param as usize].map(|i| self.params[usize::from(i)].value())
    }

    /// The decoded value of any parameter by name (`realm` included).
    pub fn get_by_name(&self, name: &str) -> Option<&str> {
        if name == "realm" {
            return self.realm();
        }
        self.params
            .iter()
            .find(|p| p.name == name)
            .map(HeaderParam::value)
    }

    /// Like [`get`](Self::get), but a missing parameter is an error.
    pub fn require(&self, param: OAuthParam) -> Result<&str, HeaderError> {
        self.get(param)
            .ok_or(HeaderError::MissingParameter { name: param.name() })
    }

    /// The parameters that enter the signature base string: all but `oauth_signature`.
    pub(crate) fn signed_params(&self) -> impl Iterator<Item = &HeaderParam<'a>> {
        let signature = self.known[OAuthParam::Signature as usize].map(usize::from);
        self.params
            .iter()
            .enumerate()
            .filter(move |(i, _)| Some(*i) != signature)
            .map(|(_, p)| p)
    }
}

/// Picks the `Authorization` header out of a request's headers (name matched case-insensitively).
/// `Ok(None)` when there is none; two or more is an error.
pub fn find_authorization<'h, I>(headers: I) -> Result<Option<&'h str>, HeaderError>
where
    I: IntoIterator<Item = (&'h str, &'h str)>,
{
    let mut found = None;
    for (name, value) in headers {
        if name.trim().eq_ignore_ascii_case("authorization") {
            if found.is_some() {
                return Err(HeaderError::MultipleHeaders);
            }
            found = Some(value.trim());
        }
    }
    Ok(found)
}

/// Builds an `Authorization` header value: `OAuth realm="…", name="value", …` with names and
/// values RFC 3986 encoded, in the order given (`realm` first when present).
pub fn build_authorization<'p, I>(realm: Option<&str>, params: I) -> String
where
    I: IntoIterator<Item = (&'p str, &'p str)>,
{
    let mut out = String::with_capacity(512);
    out.push_str("OAuth ");
    let mut first = true;
    let mut push = |out: &mut String, name: &str, value: &str| {
        if !first {
            out.push_str(", ");
        }
        first = false;
        encode::encode_into(out, name);
        out.push_str("=\"");
        encode::encode_into(out, value);
        out.push('"');
    };
    if let Some(realm) = realm {
        push(&mut out, "realm", realm);
    }
    for (name, value) in params {
        push(&mut out, name, value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_netsuite_header() {
        let h = AuthorizationHeader::parse(
            r#"OAuth realm="123456", oauth_token="tok", oauth_consumer_key="ck", oauth_nonce="fjaLirsIcCGVZWzBX0pg", oauth_timestamp="1508242306", oauth_signature_method="HMAC-SHA256", oauth_version="1.0", oauth_signature="B5OI%2B8H%3D""#,
        )
        .unwrap();
        assert_eq!(h.realm(), Some("123456"));
        assert_eq!(h.get(OAuthParam::Token), Some("tok"));
        assert_eq!(h.get(OAuthParam::Signature), Some("B5OI+8H="));
        assert_eq!(h.get(OAuthParam::BodyHash), None);
        assert_eq!(h.params().len(), 7);
        assert_eq!(h.signed_params().count(), 6);
    }

    #[test]
    fn separators_and_order_are_free() {
        let a = AuthorizationHeader::parse(
            r#"oauth oauth_nonce="abcdef",realm="R" ,  oauth_token = "t",,"#,
        )
        .unwrap();
        assert_eq!(a.realm(), Some("R"));
        assert_eq!(a.get(OAuthParam::Nonce), Some("abcdef"));
        assert_eq!(a.get(OAuthParam::Token), Some("t"));
        let b = AuthorizationHeader::parse("OAuth").unwrap();
        assert!(b.params().is_empty());
    }

    #[test]
    fn malformed_headers() {
        use HeaderError::*;
        let err = |s| AuthorizationHeader::parse(s).unwrap_err();
        assert_eq!(err("Bearer abc"), NotOAuth);
        assert_eq!(err("OAuthx a=\"b\""), NotOAuth);
        assert_eq!(
            err(r#"OAuth oauth_nonce="a", oauth_nonce="b""#),
            DuplicateParameter {
                name: "oauth_nonce".into()
            }
        );
        assert_eq!(
            err(r#"OAuth realm="a", realm="a""#),
            DuplicateParameter {
                name: "realm".into()
            }
        );
        assert_eq!(
            err(r#"OAuth oauth_x="1", oauth_x="2""#),
            DuplicateParameter {
                name: "oauth_x".into()
            }
        );
        assert_eq!(
            err("OAuth oauth_nonce=abc"),
            UnquotedValue {
                name: "oauth_nonce".into()
            }
        );
        assert!(matches!(err(r#"OAuth a="1" b="2""#), Syntax { .. }));
        assert!(matches!(err(r#"OAuth a="1"#), Syntax { .. }));
        assert!(matches!(err(r#"OAuth ="1""#), Syntax { .. }));
        assert!(matches!(err(r#"OAuth a"1""#), Syntax { .. }));
        assert!(matches!(err(r#"OAuth a="%zz""#), Encoding { .. }));
    }

    #[test]
    fn other_repeated_parameters_are_kept() {
        let h = AuthorizationHeader::parse(r#"OAuth x="1", x="2""#).unwrap();
        assert_eq!(h.params().len(), 2);
    }

    #[test]
    fn too_many_parameters() {
        let many: Vec<String> = (0..=MAX_HEADER_PARAMS)
            .map(|i| format!("p{i}=\"v\""))
            .collect();
        let header = format!("OAuth {}", many.join(","));
        assert_eq!(
            AuthorizationHeader::parse(&header),
            Err(HeaderError::TooManyParameters {
                max: MAX_HEADER_PARAMS
            })
        );
    }

    #[test]
    fn finds_the_header_case_insensitively() {
        let headers = [("Host", "h"), ("AUTHORIZATION", "OAuth a=\"b\"")];
        assert_eq!(find_authorization(headers), Ok(Some("OAuth a=\"b\"")));
        let two = [("authorization", "x"), ("Authorization", "y")];
        assert_eq!(find_authorization(two), Err(HeaderError::MultipleHeaders));
        assert_eq!(find_authorization([("Host", "h")]), Ok(None));
    }

    #[test]
    fn builds_and_reparses() {
        let built = build_authorization(
            Some("123_SB1"),
            [("oauth_nonce", "a b+c"), ("oauth_signature", "x/y=")],
        );
        assert_eq!(
            built,
            r#"OAuth realm="123_SB1", oauth_nonce="a%20b%2Bc", oauth_signature="x%2Fy%3D""#
        );
        let parsed = AuthorizationHeader::parse(&built).unwrap();
        assert_eq!(parsed.get(OAuthParam::Nonce), Some("a b+c"));
        assert_eq!(parsed.get(OAuthParam::Signature), Some("x/y="));
    }
}
