//! Query parameters as typed structs, read and written the same way on both sides: the server
//! reads a list's parameters into its struct ([`from_pairs`], after its own strict decoding
//! and checks of unknown and repeated names against [`field_names`]), the CLI writes them from
//! the same struct ([`to_query`]). Values are text on the wire: numbers, `true`/`false` (any
//! case) and the choices of the `*Choice` enums (any case) are parsed from it here, with a
//! message that says what was expected.

use serde::de::{self, DeserializeOwned, Deserializer, IntoDeserializer, Visitor};
use serde::{Deserialize, Serialize};
use tessera_oauth1::SecretString;

/// The parameters of an endpoint that takes none.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoParams {}

/// A parameter that could not be read: which, and why (for `INVALID_FIELD`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct QueryError {
    pub field: String,
    pub message: String,
}

/// The parameter names a struct takes, in declaration order (serde's own list of its fields).
pub fn field_names<T: DeserializeOwned>() -> &'static [&'static str] {
    struct Names(Option<&'static [&'static str]>);
    struct Stop;
    impl std::fmt::Display for Stop {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("names read")
        }
    }
    impl std::fmt::Debug for Stop {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Stop")
        }
    }
    impl std::error::Error for Stop {}
    impl de::Error for Stop {
        fn custom<M: std::fmt::Display>(_: M) -> Self {
            Stop
        }
    }
    impl<'de> Deserializer<'de> for &mut Names {
        type Error = Stop;
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _: &'static str,
            fields: &'static [&'static str],
            _: V,
        ) -> Result<V::Value, Stop> {
            self.0 = Some(fields);
            Err(Stop)
        }
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Stop> {
            Err(Stop)
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map enum
            identifier ignored_any
        }
    }
    let mut names = Names(None);
    let _ = T::deserialize(&mut names);
    names.0.unwrap_or(&[])
}

/// A struct of parameters from decoded `(name, value)` pairs (each name once, every name one of
/// [`field_names`]: the caller has checked both).
pub fn from_pairs<'a, T: DeserializeOwned>(
    pairs: impl Iterator<Item = (&'a str, &'a str)>,
) -> Result<T, QueryError> {
    let pairs: Vec<(&str, Text<'_>)> = pairs.map(|(n, v)| (n, Text(v))).collect();
    // No parameter is text that holds a control character (a NUL, which the database refuses,
    // would otherwise reach it as a filter and come back as an outage).
    if let Some((name, _)) = pairs
        .iter()
        .find(|(_, v)| v.0.chars().any(char::is_control))
    {
        return Err(QueryError {
            field: (*name).to_owned(),
            message: "must not contain control characters".to_owned(),
        });
    }
    let mut field = String::new();
    let map = de::value::MapDeserializer::<_, TextError>::new(pairs.into_iter().map(|(n, v)| {
        field = n.to_owned();
        (n, v)
    }));
    T::deserialize(map).map_err(|e| QueryError {
        field: e.field.unwrap_or(field),
        message: e.message,
    })
}

/// `?name=value&…` for the given parameters (none: empty); `None` fields are left out.
pub fn to_query<T: Serialize>(params: &T) -> String {
    let Ok(serde_json::Value::Object(fields)) = serde_json::to_value(params) else {
        return String::new();
    };
    let pairs: Vec<String> = fields
        .iter()
        .filter_map(|(name, value)| {
            let text = match value {
                serde_json::Value::Null => return None,
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            Some(format!(
                "{}={}",
                tessera_oauth1::encode::encode(name),
                tessera_oauth1::encode::encode(&text)
            ))
        })
        .collect();
    if pairs.is_empty() {
        String::new()
    } else {
        format!("?{}", pairs.join("&"))
    }
}

/// The error of one value; the field is filled in by the map.
#[derive(Debug)]
struct TextError {
    field: Option<String>,
    message: String,
}

impl std::fmt::Display for TextError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for TextError {}

impl de::Error for TextError {
    fn custom<M: std::fmt::Display>(message: M) -> Self {
        TextError {
            field: None,
            message: message.to_string(),
        }
    }
}

/// One parameter's text, parsed as the field's type asks.
#[derive(Clone, Copy)]
struct Text<'a>(&'a str);

impl<'de> IntoDeserializer<'de, TextError> for Text<'de> {
    type Deserializer = Self;
    fn into_deserializer(self) -> Self {
        self
    }
}

impl Text<'_> {
    fn parse<N: std::str::FromStr>(self, what: &str) -> Result<N, TextError> {
        self.0
            .parse()
            .map_err(|_| de::Error::custom(format!("must be {what}, not {:?}", self.0)))
    }
}

macro_rules! numbers {
    ($($method:ident $visit:ident $t:ty),*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TextError> {
            visitor.$visit(self.parse::<$t>("a whole number")?)
        }
    )*};
}

impl<'de> Deserializer<'de> for Text<'de> {
    type Error = TextError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TextError> {
        visitor.visit_borrowed_str(self.0)
    }

    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TextError> {
        match self.0 {
            t if t.eq_ignore_ascii_case("true") => visitor.visit_bool(true),
            f if f.eq_ignore_ascii_case("false") => visitor.visit_bool(false),
            other => Err(de::Error::custom(format!(
                "must be true or false, not {other:?}"
            ))),
        }
    }

    numbers!(
        deserialize_i32 visit_i32 i32, deserialize_i64 visit_i64 i64,
        deserialize_u32 visit_u32 u32, deserialize_u64 visit_u64 u64
    );

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, TextError> {
        visitor.visit_some(self)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, TextError> {
        visitor.visit_enum(self.0.into_deserializer())
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i128 u8 u16 u128 f32 f64 char str string bytes byte_buf unit unit_struct
        newtype_struct seq tuple tuple_struct map struct identifier ignored_any
    }
}

