//! Verification cost of the NetSuite RESTlet example request, next to a bare HMAC-SHA256 over the
//! same base string. Run: `cargo bench -p tessera-oauth1 --bench verify`.
#![allow(clippy::unwrap_used)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tessera_oauth1::{AuthorizationHeader, Profile, RequestParts, RequestUrl, Scheme, SigningKey};

const HOST: &str = "123456.restlets.api.netsuite.com";
const TARGET: &str =
    "/app/site/hosting/restlet.nl?script=6&deploy=1&customParam=someValue&testParam=someOtherValue";
const HEADER: &str = r#"OAuth realm="123456", oauth_token="2b0ce516420110bcbd36b69e99196d1b7f6de3c6234c5afb799b73d87569f5cc", oauth_consumer_key="ef40afdd8abaac111b13825dd5e5e2ddddb44f86d5a0dd6dcf38c20aae6b67e4", oauth_nonce="fjaLirsIcCGVZWzBX0pg", oauth_timestamp="1508242306", oauth_signature_method="HMAC-SHA256", oauth_version="1.0", oauth_signature="%2BKK4SKNgz4ZiILGLwOMtfYlgcXSy1eis8ldE9X90azQ%3D""#;
const CONSUMER_SECRET: &str = "d26ad321a4b2f23b0741c8d38392ce01c3e23e109df6c96eac6d099e9ab9e8b5";
const TOKEN_SECRET: &str = "c29a677df7d5439a458c063654187e3d678d73aca8e3c9d8bea1478a3eb0d295";
const NOW: u64 = 1_508_242_306;

/// What a server does per request: URL from the Host header and request target, header parse,
/// profile rules, base string, constant-time HMAC check.
fn full_verify(key: &SigningKey) -> bool {
    let url = RequestUrl::from_parts(Scheme::Https, black_box(HOST), black_box(TARGET)).unwrap();
    let header = AuthorizationHeader::parse(black_box(HEADER)).unwrap();
    let parts = RequestParts {
        method: "POST",
        url,
        form_body: None,
        body: b"",
    };
    parts.verify(&header, key, &Profile::default(), NOW).is_ok()
}

fn base_string() -> String {
    let url = RequestUrl::from_parts(Scheme::Https, HOST, TARGET).unwrap();
    let header = AuthorizationHeader::parse(HEADER).unwrap();
    let parts = RequestParts {
        method: "POST",
        url,
        form_body: None,
        body: b"",
    };
    parts.base_string(&header).unwrap()
}

fn bench(c: &mut Criterion) {
    let base = base_string();
    let key_bytes = format!("{CONSUMER_SECRET}&{TOKEN_SECRET}");
    let cached = SigningKey::new(CONSUMER_SECRET, TOKEN_SECRET);
    assert!(full_verify(&cached), "the benchmark request must verify");

    let mut g = c.benchmark_group("restlet_vector");
    g.bench_function("bare_hmac_sha256", |b| {
        b.iter(|| {
            let mut mac = Hmac::<Sha256>::new_from_slice(black_box(key_bytes.as_bytes())).unwrap();
            mac.update(black_box(base.as_bytes()));
            mac.finalize().into_bytes()
        })
    });
    g.bench_function("full_verify", |b| {
        b.iter(|| {
            full_verify(&SigningKey::new(
                black_box(CONSUMER_SECRET),
                black_box(TOKEN_SECRET),
            ))
        })
    });
    g.bench_function("bare_hmac_sha256_cached_key", |b| {
        b.iter(|| cached.sign(black_box(base.as_bytes())))
    });
    g.bench_function("full_verify_cached_key", |b| {
        b.iter(|| full_verify(black_box(&cached)))
    });
    g.bench_function("parse_header", |b| {
        b.iter(|| AuthorizationHeader::parse(black_box(HEADER)).unwrap())
    });
    g.bench_function("base_string", |b| b.iter(base_string));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
