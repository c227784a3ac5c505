//! Query parameters of the admin API, read strictly: an unknown or repeated name, or a value
//! of the wrong form, is refused with the parameter's name rather than ignored.

use std::str::FromStr;

use super::ApiError;
use crate::form::{Fields, FormError};

/// The decoded query parameters of one request.
#[derive(Debug, Default)]
pub(crate) struct Params(Vec<(&'static str, String)>);

impl Params {
    /// Decodes `query`; `known` are the names the endpoint takes. `oauth_*` parameters belong
    /// to the signature (RFC 5849 allows them in the query) and are passed over.
    pub(crate) fn parse(query: &str, known: &[&'static str]) -> Result<Self, ApiError> {
        let fields = Fields::parse(query.as_bytes()).map_err(|e| match e {
            FormError::BadValue(name) => {
                ApiError::invalid(&name, "cannot be decoded (not properly percent-encoded)")
            }
            other => ApiError::invalid("query", format!("the query {other}")),
        })?;
        let mut params: Vec<(&'static str, String)> = Vec::new();
        for (name, value) in fields.iter() {
            if name.starts_with("oauth_") {
                continue;
            }
            let Some(&name) = known.iter().find(|k| **k == name) else {
                return Err(ApiError::invalid(
                    name,
                    format!(
                        "is not a parameter of this endpoint (it takes: {})",
                        known.join(", ")
                    ),
                ));
            };
            if params.iter().any(|(n, _)| *n == name) {
                return Err(ApiError::invalid(name, "is given more than once"));
            }
            params.push((name, value.to_owned()));
        }
        Ok(Self(params))
    }

    /// The value of `name`, if given.
    pub(crate) fn text(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The value of `name` parsed as `T`; `expected` says what it should have been.
    pub(crate) fn parsed<T: FromStr>(
        &self,
        name: &str,
        expected: &str,
    ) -> Result<Option<T>, ApiError> {
        self.text(name)
            .map(|v| {
                v.parse()
                    .map_err(|_| ApiError::invalid(name, format!("must be {expected}, not {v:?}")))
            })
            .transpose()
    }

    /// The value of `name` as an internal id.
    pub(crate) fn id<T>(
        &self,
        name: &str,
        parse: impl Fn(&str) -> Result<T, tessera_core::ids::InvalidId>,
    ) -> Result<Option<T>, ApiError> {
        self.text(name)
            .map(|v| parse(v).map_err(|e| ApiError::invalid(name, e.to_string())))
            .transpose()
    }

    /// The value of `name` as one of `choices` (matched without regard to case).
    pub(crate) fn choice<T: Copy>(
        &self,
        name: &str,
        choices: &[(&str, T)],
    ) -> Result<Option<T>, ApiError> {
        let Some(value) = self.text(name) else {
            return Ok(None);
        };
        choices
            .iter()
            .find(|(label, _)| label.eq_ignore_ascii_case(value))
            .map(|(_, choice)| Some(*choice))
            .ok_or_else(|| {
                let labels: Vec<&str> = choices.iter().map(|(label, _)| *label).collect();
                ApiError::invalid(
                    name,
                    format!("must be one of {}, not {value:?}", labels.join(", ")),
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field_of(e: ApiError) -> String {
        match e {
            ApiError::Invalid { field, .. } => field,
            other => panic!("expected an invalid field, got {other:?}"),
        }
    }

    #[test]
    fn values_are_decoded_and_oauth_parameters_passed_over() {
        let p = Params::parse(
            "search=J%C3%BCrgen+M&limit=5&oauth_nonce=abc",
            &["search", "limit"],
        )
        .unwrap_or_default();
        assert_eq!(p.text("search"), Some("Jürgen M"));
        assert_eq!(p.parsed::<u32>("limit", "a number").ok().flatten(), Some(5));
        assert_eq!(p.text("oauth_nonce"), None);
    }

    #[test]
    fn unknown_repeated_and_malformed_parameters_are_named() {
        let known = ["limit", "sort"];
        assert_eq!(
            field_of(Params::parse("limt=5", &known).unwrap_err()),
            "limt"
        );
        assert_eq!(
            field_of(Params::parse("limit=1&limit=2", &known).unwrap_err()),
            "limit"
        );
        assert_eq!(
            field_of(Params::parse("sort=%zz", &known).unwrap_err()),
            "sort"
        );
        let p = Params::parse("limit=ten&sort=upward", &known).unwrap_or_default();
        assert_eq!(
            field_of(p.parsed::<u32>("limit", "a number").unwrap_err()),
            "limit"
        );
        let sorts = [("newest", 1), ("oldest", 2)];
        assert_eq!(field_of(p.choice("sort", &sorts).unwrap_err()), "sort");
        assert_eq!(
            Params::parse("sort=OLDEST", &known)
                .unwrap_or_default()
                .choice("sort", &sorts)
                .ok()
                .flatten(),
            Some(2)
        );
    }
}
