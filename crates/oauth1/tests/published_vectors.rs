//! Every published known-answer vector (RFC 5849, OAuth Core 1.0, Twitter, NetSuite) must pass.
//!
//! The vectors are loaded from the repository's copy (`tests/vectors/published.json`) and, when
//! the workplace's shared copy (`../shared/vectors/published.json` beside the repository) exists,
//! from that one as well, so a vector added there is checked without editing this file.

#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use serde::Deserialize;
use tessera_oauth1::signature::legacy;
use tessera_oauth1::{
    AuthorizationHeader, RequestParts, RequestToSign, RequestUrl, SecretString, Signer, SigningKey,
    TokenPassport, build_authorization,
};

#[derive(Debug, Deserialize)]
struct VectorFile {
    vectors: Vec<Vector>,
}

#[derive(Debug, Deserialize)]
struct Vector {
    id: String,
    algorithm: String,
    method: Option<String>,
    url: Option<String>,
    realm: Option<String>,
    #[serde(default)]
    oauth_params: Vec<(String, String)>,
    form_body: Option<String>,
    consumer_secret: Option<String>,
    token_secret: Option<String>,
    expected_base_string: Option<String>,
    expected_normalized_params: Option<String>,
    expected_signature: Option<String>,
    expected_authorization_header: Option<String>,
    // TokenPassport vectors.
    message: Option<String>,
    key: Option<String>,
}

fn vector_files() -> Vec<PathBuf> {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut files = vec![manifest.join("tests/vectors/published.json")];
    let shared = manifest.join("../../../shared/vectors/published.json");
    if shared.exists() {
        files.push(shared);
    }
    files
}

/// Runs one vector; returns how many expectations it checked.
fn run(v: &Vector) -> usize {
    match v.algorithm.as_str() {
        "HMAC-SHA1" | "HMAC-SHA256" => run_oauth(v),
        "TokenPassport-HMAC-SHA256" => run_passport(v),
        other => panic!("vector {}: unknown algorithm {other:?}", v.id),
    }
}

fn run_oauth(v: &Vector) -> usize {
    let mut checked = 0;
    let method = v.method.as_deref().expect("method");
    let url = v.url.as_deref().expect("url");
    let mut header_params: Vec<(&str, &str)> = v
        .oauth_params
        .iter()
        .map(|(n, val)| (n.as_str(), val.as_str()))
        .collect();
    if let Some(sig) = &v.expected_signature {
        header_params.push(("oauth_signature", sig));
    }
    // The request as a client sends it: the header built from the vector's parameters.
    let header_text = build_authorization(v.realm.as_deref(), header_params.iter().copied());
    let header = AuthorizationHeader::parse(&header_text).unwrap();
    assert_eq!(header.realm(), v.realm.as_deref(), "{}", v.id);
    let parts = RequestParts {
        method,
        url: RequestUrl::parse(url).unwrap(),
        form_body: v.form_body.as_deref().map(str::as_bytes),
        body: v.form_body.as_deref().unwrap_or("").as_bytes(),
    };
    let base_string = parts.base_string(&header).unwrap();
    if let Some(expected) = &v.expected_base_string {
        assert_eq!(&base_string, expected, "{}: base string", v.id);
        checked += 1;
    }
    if let Some(expected) = &v.expected_normalized_params {
        let normalized =
            tessera_oauth1::normalized_params(&parts.url, parts.form_body, &header).unwrap();
        assert_eq!(&normalized, expected, "{}: normalized parameters", v.id);
        checked += 1;
    }
    let (Some(cs), Some(ts), Some(expected)) =
        (&v.consumer_secret, &v.token_secret, &v.expected_signature)
    else {
        return checked;
    };
    let bytes = base_string.as_bytes();
    if v.algorithm == "HMAC-SHA1" {
        assert_eq!(
            &legacy::hmac_sha1_base64(cs, ts, bytes),
            expected,
            "{}: signature",
            v.id
        );
        assert!(
            legacy::verify_hmac_sha1(cs, ts, bytes, expected),
            "{}",
            v.id
        );
        assert!(
            !legacy::verify_hmac_sha1(cs, "wrong", bytes, expected),
            "{}",
            v.id
        );
        return checked + 1;
    }
    let key = SigningKey::new(cs, ts);
    assert_eq!(
        &key.sign(bytes).to_base64(),
        expected,
        "{}: signature",
        v.id
    );
    assert!(key.verify(bytes, expected), "{}", v.id);
    assert!(
        !SigningKey::new(cs, "wrong").verify(bytes, expected),
        "{}",
        v.id
    );
    checked += 1;

    // The client side reproduces the signature (and, where published, the exact header).
    let param = |name: &str| {
        v.oauth_params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, val)| val.as_str())
            .expect(name)
    };
    let mut signer = Signer::new(
        param("oauth_consumer_key"),
        &SecretString::from(cs.as_str()),
        param("oauth_token"),
        &SecretString::from(ts.as_str()),
    );
    if let Some(realm) = &v.realm {
        signer = signer.with_realm(realm);
    }
    let signed = signer
        .sign(&RequestToSign {
            method,
            url,
            form_body: v.form_body.as_deref().map(str::as_bytes),
            nonce: Some(param("oauth_nonce")),
            timestamp: Some(param("oauth_timestamp").parse().unwrap()),
            ..Default::default()
        })
        .unwrap();
    assert_eq!(&signed.signature, expected, "{}: signer", v.id);
    assert_eq!(
        signed.base_string, base_string,
        "{}: signer base string",
        v.id
    );
    checked += 1;
    if let Some(expected_header) = &v.expected_authorization_header {
        assert_eq!(
            &signed.authorization, expected_header,
            "{}: Authorization header",
            v.id
        );
        checked += 1;
    }
    checked
}

fn run_passport(v: &Vector) -> usize {
    let message = v.message.as_deref().expect("message");
    let key = v.key.as_deref().expect("key");
    let expected = v.expected_signature.as_deref().expect("expected_signature");
    let fields: Vec<&str> = message.split('&').collect();
    let [account, consumer_key, token, nonce, timestamp] = fields[..] else {
        panic!("{}: a passport message has five fields", v.id);
    };
    let (cs, ts) = key.split_once('&').expect("key is cs&ts");
    let passport = TokenPassport {
        account,
        consumer_key,
        token,
        nonce,
        timestamp,
    };
    assert_eq!(passport.base_string(), message, "{}", v.id);
    let key = SigningKey::new(cs, ts);
    assert_eq!(passport.sign(&key), expected, "{}", v.id);
    assert!(passport.verify(&key, expected), "{}", v.id);
    assert!(
        passport
            .check_fields(Some("HMAC-SHA256"), None, 300)
            .is_ok(),
        "{}",
        v.id
    );
    2
}

#[test]
fn every_published_vector_passes() {
    for file in vector_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        let parsed: VectorFile = serde_json::from_str(&text).unwrap();
        assert!(!parsed.vectors.is_empty(), "{}", file.display());
        for v in &parsed.vectors {
            let checked = run(v);
            assert!(
                checked > 0,
                "vector {} in {} checked nothing",
                v.id,
                file.display()
            );
            eprintln!("{}: {} ({checked} checks)", file.display(), v.id);
        }
    }
}

#[test]
fn repository_copy_holds_all_nine_vectors() {
    let text = std::fs::read_to_string(&vector_files()[0]).unwrap();
    let parsed: VectorFile = serde_json::from_str(&text).unwrap();
    assert_eq!(parsed.vectors.len(), 9);
}
