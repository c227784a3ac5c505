//! Full verification over bare HMAC-SHA256, measured in interleaved rounds so that a machine whose
//! speed drifts (a shared VM) affects both sides of each ratio alike.
//!
//! `cargo run --release -p tessera-oauth1 --example verify_ratio [ROUNDS]`

use std::time::Instant;

use tessera_oauth1::SigningKey;

#[path = "../benches/restlet_fixture/mod.rs"]
mod restlet_fixture;
use restlet_fixture::*;

const ITERATIONS: u32 = 20_000;

/// Nanoseconds per call of `f`, over `ITERATIONS` calls.
fn ns_per_op(mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..ITERATIONS {
        f();
    }
    start.elapsed().as_nanos() as f64 / f64::from(ITERATIONS)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(41);
    let base = base_string();
    let key_bytes = format!("{CONSUMER_SECRET}&{TOKEN_SECRET}");
    let cached = SigningKey::new(CONSUMER_SECRET, TOKEN_SECRET);
    assert!(full_verify(&cached), "the request must verify");

    let names = [
        "bare HMAC-SHA256 (key set up per call)",
        "full verify (key set up per call)",
        "bare HMAC-SHA256 (cached keyed state)",
        "full verify (cached keyed state)",
    ];
    let mut samples: [Vec<f64>; 4] = Default::default();
    let mut ratio_per_call = Vec::new();
    let mut ratio_cached = Vec::new();
    for _ in 0..rounds {
        let t = [
            ns_per_op(|| {
                std::hint::black_box(bare_hmac(key_bytes.as_bytes(), base.as_bytes()));
            }),
            ns_per_op(|| {
                std::hint::black_box(full_verify(&SigningKey::new(CONSUMER_SECRET, TOKEN_SECRET)));
            }),
            ns_per_op(|| {
                std::hint::black_box(cached.sign(base.as_bytes()));
            }),
            ns_per_op(|| {
                std::hint::black_box(full_verify(&cached));
            }),
        ];
        ratio_per_call.push(t[1] / t[0]);
        ratio_cached.push(t[3] / t[2]);
        for (s, v) in samples.iter_mut().zip(t) {
            s.push(v);
        }
    }
    println!("{rounds} interleaved rounds of {ITERATIONS} calls each; medians:");
    for (name, s) in names.iter().zip(samples) {
        println!("  {name:<40} {:>8.0} ns", median(s));
    }
    println!(
        "  full verify / bare HMAC, key per call   {:>8.2}x",
        median(ratio_per_call)
    );
    println!(
        "  full verify / bare HMAC, cached key     {:>8.2}x",
        median(ratio_cached)
    );
}
