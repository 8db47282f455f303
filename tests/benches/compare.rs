//! The benchmark behind the README's table: this library against what users use today, side by
//! side in one process, reported as ratios of the same run.
//!
//! Run it with `./scripts/bench.sh` (it starts moto and the Secrets Manager Agent). Under
//! `cargo test` (as CI runs it) each benchmark runs once, as a check that it still works.
//!
//! Rows:
//! 1. baseline: a field read through a `static OnceLock<Config>`;
//! 2. `Jay::get()` and a field read, on one thread and on two threads at once (the per-read
//!    time of each thread, through one harness for one and two threads);
//! 3. `aws_secretsmanager_caching` 2.1.0: a cache hit of `get_secret_value` plus `serde_json`
//!    into the same typed struct;
//! 4. through the agent on loopback: a raw HTTP GET, and an uncached load through this
//!    library (`T::fetch`: the request and the decoding a cold load makes);
//! 5. through the SDK to moto: a raw `GetSecretValue`, and an uncached load through this
//!    library;
//! 6. a cold load of a struct with 4 sources against 4 sequential calls: 4 secrets through the
//!    agent (raw GETs one after the other), and 2 secrets and 2 parameters through the SDK
//!    (`GetSecretValue`, `GetSecretValue`, `GetParameter`, `GetParameter`).

use std::hint::black_box;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use aws_secretsmanager_caching::SecretsManagerCachingClient;
use bytes::Bytes;
use criterion::{BenchmarkId, Criterion};
use http_body_util::{BodyExt as _, Empty};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::rt::TokioExecutor;
use secrets_runtime::{FromSecret, Provider, SecretString, Source};
use secrets_tests::bench::{Results, on_threads};
use secrets_tests::{
    agent_port, agent_token, create_secret, human, moto, moto_ssm, put_parameter, unique_name,
};

/// The config under test, as this library reads it.
#[derive(Debug, FromSecret)]
#[allow(dead_code)]
#[secret(name = "{BENCH_SECRET_NAME}")]
struct Jay {
    db_host: String,
    db_port: u16,
    debug: bool,
    api_key: SecretString,
}

/// A struct of 4 secrets: its own and 3 others.
#[derive(Debug, FromSecret)]
#[allow(dead_code)]
#[secret(name = "{BENCH_SECRET_NAME}")]
struct FourSecrets {
    db_host: String,
    #[secret(from = "{BENCH_SECRET_NAME}-b", key = "db_port")]
    port_b: u16,
    #[secret(from = "{BENCH_SECRET_NAME}-c", key = "db_port")]
    port_c: u16,
    #[secret(from = "{BENCH_SECRET_NAME}-d", key = "api_key")]
    api_key: SecretString,
}

/// A struct of 2 secrets and 2 parameters (one `SecureString`).
#[derive(Debug, FromSecret)]
#[allow(dead_code)]
#[secret(name = "{BENCH_SECRET_NAME}")]
struct TwoAndTwo {
    db_host: String,
    #[secret(from = "{BENCH_SECRET_NAME}-b", key = "api_key")]
    api_key: SecretString,
    #[secret(parameter = "/{BENCH_SECRET_NAME}/hosts")]
    hosts: Vec<String>,
    #[secret(parameter = "/{BENCH_SECRET_NAME}/password")]
    password: SecretString,
}

/// The same config, as a user of `aws_secretsmanager_caching` writes it.
#[derive(Debug, serde::Deserialize)]
#[allow(dead_code)]
struct JayJson {
    db_host: String,
    db_port: u16,
    debug: bool,
    api_key: String,
}

/// The baseline: a plain constant-like config.
#[allow(dead_code)]
struct Constant {
    db_host: String,
    db_port: u16,
}

static CONSTANT: OnceLock<Constant> = OnceLock::new();

