//! Property tests: whatever the request, what the signer signs the verifier accepts; any change
//! to a signed part is detected; the realm is not signed.

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use proptest::sample::Index;
use tessera_oauth1::encode::encode;
use tessera_oauth1::{
    AuthorizationHeader, Profile, RequestParts, RequestToSign, RequestUrl, SecretString, Signer,
    SigningKey, build_authorization,
};

const NOW: u64 = 1_700_000_000;

#[derive(Debug, Clone)]
struct Req {
    method: String,
    https: bool,
    host: String,
    port: Option<u16>,
    path: String,
    query: Vec<(String, String)>,
    form: Option<Vec<(String, String)>>,
    /// Spaces in the query and form written as `+` instead of `%20`.
    plus_for_space: bool,
    realm: String,
    consumer_key: String,
    consumer_secret: String,
    token: String,
    token_secret: String,
    nonce: String,
}

impl Req {
    fn form_encode(&self, pairs: &[(String, String)]) -> String {
        let enc = |s: &str| {
            let e = encode(s).into_owned();
            if self.plus_for_space {
                e.replace("%20", "+")
            } else {
                e
            }
        };
        pairs
            .iter()
            .map(|(n, v)| format!("{}={}", enc(n), enc(v)))
            .collect::<Vec<_>>()
            .join("&")
    }

    fn url(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        let port = self.port.map(|p| format!(":{p}")).unwrap_or_default();
        let mut url = format!("{scheme}://{}{port}{}", self.host, self.path);
        if !self.query.is_empty() {
            url.push('?');
            url.push_str(&self.form_encode(&self.query));
        }
        url
    }

    fn form_body(&self) -> Option<String> {
        self.form.as_ref().map(|f| self.form_encode(f))
    }

    fn sign(&self) -> String {
        Signer::new(
            &self.consumer_key,
            &SecretString::from(self.consumer_secret.as_str()),
            &self.token,
            &SecretString::from(self.token_secret.as_str()),
        )
        .with_realm(&self.realm)
        .sign(&RequestToSign {
            method: &self.method,
            url: &self.url(),
            form_body: self.form_body().as_deref().map(str::as_bytes),
            nonce: Some(&self.nonce),
            timestamp: Some(NOW),
            ..Default::default()
        })
        .unwrap()
        .authorization
    }

    fn key(&self) -> SigningKey {
        SigningKey::new(&self.consumer_secret, &self.token_secret)
    }

    /// Full verification (profile rules included) of this request under `header`.
    fn verify(&self, header: &str) -> bool {
        let url = self.url();
        let body = self.form_body();
        let Ok(header) = AuthorizationHeader::parse(header) else {
            return false;
        };
        let Ok(url) = RequestUrl::parse(&url) else {
            return false;
        };
        let parts = RequestParts {
            method: &self.method,
            url,
            form_body: body.as_deref().map(str::as_bytes),
            body: body.as_deref().unwrap_or("").as_bytes(),
        };
        parts
            .verify(&header, &self.key(), &Profile::default(), NOW)
            .is_ok()
    }
}

fn text() -> impl Strategy<Value = String> {
    // Printable ASCII (every reserved character included), a few multi-byte characters.
    "[ -~éß日€]{0,10}"
}

fn pairs() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((text(), text()), 0..5)
}

fn request() -> impl Strategy<Value = Req> {
    (
        (
            prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "PATCH"]),
            any::<bool>(),
            "[a-z][a-z0-9]{0,8}(\\.[a-z]{2,4}){0,2}",
            prop::option::of(1u16..),
            "(/[A-Za-z0-9._~!$&'()*+,;=:@%-]{0,8}){1,4}",
        ),
        (pairs(), prop::option::of(pairs()), any::<bool>()),
        (
            "[0-9A-Z_]{1,12}",
            "[0-9a-f]{64}",
            text(),
            "[0-9a-f]{64}",
            text(),
            "[A-Za-z0-9]{6,40}",
        ),
    )
        .prop_map(
            |(
                (method, https, host, port, path),
                (query, form, plus_for_space),
                (realm, consumer_key, consumer_secret, token, token_secret, nonce),
            )| Req {
                method: method.to_owned(),
                https,
                host,
                port,
                path,
                query,
                form,
                plus_for_space,
                realm,
                consumer_key,
                consumer_secret,
                token,
                token_secret,
                nonce,
            },
        )
}

