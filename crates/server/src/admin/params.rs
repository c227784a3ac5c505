//! Query parameters of the admin API, read strictly into the contract's parameter structs
//! (`tessera_api`): an unknown or repeated name, or a value of the wrong form, is refused with
//! the parameter's name rather than ignored.

use serde::de::DeserializeOwned;
use tessera_api::query::{field_names, from_pairs};

use super::ApiError;
use crate::form::{Fields, FormError};

/// Reads `query` into `T`. `oauth_*` parameters belong to the signature (RFC 5849 allows them
/// in the query) and are passed over.
pub(crate) fn parse<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    let fields = Fields::parse(query.as_bytes()).map_err(|e| match e {
        FormError::BadValue(name) => {
            ApiError::invalid(&name, "cannot be decoded (not properly percent-encoded)")
        }
        other => ApiError::invalid("query", format!("the query {other}")),
    })?;
    let known = field_names::<T>();
    let mut seen: Vec<&str> = Vec::new();
    for (name, _) in fields.iter().filter(|(n, _)| !n.starts_with("oauth_")) {
        if !known.contains(&name) {
            let takes = if known.is_empty() {
                "it takes none".to_owned()
            } else {
                format!("it takes: {}", known.join(", "))
            };
            return Err(ApiError::invalid(
                name,
                format!("is not a parameter of this endpoint ({takes})"),
            ));
        }
        if seen.contains(&name) {
            return Err(ApiError::invalid(name, "is given more than once"));
        }
        seen.push(name);
    }
    from_pairs(fields.iter().filter(|(n, _)| !n.starts_with("oauth_")))
        .map_err(|e| ApiError::invalid(&e.field, e.message))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_api::tokens::{TokenListParams, TokenSortChoice};

    fn field_of(e: ApiError) -> String {
        match e {
            ApiError::Invalid { field, .. } => field,
            other => panic!("expected an invalid field, got {other:?}"),
        }
    }

    #[test]
    fn values_are_decoded_and_oauth_parameters_passed_over() {
        let p: TokenListParams =
            parse("search=J%C3%BCrgen+M&limit=5&oauth_nonce=abc").unwrap_or_default();
        assert_eq!(p.search.as_deref(), Some("Jürgen M"));
        assert_eq!(p.limit, Some(5));
    }

    #[test]
    fn unknown_repeated_and_malformed_parameters_are_named() {
        let read = |q: &str| parse::<TokenListParams>(q).map(|_| ());
        assert_eq!(field_of(read("limt=5").unwrap_err()), "limt");
        assert_eq!(field_of(read("limit=1&limit=2").unwrap_err()), "limit");
        assert_eq!(field_of(read("sort=%zz").unwrap_err()), "sort");
        assert_eq!(field_of(read("limit=ten").unwrap_err()), "limit");
        assert_eq!(field_of(read("sort=upward").unwrap_err()), "sort");
        let p: TokenListParams = parse("sort=OLDEST").unwrap_or_default();
        assert_eq!(p.sort, Some(TokenSortChoice::Oldest));
    }
}