const VALUE: &str =
    r#"{"db_host":"db.internal","db_port":5432,"debug":false,"api_key":"bench-key"}"#;

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let name = unique_name("bench/lambda/jay");
    runtime.block_on(async {
        create_secret(&name, VALUE).await;
        for suffix in ["b", "c", "d"] {
            create_secret(&format!("{name}-{suffix}"), VALUE).await;
        }
        put_parameter(
            &format!("/{name}/hosts"),
            "StringList",
            "a.internal,b.internal",
        )
        .await;
        put_parameter(
            &format!("/{name}/password"),
            "SecureString",
            "bench-password",
        )
        .await;
    });
    let results = Results::from_now(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("criterion"));
    let mut criterion = Criterion::default()
        .output_directory(results.dir())
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();

    hot_path(&mut criterion, &runtime, &name);
    aws_caching_client(&mut criterion, &runtime, &name);
    extension(&mut criterion, &runtime, &name);
    sdk(&mut criterion, &runtime, &name);
    four_sources(&mut criterion, &runtime, &name);
    criterion.final_summary();
    print_ratios(&results);
}

fn extension_provider(name: &str) -> Provider {
    Provider::builder()
        .source(Source::Extension)
        .extension_port(agent_port())
        .var("BENCH_SECRET_NAME", name)
        .build()
}

fn hot_path(c: &mut Criterion, runtime: &tokio::runtime::Runtime, name: &str) {
    CONSTANT.get_or_init(|| Constant {
        db_host: "db.internal".into(),
        db_port: 5432,
    });
    runtime
        .block_on(Jay::load_with(Arc::new(extension_provider(name))))
        .expect("loads through the agent");

    let mut group = c.benchmark_group("hot_path");
    group.bench_function("oncelock_baseline", |b| {
        b.iter(|| black_box(&CONSTANT).get().map(|c| c.db_port));
    });
    group.bench_function("secrets_get", |b| b.iter(|| black_box(Jay::get().db_port)));
    // What a freshness check that reads the clock would add to every read.
    group.bench_function("instant_now", |b| b.iter(Instant::now));
    // One thread and two at once, through the same harness, so that the ratio compares like
    // with like.
    for threads in [1, 2] {
        let id = format!("{threads}_threads");
        group.bench_function(BenchmarkId::new("oncelock_baseline", &id), |b| {
            b.iter_custom(|iters| {
                on_threads(threads, iters, || {
                    black_box(&CONSTANT).get().map(|c| c.db_port)
                })
            });
        });
        group.bench_function(BenchmarkId::new("secrets_get", &id), |b| {
            b.iter_custom(|iters| on_threads(threads, iters, || black_box(Jay::get().db_port)));
        });
    }
    group.finish();
}

fn aws_caching_client(c: &mut Criterion, runtime: &tokio::runtime::Runtime, name: &str) {
    let client = runtime.block_on(async {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        SecretsManagerCachingClient::from_builder(
            aws_sdk_secretsmanager::config::Builder::from(&config),
            NonZeroUsize::new(16).expect("non-zero"),
            Duration::from_secs(300),
            false,
        )
        .await
        .expect("caching client")
    });
    let typed = || async {
        let output = client
            .get_secret_value(name, None, None, false)
            .await
            .expect("cache hit");
        let text = output.secret_string.expect("a string secret");
        serde_json::from_str::<JayJson>(&text).expect("typed")
    };
    runtime.block_on(typed()); // fills the cache: every iteration below is a hit
    let mut group = c.benchmark_group("hot_path");
    group.bench_function("aws_caching_hit_plus_serde", |b| {
        b.to_async(runtime)
            .iter(|| async { black_box(typed().await.db_port) });
    });
    group.finish();
}

