//! The hot-path read against the designs it could have used, side by side in one process,
//! reported as ratios of the same run: what `Jay::get()` costs next to a `OnceLock`, next to
//! `ArcSwap::load()`, and when two threads read at once.
//!
//! It needs no peer: the struct loads from a local secret. Run it with
//! `cargo bench -p secrets-tests --bench reads` (or `./scripts/bench.sh`, with the others).
//! Under `cargo test` (as CI runs it) each benchmark runs once, as a check that it still works,
//! and no table is printed.
//!
//! Every row reads `db_port` of the same struct through `black_box`, on one thread and on two
//! threads at once (the per-read time of each thread, through one harness for both):
//! 1. `oncelock`: a `static OnceLock<Jay>` (the baseline: a value that never changes);
//! 2. `secrets_get`: `Jay::get().db_port`, this library: a hazard-pointer guard with asymmetric
//!    fences, made and dropped on every read;
//! 3. `arc_swap_load`: `ArcSwap::load()` (arc-swap 1.x: a debt slot per read);
//! 4. `arc_swap_cache`: an `arc_swap::Cache` per thread (a generation check, then the cached
//!    `Arc`);
//! 5. `haphazard`: a `haphazard::AtomicPtr` protected per read with a hazard pointer made once
//!    per thread (`SeqCst` fences on the reader's side too), its protection reset after each
//!    read as dropping a guard does;
//! 6. `thread_generation`: an `Arc` cached in a `thread_local!` with the generation it was taken
//!    at, checked per read against a global generation (reloaded under a mutex only when that
//!    changed), read through a closure on the thread-local borrow;
//! 7. `arc_clone`: `Arc::clone` of a shared `Arc` and a field read (a naive ref-counted
//!    snapshot: one shared counter written twice per read).
//!
//! The table gives each row's median over the `OnceLock`'s and over `ArcSwap::load()`'s at the
//! same number of threads, and its two-thread median over its one-thread median.

use std::cell::RefCell;
use std::hint::black_box;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use arc_swap::ArcSwap;
use criterion::{BenchmarkId, Criterion};
use haphazard::HazardPointer;
use secrets_runtime::{FromSecret, Provider, SecretString, Source, local_secret_var};
use secrets_tests::bench::{Results, on_threads, on_threads_with};
use secrets_tests::human;

/// The config every row reads.
#[derive(Debug, FromSecret)]
#[allow(dead_code)]
// Longer than the run, so that no read finds it due.
#[secret(name = "bench/reads/jay", ttl = "1h")]
struct Jay {
    db_host: String,
    db_port: u16,
    debug: bool,
    api_key: SecretString,
}

const VALUE: &str =
    r#"{"db_host":"db.internal","db_port":5432,"debug":false,"api_key":"bench-key"}"#;

/// The rows: criterion's function name and the table's label.
const ROWS: [(&str, &str); 7] = [
    ("oncelock", "`OnceLock` field read (baseline)"),
    (
        "secrets_get",
        "`Jay::get()`: hazard pointer, asymmetric fences",
    ),
    ("arc_swap_load", "`ArcSwap::load()`"),
    ("arc_swap_cache", "`arc_swap::Cache` per thread"),
    (
        "haphazard",
        "`haphazard`: hazard pointer per thread, `SeqCst` fences",
    ),
    ("thread_generation", "per-thread `Arc` + global generation"),
    ("arc_clone", "`Arc::clone` of a shared `Arc`"),
];

const THREADS: [usize; 2] = [1, 2];

static ONCE: OnceLock<Jay> = OnceLock::new();

fn main() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let provider = Arc::new(
        Provider::builder()
            .source(Source::Local)
            .var(local_secret_var("bench/reads/jay"), VALUE)
            .build(),
    );
    runtime
        .block_on(Jay::load_with(Arc::clone(&provider)))
        .expect("loads from the local secret");
    // The other rows hold values decoded the same way, each its own.
    let fetch = || runtime.block_on(Jay::fetch(&provider)).expect("decodes");
    assert!(ONCE.set(fetch()).is_ok(), "set once");
    let swap = ArcSwap::from_pointee(fetch());
    // Never retired (that takes `unsafe`): the process ends with the benchmark.
    let hazard_ptr = haphazard::AtomicPtr::from(Box::new(fetch()));
    generation::publish(Arc::new(fetch()));
    let shared = Arc::new(fetch());

    let results = Results::from_now(PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("criterion"));
    let mut criterion = Criterion::default()
        .output_directory(results.dir())
        .sample_size(30)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();

    let mut group = criterion.benchmark_group("reads");
    for threads in THREADS {
        let id = |row: &str| BenchmarkId::new(row, format!("{threads}_threads"));
        group.bench_function(id("oncelock"), |b| {
            b.iter_custom(|iters| {
                on_threads(threads, iters, || black_box(&ONCE).get().map(|c| c.db_port))
            });
        });
        group.bench_function(id("secrets_get"), |b| {
            b.iter_custom(|iters| {
                on_threads_with(
                    threads,
                    iters,
                    // The first read on a thread claims its hazard slot.
                    || black_box(Jay::get().db_port),
                    |_| Jay::get().db_port,
                )
            });
        });
        group.bench_function(id("arc_swap_load"), |b| {
            b.iter_custom(|iters| on_threads(threads, iters, || black_box(&swap).load().db_port));
        });
        group.bench_function(id("arc_swap_cache"), |b| {
            b.iter_custom(|iters| {
                on_threads_with(
                    threads,
                    iters,
                    || arc_swap::Cache::new(&swap),
                    |cache| black_box(cache).load().db_port,
                )
            });
        });
        group.bench_function(id("haphazard"), |b| {
            b.iter_custom(|iters| {
                on_threads_with(threads, iters, HazardPointer::new, |hazard| {
                    let port = black_box(&hazard_ptr).safe_load(hazard).map(|c| c.db_port);
                    hazard.reset_protection();
                    port
                })
            });
        });
        group.bench_function(id("thread_generation"), |b| {
            b.iter_custom(|iters| {
                on_threads_with(
                    threads,
                    iters,
                    // The first read on a thread fills its thread-local.
                    || generation::read(|c| black_box(c.db_port)),
                    |_| generation::read(|c| c.db_port),
                )
            });
        });
        group.bench_function(id("arc_clone"), |b| {
            b.iter_custom(|iters| {
                on_threads(threads, iters, || {
                    black_box(Arc::clone(black_box(&shared))).db_port
                })
            });
        });
    }
    group.finish();
    criterion.final_summary();
    print_ratios(&results);
}

