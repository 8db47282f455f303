//! Allocation and memory: the hot-path read allocates nothing, and 10,000 refreshes leave memory
//! flat: of an unchanged secret, of a secret rotated to a new 10 KB value each time, and of
//! identical bytes under a new version id each time (each rotation replaces the value; the
//! replaced one is freed once no reader holds it).
//!
//! A counting global allocator counts per thread, and each test runs everything on its own
//! thread (a current-thread runtime serving the extension stand-in too), so other threads (test
//! threads, tokio's blocking pool) cannot move the counts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::Arc;

use secrets_runtime::{ExposeSecret, FromSecret, Provider, SecretString, Source};
use secrets_tests::{extension_provider, rotating_extension};

/// Counts allocations and live bytes of the current thread.
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
    static LIVE_BYTES: Cell<isize> = const { Cell::new(0) };
}

fn count(allocations: usize, bytes: isize) {
    // `try_with`: a thread may allocate while its thread-locals are being torn down.
    let _ = ALLOCATIONS.try_with(|count| count.set(count.get() + allocations));
    let _ = LIVE_BYTES.try_with(|live| live.set(live.get() + bytes));
}

#[allow(unsafe_code)]
// SAFETY: every call is forwarded unchanged to the system allocator; the counters are
// const-initialised thread-locals without destructors, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count(1, layout.size().cast_signed());
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        count(0, -layout.size().cast_signed());
        // SAFETY: the caller's contract for `dealloc` is passed on as is.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count(1, new_size.cast_signed() - layout.size().cast_signed());
        // SAFETY: the caller's contract for `realloc` is passed on as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

fn live_bytes() -> isize {
    LIVE_BYTES.with(Cell::get)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A 10 KB secret string with a serial number.
fn ten_kb(serial: u64) -> String {
    format!(
        r#"{{"serial":{serial},"blob":"{}"}}"#,
        "x".repeat(10 * 1024)
    )
}

#[test]
fn reads_allocate_nothing() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "memory")]
    struct Config {
        host: String,
        port: u16,
        tags: Vec<String>,
    }
    let runtime = runtime();
    let provider = Provider::builder()
        .source(Source::Local)
        .var(
            "SECRETS_LOCAL_MEMORY",
            r#"{"host":"db","port":5432,"tags":"a,b,c"}"#,
        )
        .build();
    runtime
        .block_on(Config::load_with(Arc::new(provider)))
        .expect("loads");

    // The first read on a thread claims its hazard slot; after that, not one allocation in
    // 100,000 reads.
    let _ = Config::get();
    let before = allocations();
    let mut total = 0usize;
    for _ in 0..100_000 {
        let config = Config::get();
        total += config.host.len() + usize::from(config.port) + config.tags.len();
    }
    let allocated = allocations() - before;
    assert_eq!(total, 100_000 * (2 + 5432 + 3));
    assert_eq!(allocated, 0, "get() allocated");
}

/// Refreshes `T` 10,000 times after 100 to warm up, and returns the growth of this thread's
/// live heap.
fn growth_over_refreshes<T: FromSecret>(runtime: &tokio::runtime::Runtime) -> isize {
    let refresh = |times: usize| {
        runtime.block_on(async {
            for _ in 0..times {
                T::refresh_now().await.expect("refresh");
            }
        });
    };
    refresh(100);
    let before = live_bytes();
    refresh(10_000);
    live_bytes() - before
}

#[test]
fn ten_thousand_refreshes_of_an_unchanged_secret_leave_memory_flat() {
    #[derive(FromSecret)]
    #[secret(name = "rotating", refresh_window = "0s")]
    struct Unchanged {
        serial: u64,
        blob: SecretString,
    }
    let runtime = runtime();
    let port = runtime.block_on(rotating_extension(|_| ("v0".into(), ten_kb(0))));
    runtime
        .block_on(Unchanged::load_with(extension_provider(port)))
        .expect("loads");
    let growth = growth_over_refreshes::<Unchanged>(&runtime);
    assert!(
        growth.abs() < 16 * 1024,
        "live memory changed by {growth} bytes over 10,000 refreshes"
    );
    let stats = Unchanged::stats();
    assert_eq!(
        (stats.forced_refreshes, stats.versions, stats.retained),
        (10_100, 1, 0),
        "decoded once, nothing retained"
    );
    let current = Unchanged::get();
    assert_eq!(
        (current.serial, current.blob.expose_secret().len()),
        (0, 10 * 1024)
    );
}

#[test]
fn ten_thousand_rotations_to_new_10_kb_values_leave_memory_flat() {
    #[derive(FromSecret)]
    #[secret(name = "rotating", refresh_window = "0s")]
    struct Rotating {
        serial: u64,
        blob: SecretString,
    }
    let runtime = runtime();
    let port = runtime.block_on(rotating_extension(|n| (format!("v{n}"), ten_kb(n))));
    runtime
        .block_on(Rotating::load_with(extension_provider(port)))
        .expect("loads");
    let growth = growth_over_refreshes::<Rotating>(&runtime);
    assert!(
        growth < 64 * 1024,
        "live memory grew by {growth} bytes over 10,000 rotations of a 10 KB value"
    );
    let stats = Rotating::stats();
    assert_eq!((stats.versions, stats.retained), (10_101, 0));
    let current = Rotating::get();
    assert_eq!(current.serial, 10_100, "the last rotation is current");
    assert_eq!(current.blob.expose_secret().len(), 10 * 1024);
}

#[test]
fn ten_thousand_new_version_ids_of_identical_bytes_leave_memory_flat() {
    #[derive(FromSecret)]
    #[secret(name = "rotating", refresh_window = "0s")]
    struct Reput {
        serial: u64,
        blob: SecretString,
    }
    let runtime = runtime();
    let port = runtime.block_on(rotating_extension(|n| (format!("v{n}"), ten_kb(0))));
    runtime
        .block_on(Reput::load_with(extension_provider(port)))
        .expect("loads");
    let growth = growth_over_refreshes::<Reput>(&runtime);
    assert!(
        growth < 64 * 1024,
        "live memory grew by {growth} bytes over 10,000 re-puts of the same bytes"
    );
    let stats = Reput::stats();
    assert_eq!((stats.versions, stats.retained), (10_101, 0));
    let current = Reput::get();
    assert_eq!(
        (current.serial, current.blob.expose_secret().len()),
        (0, 10 * 1024)
    );
}
