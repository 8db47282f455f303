//! The Lambda benchmark behind the README's "On Lambda" table: on the simulated Lambda of the
//! lifecycle tests (freeze and thaw between invocations; the agent behind the extension
//! stand-in caching for 300 s, as the extension does), for each extension mode, the same
//! function with four ways of getting its config (`tests/bin/bench_function.rs`):
//! hard-coded constants (the baseline), a raw extension GET in every invocation, an SDK
//! `GetSecretValue` in every invocation, and this library's pattern (`load().await` at the top
//! of the handler). Rows: INIT duration, first-invocation latency, the handler's cost of
//! getting the config (median over the invocations after the first), and the whole
//! invocation as the simulator records it (from the runtime taking the event to its response);
//! ratios to the constants of the same mode, measured in one run.
//!
//! `./scripts/bench.sh` runs it (`cargo bench`); under `cargo test` (as CI runs it) it makes
//! three invocations per function, as a check that it still works, and prints no table.

use std::time::Duration;

use secrets_tests::human;
use secrets_tests::lambda::{LambdaBuilder, Readiness, jay};
use serde_json::json;

const HANDLERS: [(&str, &str); 4] = [
    ("constants", "hard-coded constants (baseline)"),
    ("extension-get", "raw extension GET per invocation"),
    ("sdk-get", "SDK GetSecretValue per invocation"),
    ("library", "this library: `load().await` in the handler"),
];

struct Measured {
    init: Duration,
    first: Duration,
    read: Duration,
    invocation: Duration,
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let full = std::env::args().any(|arg| arg == "--bench");
    let invocations = if full { 300 } else { 3 };
    let function = env!("CARGO_BIN_EXE_bench-function");
    let standin = env!("CARGO_BIN_EXE_extension-standin");
    let mut tables = Vec::new();
    for readiness in [Readiness::Managed, Readiness::Agent] {
        let mut rows = Vec::new();
        for (handler, label) in HANDLERS {
            let lambda = LambdaBuilder::new(function)
                .extension(standin, readiness)
                .env("BENCH_HANDLER", handler)
                // The extension's own cache, as on Lambda (300 s by default).
                .agent_ttl_seconds(300)
                .start(&jay("db-v1", "key-v1"))
                .await;
            let first = lambda.invoke(json!({})).await;
            assert_eq!(first.response()["database"], "db-v1:5432", "{handler}");
            let mut reads = Vec::with_capacity(invocations);
            let mut latencies = Vec::with_capacity(invocations);
            for _ in 0..invocations {
                let invoked = lambda.invoke(json!({})).await;
                let response = invoked.response();
                assert_eq!(response["database"], "db-v1:5432", "{handler}");
                reads.push(Duration::from_nanos(
                    response["read_ns"].as_u64().expect("read_ns"),
                ));
                latencies.push(invoked.handled.expect("the simulator's timestamps"));
            }
            rows.push((
                label,
                Measured {
                    init: lambda.init,
                    first: first.took,
                    read: median(reads),
                    invocation: median(latencies),
                },
            ));
        }
        tables.push((readiness, rows));
    }
    if !full {
        println!("lambda benchmark: every function answered (run ./scripts/bench.sh for figures)");
        return;
    }
    println!(
        "\nLambda lifecycle ({invocations} frozen invocations per function after the first; medians; ratios to the constants of the same mode):\n"
    );
    println!(
        "| extension | config from | INIT | first invocation | config read per invocation | invocation (event to response) |"
    );
    println!("|---|---|---|---|---|---|");
    for (readiness, rows) in &tables {
        let base = &rows[0].1;
        for (label, m) in rows {
            println!(
                "| {readiness:?} | {label} | {} ({}) | {} ({}) | {} ({}) | {} ({}) |",
                show(m.init),
                ratio(m.init, base.init),
                show(m.first),
                ratio(m.first, base.first),
                show(m.read),
                ratio(m.read, base.read),
                show(m.invocation),
                ratio(m.invocation, base.invocation),
            );
        }
    }
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort_unstable();
    values[values.len() / 2]
}

fn show(duration: Duration) -> String {
    human(duration.as_secs_f64() * 1e9)
}

fn ratio(value: Duration, base: Duration) -> String {
    format!(
        "{:.2}x",
        value.as_secs_f64() / base.as_secs_f64().max(1e-12)
    )
}