/// A per-thread cached `Arc`, checked against a global generation on every read.
mod generation {
    use super::{Arc, AtomicU64, Jay, Mutex, Ordering, PoisonError, RefCell};

    /// Bumped by every [`publish`], after the new value is in [`CURRENT`].
    static GENERATION: AtomicU64 = AtomicU64::new(0);
    static CURRENT: Mutex<Option<Arc<Jay>>> = Mutex::new(None);

    thread_local! {
        /// This thread's copy of the value, and the generation it was taken at.
        static CACHED: RefCell<Option<(u64, Arc<Jay>)>> = const { RefCell::new(None) };
    }

    /// Makes `value` the current one: every thread takes it at its next read.
    pub(super) fn publish(value: Arc<Jay>) {
        *CURRENT.lock().unwrap_or_else(PoisonError::into_inner) = Some(value);
        GENERATION.fetch_add(1, Ordering::Release);
    }

    /// Calls `read` on the current value: this thread's copy if no `publish` came after it,
    /// else a fresh copy taken under the mutex.
    pub(super) fn read<R>(read: impl FnOnce(&Jay) -> R) -> R {
        CACHED.with(|cached| {
            let generation = GENERATION.load(Ordering::Acquire);
            {
                let current = cached.borrow();
                if let Some((taken, value)) = &*current
                    && *taken == generation
                {
                    return read(value);
                }
            }
            reload(cached, generation);
            let current = cached.borrow();
            let (_, value) = current.as_ref().expect("just reloaded");
            read(value)
        })
    }

    #[cold]
    #[inline(never)]
    fn reload(cached: &RefCell<Option<(u64, Arc<Jay>)>>, generation: u64) {
        // Taken at `generation` or later: at worst the next read reloads once more.
        let value = CURRENT
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
            .expect("published before the first read");
        *cached.borrow_mut() = Some((generation, value));
    }
}

/// Prints each row's median and its ratios to the baselines of the same run.
fn print_ratios(results: &Results) {
    let median =
        |row: &str, threads: usize| results.median(&format!("reads/{row}/{threads}_threads"));
    let [Some(once_1), Some(once_2), Some(swap_1), Some(swap_2)] = [
        median("oncelock", 1),
        median("oncelock", 2),
        median("arc_swap_load", 1),
        median("arc_swap_load", 2),
    ] else {
        println!("(test mode, or the baselines were filtered out: no ratio table)");
        return;
    };
    println!(
        "\nReads of one field, per read and per thread (medians; ratios to the baselines at the same number of threads):\n"
    );
    println!(
        "| design | 1 thread | / OnceLock | / ArcSwap::load | 2 threads at once | / OnceLock | / ArcSwap::load | 2 threads / 1 thread |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (row, label) in ROWS {
        let cells = |value: Option<f64>, once: f64, swap: f64| match value {
            Some(v) => format!("{} | {:.2}x | {:.2}x", human(v), v / once, v / swap),
            None => "missing | | ".to_owned(),
        };
        let (one, two) = (median(row, 1), median(row, 2));
        let scaling = match (one, two) {
            (Some(one), Some(two)) => format!("{:.2}x", two / one),
            _ => String::new(),
        };
        println!(
            "| {label} | {} | {} | {scaling} |",
            cells(one, once_1, swap_1),
            cells(two, once_2, swap_2)
        );
    }
    let (Some(get_1), Some(get_2)) = (median("secrets_get", 1), median("secrets_get", 2)) else {
        return;
    };
    let verdict = |ratio: f64, limit: f64| {
        let met = if ratio <= limit { "met" } else { "MISSED" };
        format!("{ratio:.2}x ({met})")
    };
    println!(
        "\nTargets for `Jay::get()`: <= 5x OnceLock: {}; <= ArcSwap::load: {} at 1 thread, {} at 2; \
         2 threads <= 1.5x 1 thread: {}",
        verdict(get_1 / once_1, 5.0),
        verdict(get_1 / swap_1, 1.0),
        verdict(get_2 / swap_2, 1.0),
        verdict(get_2 / get_1, 1.5),
    );
}