fn extension(c: &mut Criterion, runtime: &tokio::runtime::Runtime, name: &str) {
    let client: HttpClient<_, Empty<Bytes>> =
        HttpClient::builder(TokioExecutor::new()).build_http();
    let uri = format!(
        "http://127.0.0.1:{}/secretsmanager/get?secretId={}",
        agent_port(),
        name.replace('/', "%2F")
    );
    let token = agent_token();
    let raw_get = || async {
        let request = http::Request::get(&uri)
            .header("X-Aws-Parameters-Secrets-Token", &token)
            .body(Empty::new())
            .expect("request");
        let response = client.request(request).await.expect("agent answers");
        assert!(response.status().is_success());
        let body = response.into_body().collect().await.expect("body");
        black_box(body.to_bytes().len());
    };
    let provider = extension_provider(name);
    let cold_load = || async {
        black_box(Jay::fetch(&provider).await.expect("loads").db_port);
    };
    let mut group = c.benchmark_group("extension");
    group
        .sample_size(60)
        .measurement_time(Duration::from_secs(6));
    group.bench_function("raw_http_get", |b| {
        b.to_async(runtime)
            .iter_custom(|iters| interleaved(iters, &raw_get, &cold_load, false, &EXTENSION_PAIR));
    });
    group.bench_function("secrets_cold_load", |b| {
        b.to_async(runtime)
            .iter_custom(|iters| interleaved(iters, &raw_get, &cold_load, true, &EXTENSION_PAIR));
    });
    group.finish();
}

fn sdk(c: &mut Criterion, runtime: &tokio::runtime::Runtime, name: &str) {
    let client = runtime.block_on(moto());
    let provider = Provider::builder()
        .source(Source::Sdk)
        .sdk_client(client.clone())
        .var("BENCH_SECRET_NAME", name)
        .build();
    let raw_get = || async {
        let output = client
            .get_secret_value()
            .secret_id(name)
            .send()
            .await
            .expect("moto answers");
        black_box(output.secret_string().map(str::len));
    };
    let cold_load = || async {
        black_box(Jay::fetch(&provider).await.expect("loads").db_port);
    };
    let mut group = c.benchmark_group("sdk");
    group
        .sample_size(60)
        .measurement_time(Duration::from_secs(8));
    group.bench_function("raw_get_secret_value", |b| {
        b.to_async(runtime)
            .iter_custom(|iters| interleaved(iters, &raw_get, &cold_load, false, &SDK_PAIR));
    });
    group.bench_function("secrets_cold_load", |b| {
        b.to_async(runtime)
            .iter_custom(|iters| interleaved(iters, &raw_get, &cold_load, true, &SDK_PAIR));
    });
    group.finish();
}

/// A cold load of a struct with 4 sources, against the 4 calls a user makes one after the
/// other today: through the agent (4 secrets) and through the SDK (2 secrets, 2 parameters).
fn four_sources(c: &mut Criterion, runtime: &tokio::runtime::Runtime, name: &str) {
    let http: HttpClient<_, Empty<Bytes>> = HttpClient::builder(TokioExecutor::new()).build_http();
    let token = agent_token();
    let names: Vec<String> = std::iter::once(name.to_owned())
        .chain(["b", "c", "d"].map(|s| format!("{name}-{s}")))
        .collect();
    let four_gets = || async {
        for secret in &names {
            let uri = format!(
                "http://127.0.0.1:{}/secretsmanager/get?secretId={}",
                agent_port(),
                secret.replace('/', "%2F")
            );
            let request = http::Request::get(&uri)
                .header("X-Aws-Parameters-Secrets-Token", &token)
                .body(Empty::new())
                .expect("request");
            let response = http.request(request).await.expect("agent answers");
            assert!(response.status().is_success());
            let body = response.into_body().collect().await.expect("body");
            black_box(body.to_bytes().len());
        }
    };
    let agent = extension_provider(name);
    let agent_load = || async {
        black_box(FourSecrets::fetch(&agent).await.expect("loads").port_b);
    };

    let (secrets, ssm) = runtime.block_on(async { (moto().await, moto_ssm().await) });
    let (other, hosts, password) = (
        format!("{name}-b"),
        format!("/{name}/hosts"),
        format!("/{name}/password"),
    );
    let four_calls = || async {
        for secret in [name, other.as_str()] {
            let output = secrets
                .get_secret_value()
                .secret_id(secret)
                .send()
                .await
                .expect("moto answers");
            black_box(output.secret_string().map(str::len));
        }
        for parameter in [&hosts, &password] {
            let output = ssm
                .get_parameter()
                .name(parameter)
                .with_decryption(true)
                .send()
                .await
                .expect("moto answers");
            black_box(output.parameter().and_then(|p| p.value()).map(str::len));
        }
    };
    let sdk = Provider::builder()
        .source(Source::Sdk)
        .sdk_client(secrets.clone())
        .ssm_client(ssm.clone())
        .var("BENCH_SECRET_NAME", name)
        .build();
    let sdk_load = || async {
        black_box(TwoAndTwo::fetch(&sdk).await.expect("loads").hosts.len());
    };

    let mut group = c.benchmark_group("four_sources");
    group
        .sample_size(40)
        .measurement_time(Duration::from_secs(8));
    group.bench_function("agent_four_sequential_gets", |b| {
        b.to_async(runtime).iter_custom(|iters| {
            interleaved(iters, &four_gets, &agent_load, false, &FOUR_AGENT_PAIR)
        });
    });
    group.bench_function("agent_cold_load", |b| {
        b.to_async(runtime).iter_custom(|iters| {
            interleaved(iters, &four_gets, &agent_load, true, &FOUR_AGENT_PAIR)
        });
    });
    group.bench_function("sdk_four_sequential_calls", |b| {
        b.to_async(runtime)
            .iter_custom(|iters| interleaved(iters, &four_calls, &sdk_load, false, &FOUR_SDK_PAIR));
    });
    group.bench_function("sdk_cold_load", |b| {
        b.to_async(runtime)
            .iter_custom(|iters| interleaved(iters, &four_calls, &sdk_load, true, &FOUR_SDK_PAIR));
    });
    group.finish();
}

