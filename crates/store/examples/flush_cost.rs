//! What a durable record costs on this machine before any database is involved: a group's
//! bytes appended to a file, then `fdatasync` — the least any store that answers only after
//! its record is durable must do per group commit. Prints the latency and the CPU time of
//! each call, and the CPU time of the same appends without the flush.
//!
//! ```text
//! cargo run --release -p tessera-store --example flush_cost -- ./tessera-data 3000 6000
//! ```
//! Arguments: a directory on the disk to measure (a scratch file is made and removed there),
//! calls, bytes per group (6,000 ≈ 20 claims with their audit rows). Linux only (CPU time is
//! read from `/proc/self/stat`).

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::time::{Duration, Instant};

/// CPU time (user + system) of this process so far.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    // The command name is in parentheses and may hold spaces: count fields after it.
    let after = &stat[stat.rfind(')').unwrap() + 2..];
    let fields: Vec<&str> = after.split(' ').collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the name.
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // Linux reports them in USER_HZ, 100 per second on every mainstream build.
    Duration::from_millis(ticks * 10)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let dir = std::path::PathBuf::from(args.get(1).map_or(".", String::as_str));
    let calls: u32 = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(3000);
    let bytes: usize = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(6000);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("flush-cost-{}.tmp", std::process::id()));
    let mut file = std::fs::OpenOptions::new()
        .create_new(true)
        .append(true)
        .open(&path)
        .unwrap();
    let group = vec![b'x'; bytes];

    let mut latencies = Vec::with_capacity(calls as usize);
    let (cpu_before, started) = (cpu_time(), Instant::now());
    for _ in 0..calls {
        let call = Instant::now();
        file.write_all(&group).unwrap();
        file.sync_data().unwrap();
        latencies.push(call.elapsed());
    }
    let (cpu, wall) = (cpu_time() - cpu_before, started.elapsed());
    latencies.sort_unstable();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
    println!(
        "append {bytes} B + fdatasync, {calls} calls: {:.0} µs wall and {:.0} µs CPU per call; p50 {:.0} µs, p99 {:.0} µs",
        wall.as_secs_f64() * 1e6 / f64::from(calls),
        cpu.as_secs_f64() * 1e6 / f64::from(calls),
        at(0.5).as_secs_f64() * 1e6,
        at(0.99).as_secs_f64() * 1e6,
    );

    let cpu_before = cpu_time();
    for _ in 0..calls {
        file.write_all(&group).unwrap();
    }
    let cpu = cpu_time() - cpu_before;
    println!(
        "append {bytes} B alone: {:.1} µs CPU per call",
        cpu.as_secs_f64() * 1e6 / f64::from(calls)
    );
    drop(file);
    std::fs::remove_file(&path).unwrap();
}
