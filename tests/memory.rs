//! Allocation and memory: the hot-path read allocates nothing, and 10,000 refreshes of an
//! unchanged secret leave memory flat. A counting global allocator measures both, so this
//! binary holds a single test (parallel tests would share the counters).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::Arc;
use std::sync::atomic::{AtomicIsize, AtomicUsize, Ordering};

use secrets_runtime::{FromSecret, Provider, Source};

/// Counts allocations and live bytes.
struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);
static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

#[allow(unsafe_code)]
// SAFETY: every call is forwarded unchanged to the system allocator; the counters are atomics.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        LIVE_BYTES.fetch_add(layout.size().cast_signed(), Ordering::Relaxed);
        // SAFETY: the caller's contract for `alloc` is passed on as is.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size().cast_signed(), Ordering::Relaxed);
        // SAFETY: the caller's contract for `dealloc` is passed on as is.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        LIVE_BYTES.fetch_add(
            new_size.cast_signed() - layout.size().cast_signed(),
            Ordering::Relaxed,
        );
        // SAFETY: the caller's contract for `realloc` is passed on as is.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[derive(Debug, FromSecret)]
#[secret(name = "memory", refresh_window = "0s")]
struct Config {
    host: String,
    port: u16,
    tags: Vec<String>,
}

#[test]
fn reads_allocate_nothing_and_refreshes_leave_memory_flat() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let provider = Arc::new(
        Provider::builder()
            .source(Source::Local)
            .var(
                "SECRETS_LOCAL_MEMORY",
                r#"{"host":"db","port":5432,"tags":"a,b,c"}"#,
            )
            .build(),
    );
    runtime
        .block_on(Config::load_with(provider))
        .expect("loads");

    // The hot path: not one allocation in 100,000 reads.
    let _ = Config::get();
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    let mut total = 0usize;
    for _ in 0..100_000 {
        let config = Config::get();
        total += config.host.len() + usize::from(config.port) + config.tags.len();
    }
    let allocations = ALLOCATIONS.load(Ordering::Relaxed) - before;
    assert_eq!(total, 100_000 * (2 + 5432 + 3));
    assert_eq!(allocations, 0, "get() allocated");

    // 10,000 refreshes of the same secret: live memory does not grow.
    let refresh = |times: usize| {
        runtime.block_on(async {
            for _ in 0..times {
                Config::refresh_now().await.expect("refresh");
            }
        });
    };
    refresh(100);
    let live_before = LIVE_BYTES.load(Ordering::Relaxed);
    refresh(10_000);
    let growth = LIVE_BYTES.load(Ordering::Relaxed) - live_before;
    assert!(
        growth.abs() < 16 * 1024,
        "live memory changed by {growth} bytes over 10,000 refreshes"
    );
    let stats = Config::stats();
    assert_eq!((stats.forced_refreshes, stats.versions), (10_100, 1));
}