/// Time spent in each call of a pair of rows, over all their iterations.
struct PairTotals {
    baseline_nanos: AtomicU64,
    library_nanos: AtomicU64,
}

impl PairTotals {
    const fn new() -> Self {
        Self {
            baseline_nanos: AtomicU64::new(0),
            library_nanos: AtomicU64::new(0),
        }
    }

    /// The library's time over the baseline's, over the same alternating calls.
    fn ratio(&self) -> f64 {
        let nanos = |total: &AtomicU64| total.load(Ordering::Relaxed) as f64;
        nanos(&self.library_nanos) / nanos(&self.baseline_nanos)
    }
}

static EXTENSION_PAIR: PairTotals = PairTotals::new();
static SDK_PAIR: PairTotals = PairTotals::new();
static FOUR_AGENT_PAIR: PairTotals = PairTotals::new();
static FOUR_SDK_PAIR: PairTotals = PairTotals::new();

/// Round trips drift (a Python server, connection reuse, CPU frequency), so the two rows of a
/// pair are measured alternately: each iteration runs the baseline call, then the library's,
/// timing both; criterion gets the time of this row's call, and `totals` keeps both, for a
/// ratio over exactly the same conditions.
async fn interleaved<A, B, FA, FB>(
    iters: u64,
    baseline: &A,
    library: &B,
    report_library: bool,
    totals: &PairTotals,
) -> Duration
where
    A: Fn() -> FA,
    B: Fn() -> FB,
    FA: Future<Output = ()>,
    FB: Future<Output = ()>,
{
    let (mut baseline_total, mut library_total) = (Duration::ZERO, Duration::ZERO);
    for _ in 0..iters {
        let started = Instant::now();
        baseline().await;
        let between = Instant::now();
        library().await;
        baseline_total += between - started;
        library_total += between.elapsed();
    }
    let as_nanos = |d: Duration| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX);
    totals
        .baseline_nanos
        .fetch_add(as_nanos(baseline_total), Ordering::Relaxed);
    totals
        .library_nanos
        .fetch_add(as_nanos(library_total), Ordering::Relaxed);
    if report_library {
        library_total
    } else {
        baseline_total
    }
}

