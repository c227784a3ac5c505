//! RFC 3986 percent-encoding as OAuth 1.0a uses it (RFC 5849 §3.6), strict decoding, and
//! `application/x-www-form-urlencoded` decoding.
//!
//! Encoding keeps only the unreserved set `A-Z a-z 0-9 - . _ ~` and writes every other byte of the
//! UTF-8 form as `%XX` with upper-case hex. Decoding is strict: a `%` not followed by two hex digits,
//! or a result that is not UTF-8, is an error; nothing is replaced or dropped.

use std::borrow::Cow;

use thiserror::Error;

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// `true` for the RFC 3986 unreserved characters, the only bytes OAuth leaves unencoded.
#[inline]
pub fn is_unreserved(b: u8) -> bool {
    crate::charset::UNRESERVED.contains(b)
}

/// `true` when every byte is unreserved, i.e. the string is its own encoding.
#[inline]
pub fn all_unreserved(s: &[u8]) -> bool {
    s.iter().all(|&b| is_unreserved(b))
}

/// Why a percent-encoded string could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// A `%` at this byte offset is not followed by two hexadecimal digits.
    #[error("malformed percent-escape at byte {offset}: '%' must be followed by two hex digits")]
    MalformedEscape { offset: usize },
    /// The decoded bytes are not UTF-8 (the first bad byte is at this offset of the decoded value).
    #[error("decoded value is not valid UTF-8 (byte {offset} of the decoded value)")]
    InvalidUtf8 { offset: usize },
}

/// Appends the RFC 3986 encoding of `s` to `out`.
pub fn encode_into(out: &mut String, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len());
    // Copy runs of unreserved bytes whole. A run is non-empty only when it starts on an ASCII
    // byte and ends before one, so both ends are char boundaries.
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !is_unreserved(b) {
            if start < i {
                out.push_str(&s[start..i]);
            }
            push_escape(out, b);
            start = i + 1;
        }
    }
    if start < bytes.len() {
        out.push_str(&s[start..]);
    }
}

#[inline]
pub(crate) fn push_escape(out: &mut String, b: u8) {
    out.push('%');
    out.push(char::from(HEX_UPPER[usize::from(b >> 4)]));
    out.push(char::from(HEX_UPPER[usize::from(b & 0x0f)]));
}

/// RFC 3986 encoding of `s`; borrowed when `s` needs no encoding.
pub fn encode(s: &str) -> Cow<'_, str> {
    if all_unreserved(s.as_bytes()) {
        Cow::Borrowed(s)
    } else {
        let mut out = String::with_capacity(s.len() * 3);
        encode_into(&mut out, s);
        Cow::Owned(out)
    }
}

/// Appends `enc(s)` to `out` where `s` is already RFC 3986 encoded: only `%` changes (to `%25`).
/// This is the second encoding the base string applies to the normalized parameters.
#[inline]
pub(crate) fn encode_encoded_into(out: &mut String, encoded: &str) {
    let mut rest = encoded;
    // A plain byte loop: values are short, and memchr's set-up costs more than it saves here.
    while let Some(i) = rest.bytes().position(|b| b == b'%') {
        out.push_str(&rest[..i]);
        out.push_str("%25");
        rest = &rest[i + 1..];
    }
    out.push_str(rest);
}

#[inline]
fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Decodes `input`, which holds at least one `%` (or `+` in a form). The input is UTF-8 already,
/// so only a decoded escape can make the result invalid.
fn decode_escapes(input: &str, plus_is_space: bool) -> Result<String, DecodeError> {
    let input = input.as_bytes();
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        match input[i] {
            b'%' => {
                let hi = input.get(i + 1).copied().and_then(hex_value);
                let lo = input.get(i + 2).copied().and_then(hex_value);
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                    _ => return Err(DecodeError::MalformedEscape { offset: i }),
                }
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|e| DecodeError::InvalidUtf8 {
        offset: e.utf8_error().valid_up_to(),
    })
}

/// Strict RFC 3986 percent-decoding: `+` is a literal plus.
pub fn decode(input: &str) -> Result<Cow<'_, str>, DecodeError> {
    if input.as_bytes().contains(&b'%') {
        decode_escapes(input, false).map(Cow::Owned)
    } else {
        Ok(Cow::Borrowed(input))
    }
}

/// Strict `application/x-www-form-urlencoded` decoding of one name or value: `+` is a space.
pub fn form_decode(input: &str) -> Result<Cow<'_, str>, DecodeError> {
    if input.bytes().any(|b| b == b'%' || b == b'+') {
        decode_escapes(input, true).map(Cow::Owned)
    } else {
        Ok(Cow::Borrowed(input))
    }
}

/// The canonical RFC 3986 encoding of a form-encoded name or value (`+` is a space) as it arrived,
/// possibly with lower-case hex or needlessly escaped unreserved characters. Borrowed in the
/// common case where it is made of unreserved characters only.
pub fn canonicalize_form(raw: &str) -> Result<Cow<'_, str>, DecodeError> {
    if all_unreserved(raw.as_bytes()) {
        return Ok(Cow::Borrowed(raw));
    }
    let decoded = form_decode(raw)?;
    Ok(Cow::Owned(encode(&decoded).into_owned()))
}