/// Replaces the character at `at` with `with` (which must differ), or appends `with` when empty.
fn change_one(s: &str, at: Index, with: char) -> Option<String> {
    let chars: Vec<char> = s.chars().collect();
    if chars.is_empty() {
        return Some(with.to_string());
    }
    let i = at.index(chars.len());
    if chars[i] == with {
        return None;
    }
    let mut out = chars;
    out[i] = with;
    Some(out.into_iter().collect())
}

#[derive(Debug, Clone)]
enum Target {
    Method,
    Host,
    Path,
    QueryName,
    QueryValue,
    FormName,
    FormValue,
    OAuth(&'static str),
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        Just(Target::Method),
        Just(Target::Host),
        Just(Target::Path),
        Just(Target::QueryName),
        Just(Target::QueryValue),
        Just(Target::FormName),
        Just(Target::FormValue),
        prop::sample::select(vec![
            "oauth_consumer_key",
            "oauth_token",
            "oauth_nonce",
            "oauth_timestamp",
            "oauth_signature_method",
            "oauth_version",
            "oauth_signature",
        ])
        .prop_map(Target::OAuth),
    ]
}

/// Rebuilds `header` with one parameter's value replaced.
fn with_header_value(header: &str, name: &str, new_value: &str) -> String {
    let parsed = AuthorizationHeader::parse(header).unwrap();
    let params: Vec<(String, String)> = parsed
        .params()
        .iter()
        .map(|p| {
            let value = if p.name() == name {
                new_value
            } else {
                p.value()
            };
            (p.name().to_owned(), value.to_owned())
        })
        .collect();
    build_authorization(
        parsed.realm(),
        params.iter().map(|(n, v)| (n.as_str(), v.as_str())),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn what_the_signer_signs_the_verifier_accepts(req in request()) {
        let header = req.sign();
        prop_assert!(req.verify(&header), "header {header}");
    }

    #[test]
    fn realm_is_not_signed(req in request(), realm in "[ -!#-~]{0,20}") {
        let header = req.sign();
        let changed = build_authorization(
            Some(&realm),
            AuthorizationHeader::parse(&header).unwrap().params().iter().map(|p| (p.name(), p.value())),
        );
        prop_assert!(req.verify(&changed));
    }

    #[test]
    fn any_single_change_to_a_signed_part_is_detected(
        req in request(),
        target in target(),
        pick in any::<Index>(),
        at in any::<Index>(),
        with in prop::char::range(' ', '~'),
        letter in prop::char::range('a', 'z'),
    ) {
        let header = req.sign();
        let mut changed = req.clone();
        let mut changed_header = header.clone();
        let pair = |pairs: &mut Vec<(String, String)>| -> Option<usize> {
            if pairs.is_empty() { None } else { Some(pick.index(pairs.len())) }
        };
        let applied = match target {
            Target::Method => change_one(&req.method, at, letter.to_ascii_uppercase())
                .map(|m| changed.method = m),
            Target::Host => change_one(&req.host, at, letter).map(|h| changed.host = h),
            Target::Path => {
                // Keep the leading '/', and stay within what a URL path can carry.
                let allowed = with.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@%/".contains(with);
                if allowed {
                    change_one(&req.path[1..], at, with).map(|p| changed.path = format!("/{p}"))
                } else {
                    None
                }
            }
            Target::QueryName | Target::QueryValue => pair(&mut changed.query).and_then(|i| {
                let (n, v) = &mut changed.query[i];
                let field = if matches!(target, Target::QueryName) { n } else { v };
                change_one(field, at, with).map(|s| *field = s)
            }),
            Target::FormName | Target::FormValue => match changed.form.as_mut() {
                Some(form) => pair(form).and_then(|i| {
                    let (n, v) = &mut form[i];
                    let field = if matches!(target, Target::FormName) { n } else { v };
                    change_one(field, at, with).map(|s| *field = s)
                }),
                None => None,
            },
            Target::OAuth(name) => {
                let parsed = AuthorizationHeader::parse(&header).unwrap();
                let current = parsed.get_by_name(name).unwrap().to_owned();
                change_one(&current, at, with).map(|v| changed_header = with_header_value(&header, name, &v))
            }
        };
        prop_assume!(applied.is_some());
        prop_assert!(!changed.verify(&changed_header), "{target:?} changed, still accepted");
    }
}