/// A choice among fixed words, written in lower case and read in any case: the `*Choice`
/// enums of the list parameters.
macro_rules! choice {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $word:literal),+ $(,)? }) => {
        $(#[$doc])*
        // Each word is its variant's name in lower case (the schema is made from the names;
        // `words_are_the_variants_in_lower_case` checks they agree).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
        #[serde(rename_all = "lowercase")]
        pub enum $name {
            $($(#[$vdoc])* $variant),+
        }

        impl $name {
            pub const WORDS: &[&str] = &[$($word),+];

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $word),+ }
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                $(if text.eq_ignore_ascii_case($word) {
                    return Ok(Self::$variant);
                })+
                Err(serde::de::Error::custom(format!(
                    "must be one of {}, not {text:?}",
                    Self::WORDS.join(", ")
                )))
            }
        }
    };
}
pub(crate) use choice;

/// An internal id in a query: a positive integer.
pub(crate) fn internal_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    let text = String::deserialize(d)?;
    match text.parse::<i64>() {
        Ok(id) if id > 0 => Ok(Some(id)),
        _ => Err(de::Error::custom(format!(
            "must be an internal id (a positive integer), not {text:?}"
        ))),
    }
}

/// Rows per page.
pub(crate) fn rows<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    let text = String::deserialize(d)?;
    text.parse::<u32>()
        .map(Some)
        .map_err(|_| de::Error::custom(format!("must be a number of rows, 1–1000, not {text:?}")))
}

/// A password in a request body: sent as text, held in a `SecretString` (masked in `Debug`,
/// zeroized when dropped). The only secret a request carries.
#[derive(Debug, Clone)]
pub struct Password(pub SecretString);

impl Serialize for Password {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.0.expose())
    }
}

impl<'de> Deserialize<'de> for Password {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(|p| Password(SecretString::from(p)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    choice!(Order { Up = "up", Down = "down" });

    #[derive(Debug, Default, Serialize, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields)]
    struct Params {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        order: Option<Order>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        flag: Option<bool>,
        #[serde(
            default,
            deserialize_with = "rows",
            skip_serializing_if = "Option::is_none"
        )]
        limit: Option<u32>,
        #[serde(
            default,
            deserialize_with = "internal_id",
            skip_serializing_if = "Option::is_none"
        )]
        user: Option<i64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        search: Option<String>,
    }

    fn read(pairs: &[(&str, &str)]) -> Result<Params, QueryError> {
        from_pairs(pairs.iter().copied())
    }

    #[test]
    fn words_are_the_variants_in_lower_case() {
        use crate::tokens::{RevokedChoice, TokenSortChoice};
        for (word, written) in RevokedChoice::WORDS
            .iter()
            .zip([RevokedChoice::All, RevokedChoice::Yes, RevokedChoice::No])
            .map(|(w, c)| (*w, serde_json::to_value(c).unwrap_or_default()))
            .chain(
                TokenSortChoice::WORDS
                    .iter()
                    .zip([
                        TokenSortChoice::Newest,
                        TokenSortChoice::Oldest,
                        TokenSortChoice::Name,
                    ])
                    .map(|(w, c)| (*w, serde_json::to_value(c).unwrap_or_default())),
            )
        {
            assert_eq!(written, word);
        }
    }

    #[test]
    fn names_are_serdes_own() {
        assert_eq!(
            field_names::<Params>(),
            ["order", "flag", "limit", "user", "search"]
        );
    }

    #[test]
    fn values_are_parsed_from_text_in_any_case() {
        let p = read(&[
            ("order", "DOWN"),
            ("flag", "True"),
            ("limit", "5"),
            ("user", "7"),
            ("search", "a b"),
        ])
        .unwrap_or_default();
        assert_eq!(
            p,
            Params {
                order: Some(Order::Down),
                flag: Some(true),
                limit: Some(5),
                user: Some(7),
                search: Some("a b".into())
            }
        );
        assert_eq!(read(&[]).unwrap_or_default(), Params::default());
    }

    #[test]
    fn a_control_character_in_any_value_names_its_field() {
        let e = read(&[("search", "a\0b")]).unwrap_err();
        assert_eq!(e.field, "search");
        assert_eq!(e.message, "must not contain control characters");
    }

    #[test]
    fn a_bad_value_names_its_field_and_says_what_was_expected() {
        let e = read(&[("search", "x"), ("limit", "ten")]).unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.message.as_str()),
            ("limit", "must be a number of rows, 1–1000, not \"ten\"")
        );
        let e = read(&[("order", "sideways")]).unwrap_err();
        assert_eq!(e.message, "must be one of up, down, not \"sideways\"");
        assert_eq!(Order::Down.as_str(), "down");
        let e = read(&[("flag", "yes")]).unwrap_err();
        assert_eq!(
            (e.field.as_str(), e.message.as_str()),
            ("flag", "must be true or false, not \"yes\"")
        );
        let e = read(&[("user", "0")]).unwrap_err();
        assert_eq!(e.field, "user");
    }

    #[test]
    fn the_query_is_written_back_from_the_struct() {
        let p = Params {
            order: Some(Order::Up),
            limit: Some(5),
            search: Some("Jürgen M".into()),
            ..Params::default()
        };
        assert_eq!(to_query(&p), "?limit=5&order=up&search=J%C3%BCrgen%20M");
        assert_eq!(to_query(&Params::default()), "");
    }
}