/// Prints the README's table: each row's median and its ratio to its baseline.
fn print_ratios(results: &Results) {
    let rows = [
        (
            "hot path: OnceLock field read (baseline)",
            "hot_path/oncelock_baseline",
            "hot_path/oncelock_baseline",
            "",
        ),
        (
            "hot path: `Jay::get()` field read",
            "hot_path/secrets_get",
            "hot_path/oncelock_baseline",
            "<= 5x",
        ),
        (
            "hot path, threaded harness: OnceLock, 1 thread (baseline)",
            "hot_path/oncelock_baseline/1_threads",
            "hot_path/oncelock_baseline/1_threads",
            "",
        ),
        (
            "hot path, threaded harness: OnceLock, 2 threads at once",
            "hot_path/oncelock_baseline/2_threads",
            "hot_path/oncelock_baseline/1_threads",
            "",
        ),
        (
            "hot path, threaded harness: `Jay::get()`, 1 thread",
            "hot_path/secrets_get/1_threads",
            "hot_path/oncelock_baseline/1_threads",
            "<= 5x",
        ),
        (
            "hot path, threaded harness: `Jay::get()`, 2 threads at once",
            "hot_path/secrets_get/2_threads",
            "hot_path/secrets_get/1_threads",
            "<= 1.5x of 1 thread",
        ),
        (
            "hot path, threaded harness: `Jay::get()` over OnceLock, 2 threads",
            "hot_path/secrets_get/2_threads",
            "hot_path/oncelock_baseline/2_threads",
            "",
        ),
        (
            "a clock read alone (`Instant::now()`)",
            "hot_path/instant_now",
            "hot_path/oncelock_baseline",
            "",
        ),
        (
            "aws_secretsmanager_caching hit + serde_json",
            "hot_path/aws_caching_hit_plus_serde",
            "hot_path/secrets_get",
            ">= 50x slower than `get()`",
        ),
        (
            "agent: raw HTTP GET (baseline)",
            "extension/raw_http_get",
            "extension/raw_http_get",
            "",
        ),
        (
            "agent: uncached load through this library (`T::fetch`: request + decode)",
            "extension/secrets_cold_load",
            "extension/raw_http_get",
            "<= 1.2x",
        ),
        (
            "SDK to moto: raw GetSecretValue (baseline)",
            "sdk/raw_get_secret_value",
            "sdk/raw_get_secret_value",
            "",
        ),
        (
            "SDK to moto: uncached load through this library (`T::fetch`)",
            "sdk/secrets_cold_load",
            "sdk/raw_get_secret_value",
            "<= 1.1x",
        ),
        (
            "agent: 4 sequential GETs, one per secret (baseline)",
            "four_sources/agent_four_sequential_gets",
            "four_sources/agent_four_sequential_gets",
            "",
        ),
        (
            "agent: cold load of a struct with 4 sources (4 secrets, `T::fetch`)",
            "four_sources/agent_cold_load",
            "four_sources/agent_four_sequential_gets",
            "< 1x",
        ),
        (
            "SDK to moto: 4 sequential calls, 2 GetSecretValue + 2 GetParameter (baseline)",
            "four_sources/sdk_four_sequential_calls",
            "four_sources/sdk_four_sequential_calls",
            "",
        ),
        (
            "SDK to moto: cold load of a struct with 4 sources (2 secrets + 2 parameters, `T::fetch`)",
            "four_sources/sdk_cold_load",
            "four_sources/sdk_four_sequential_calls",
            "< 1x",
        ),
    ];

    if results.median(rows[0].1).is_none() {
        println!("(test mode: no measurements, no ratio table)");
        return;
    }
    println!("\n| row | median | ratio to its baseline | target |");
    println!("|---|---|---|---|");
    for (label, id, baseline, target) in rows {
        let (Some(value), Some(base)) = (results.median(id), results.median(baseline)) else {
            println!("| {label} | missing | | {target} |");
            continue;
        };
        println!(
            "| {label} | {} | {:.2}x | {target} |",
            human(value),
            value / base
        );
    }
    println!(
        "\nPaired ratios (every iteration calls both, alternately): agent load / raw GET = \
         {:.3}x; SDK load / raw GetSecretValue = {:.3}x; 4-source load / 4 sequential calls: \
         agent {:.3}x, SDK {:.3}x",
        EXTENSION_PAIR.ratio(),
        SDK_PAIR.ratio(),
        FOUR_AGENT_PAIR.ratio(),
        FOUR_SDK_PAIR.ratio()
    );
}
