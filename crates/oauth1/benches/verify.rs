//! Verification cost of the NetSuite RESTlet example request, next to a bare HMAC-SHA256 over the
//! same base string. Run: `cargo bench -p tessera-oauth1 --bench verify`.
//! On a noisy machine, `cargo run --release -p tessera-oauth1 --example verify_ratio` measures
//! the ratio with interleaved rounds.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tessera_oauth1::{AuthorizationHeader, SigningKey};

mod restlet_fixture;
use restlet_fixture::*;

fn bench(c: &mut Criterion) {
    let base = base_string();
    let key_bytes = format!("{CONSUMER_SECRET}&{TOKEN_SECRET}");
    let cached = SigningKey::new(CONSUMER_SECRET, TOKEN_SECRET);
    assert!(full_verify(&cached), "the benchmark request must verify");

    let mut g = c.benchmark_group("restlet_vector");
    g.bench_function("bare_hmac_sha256", |b| {
        b.iter(|| bare_hmac(key_bytes.as_bytes(), base.as_bytes()))
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
        b.iter(|| AuthorizationHeader::parse(black_box(HEADER)).map(|h| h.params().len()))
    });
    g.bench_function("base_string", |b| b.iter(base_string));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