/// How many pairs [`split_form`] would yield, counted up to `max + 1` in one pass over the bytes
/// and without decoding anything: what a bound on parameters checks before any work.
pub fn count_form_pairs_upto(input: &[u8], max: usize) -> usize {
    let mut pairs = 0;
    let mut in_pair = false;
    for &b in input {
        if b == b'&' {
            in_pair = false;
        } else if !in_pair {
            in_pair = true;
            pairs += 1;
            if pairs > max {
                break;
            }
        }
    }
    pairs
}

/// Splits an `application/x-www-form-urlencoded` string (a query or a form body) into raw
/// `(name, value)` pairs, undecoded. Empty segments (`a=1&&b=2`, a trailing `&`) are skipped as
/// the WHATWG and Python parsers do; a segment without `=` is a name with an empty value.
pub fn split_form(input: &str) -> impl Iterator<Item = (&str, &str)> {
    FormPairs { rest: input }
}

/// The pairs of a form string. Runs of `&` are skipped in one tight loop, not one iteration
/// each: a body of ten million `&` costs a scan, not ten million empty segments.
struct FormPairs<'a> {
    rest: &'a str,
}

impl<'a> Iterator for FormPairs<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        let skip = self.rest.bytes().take_while(|&b| b == b'&').count();
        // `&` is ASCII, so `skip` is a char boundary.
        let rest = self.rest.get(skip..).unwrap_or("");
        if rest.is_empty() {
            self.rest = rest;
            return None;
        }
        let end = rest.find('&').unwrap_or(rest.len());
        let (segment, after) = rest.split_at(end);
        self.rest = after;
        Some(segment.split_once('=').unwrap_or((segment, "")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_counted_as_split_form_yields_them() {
        for input in ["", "&&&", "a", "a=1&b", "&a&&b=2&", "=&=", "a=&=b"] {
            assert_eq!(
                count_form_pairs_upto(input.as_bytes(), 100),
                split_form(input).count(),
                "{input:?}"
            );
        }
        assert_eq!(count_form_pairs_upto("a&".repeat(50).as_bytes(), 10), 11);
    }

    fn check_encode(input: &str, expected: &str) {
        assert_eq!(encode(input), expected, "encode({input:?})");
        assert_eq!(
            decode(expected).as_deref(),
            Ok(input),
            "decode({expected:?})"
        );
    }

    #[test]
    fn encodes_per_rfc3986() {
        check_encode("abcXYZ019-._~", "abcXYZ019-._~");
        check_encode(" ", "%20");
        check_encode("+", "%2B");
        check_encode("!*'()", "%21%2A%27%28%29");
        check_encode("/?#[]@:", "%2F%3F%23%5B%5D%40%3A");
        check_encode("%", "%25");
        check_encode("é", "%C3%A9");
        check_encode("日本", "%E6%97%A5%E6%9C%AC");
        check_encode("", "");
    }

    #[test]
    fn encode_borrows_when_nothing_to_do() {
        assert!(matches!(encode("abc-1.2_~"), Cow::Borrowed(_)));
        assert!(matches!(decode("abc"), Ok(Cow::Borrowed(_))));
    }

    #[test]
    fn decodes_lower_case_hex() {
        assert_eq!(decode("%c3%a9").as_deref(), Ok("é"));
        assert_eq!(canonicalize_form("%c3%a9%7e").as_deref(), Ok("%C3%A9~"));
    }

    #[test]
    fn plus_is_literal_in_rfc3986_and_space_in_forms() {
        assert_eq!(decode("a+b").as_deref(), Ok("a+b"));
        assert_eq!(form_decode("a+b").as_deref(), Ok("a b"));
        assert_eq!(form_decode("a%2Bb").as_deref(), Ok("a+b"));
    }

    #[test]
    fn malformed_escapes_are_errors() {
        assert_eq!(decode("%"), Err(DecodeError::MalformedEscape { offset: 0 }));
        assert_eq!(
            decode("ab%4"),
            Err(DecodeError::MalformedEscape { offset: 2 })
        );
        assert_eq!(
            decode("%zz"),
            Err(DecodeError::MalformedEscape { offset: 0 })
        );
        assert_eq!(
            decode("x%+1"),
            Err(DecodeError::MalformedEscape { offset: 1 })
        );
    }

    #[test]
    fn invalid_utf8_is_an_error() {
        assert_eq!(decode("%FF"), Err(DecodeError::InvalidUtf8 { offset: 0 }));
        assert_eq!(decode("ab%C3"), Err(DecodeError::InvalidUtf8 { offset: 2 }));
    }

    #[test]
    fn double_encoding_only_touches_percent() {
        let mut out = String::new();
        encode_encoded_into(&mut out, "a%20b%3D~");
        assert_eq!(out, "a%2520b%253D~");
    }

    #[test]
    fn splits_forms_like_browsers() {
        let pairs: Vec<_> = split_form("a=1&&b&=x&c=d=e&").collect();
        assert_eq!(pairs, vec![("a", "1"), ("b", ""), ("", "x"), ("c", "d=e")]);
    }
}
