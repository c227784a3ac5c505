//! Posted forms and query strings, `application/x-www-form-urlencoded`.

use tessera_oauth1::encode::form_decode;

use super::UiError;

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
    pub(crate) fn parse(input: &[u8]) -> Result<Self, UiError> {
        // Counted before anything is decoded: junk costs one scan.
        let max = tessera_oauth1::MAX_FORM_PARAMS;
        if tessera_oauth1::encode::count_form_pairs_upto(input, max) > max {
            return Err(UiError::bad_request("the form has too many fields"));
        }
        let text = std::str::from_utf8(input)
            .map_err(|_| UiError::bad_request("the form is not UTF-8 text"))?;
        let mut pairs = Vec::new();
        for pair in text.split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            let decode = |s: &str| {
                form_decode(s)
                    .map(|v| v.into_owned())
                    .map_err(|_| UiError::bad_request("the form is not properly encoded"))
            };
            pairs.push((decode(name)?, decode(value)?));
        }
        Ok(Self { pairs })
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
        assert!(Fields::parse(b"a=%ZZ").is_err());
        let many = "a&".repeat(tessera_oauth1::MAX_FORM_PARAMS + 1);
        assert!(Fields::parse(many.as_bytes()).is_err());
        let enough = vec!["a=1"; tessera_oauth1::MAX_FORM_PARAMS].join("&");
        assert!(Fields::parse(enough.as_bytes()).is_ok());
        assert!(Fields::parse(&[b'a', b'=', 0xff]).is_err());
        let f = Fields::parse(b"password=hunter2hunter2").unwrap();
        assert!(!format!("{f:?}").contains("hunter2"));
    }
}
