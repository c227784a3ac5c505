//! Query strings and posted forms (`application/x-www-form-urlencoded`), decoded strictly: the
//! one reader of them for every surface — the web UI's forms and filters, the admin API's
//! parameters (`admin::params`, which adds its rules on top), the token endpoints' queries and
//! the echo. The pairs are counted before anything is decoded; names and values go through the
//! protocol crate's strict decoder (`+` is a space, every `%` must start a valid escape, the
//! result must be UTF-8), the same one the signature's base string uses. The general-purpose
//! crates (`form_urlencoded`, `percent-encoding`) pass a malformed escape through and replace
//! invalid UTF-8, which would let two different inputs read as one.

use std::borrow::Cow;

use tessera_oauth1::MAX_FORM_PARAMS;
use tessera_oauth1::encode::{count_form_pairs_upto, form_decode, split_form};
use thiserror::Error;

/// Why a query or form could not be read; reads after "the form" or "the query".
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub(crate) enum FormError {
    #[error("has more than {MAX_FORM_PARAMS} fields")]
    TooManyFields,
    #[error("is not UTF-8 text")]
    NotText,
    /// A name could not be decoded.
    #[error("has a field name that is not properly encoded")]
    BadName,
    /// The value of this field could not be decoded.
    #[error("has a value of {0} that is not properly encoded")]
    BadValue(String),
}

/// One field, decoded: its name and value.
pub(crate) type Pair<'a> = (Cow<'a, str>, Cow<'a, str>);

/// The fields of a form or query string, decoded one at a time, in order: borrowed from the
/// input where nothing needed decoding (the hot path's echo reads them so). The pairs are
/// counted and the input checked for UTF-8 first; a pair that cannot be decoded is an `Err`.
pub(crate) fn pairs(
    input: &[u8],
) -> Result<impl Iterator<Item = Result<Pair<'_>, FormError>>, FormError> {
    // Counted before anything is decoded: junk costs one scan.
    if count_form_pairs_upto(input, MAX_FORM_PARAMS) > MAX_FORM_PARAMS {
        return Err(FormError::TooManyFields);
    }
    let text = std::str::from_utf8(input).map_err(|_| FormError::NotText)?;
    Ok(split_form(text).map(|(name, value)| {
        let name = form_decode(name).map_err(|_| FormError::BadName)?;
        let value = form_decode(value).map_err(|_| FormError::BadValue(name.to_string()))?;
        Ok((name, value))
    }))
}

/// The first value of `name` in a query or form, decoding no more than it reads.
pub(crate) fn first<'a>(input: &'a [u8], name: &str) -> Result<Option<Cow<'a, str>>, FormError> {
    for pair in pairs(input)? {
        let (n, v) = pair?;
        if n == name {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

/// The decoded fields of a form or query string, in order.
#[derive(Default)]
pub(crate) struct Fields {
    pairs: Vec<(String, String)>,
}

impl std::fmt::Debug for Fields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Values may be passwords or form tokens: only the names are printed.
        f.debug_list()
            .entries(self.pairs.iter().map(|(n, _)| n))
            .finish()
    }
}

impl Fields {
    pub(crate) fn parse(input: &[u8]) -> Result<Self, FormError> {
        let pairs = pairs(input)?
            .map(|pair| pair.map(|(n, v)| (n.into_owned(), v.into_owned())))
            .collect::<Result<_, _>>()?;
        Ok(Self { pairs })
    }

    /// Every field, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The first value of a field, as sent.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a field (checkbox groups), as sent.
    pub(crate) fn all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> {
        self.pairs
            .iter()
            .filter(move |(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// A text field, trimmed; empty counts as absent.
    pub(crate) fn text(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    /// A text field as typed, trimmed, or empty.
    pub(crate) fn value(&self, name: &str) -> String {
        self.text(name).unwrap_or_default().to_owned()
    }

    /// A checkbox: present with any value other than empty means checked.
    pub(crate) fn checked(&self, name: &str) -> bool {
        self.get(name).is_some_and(|v| !v.is_empty())
    }

    /// A positive internal id, or absent; anything else is a clear error naming the field.
    pub(crate) fn id(&self, name: &str, label: &str) -> Result<Option<i64>, String> {
        match self.text(name) {
            None => Ok(None),
            Some(v) => match v.parse::<i64>() {
                Ok(n) if n > 0 => Ok(Some(n)),
                _ => Err(format!("{label}: {v:?} is not one of the choices")),
            },
        }
    }

    /// A whole number of days (1 or more), or absent; anything else is a clear error naming
    /// the field. (The upper bound is the domain's to check.)
    pub(crate) fn days(&self, name: &str, label: &str) -> Result<Option<u32>, String> {
        match self.text(name) {
            None => Ok(None),
            Some(v) => match v.trim().parse::<u32>() {
                Ok(n) if n > 0 => Ok(Some(n)),
                _ => Err(format!(
                    "{label}: {v:?} is not a number of days (1 or more)"
                )),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_decode_plus_and_percent_and_keep_the_first_value() {
        let f = Fields::parse(b"name=a+b%26c&name=second&empty=&flag=on&x").unwrap();
        assert_eq!(f.get("name"), Some("a b&c"));
        assert_eq!(f.text("empty"), None);
        assert!(f.checked("flag"));
        assert!(!f.checked("x"));
        assert!(!f.checked("missing"));
    }

    #[test]
    fn ids_must_be_positive_integers() {
        let f = Fields::parse(b"a=12&b=-1&c=x&d=").unwrap();
        assert_eq!(f.id("a", "A").unwrap(), Some(12));
        assert!(f.id("b", "B").unwrap_err().contains("B"));
        assert!(f.id("c", "C").is_err());
        assert_eq!(f.id("d", "D").unwrap(), None);
    }

    #[test]
    fn bad_encoding_is_refused_and_values_never_printed() {
        assert_eq!(
            Fields::parse(b"a=%ZZ").unwrap_err(),
            FormError::BadValue("a".into())
        );
        assert_eq!(Fields::parse(b"%ZZ=1").unwrap_err(), FormError::BadName);
        let many = "a&".repeat(tessera_oauth1::MAX_FORM_PARAMS + 1);
        assert_eq!(
            Fields::parse(many.as_bytes()).unwrap_err(),
            FormError::TooManyFields
        );
        let enough = vec!["a=1"; tessera_oauth1::MAX_FORM_PARAMS].join("&");
        assert!(Fields::parse(enough.as_bytes()).is_ok());
        assert_eq!(
            Fields::parse(&[b'a', b'=', 0xff]).unwrap_err(),
            FormError::NotText
        );
        let f = Fields::parse(b"password=hunter2hunter2").unwrap();
        assert!(!format!("{f:?}").contains("hunter2"));
    }
}
