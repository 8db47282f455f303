//! What the criterion benches (`tests/benches/*.rs`) share: one harness that times reads on one
//! thread and on several at once, and the medians criterion wrote in this run, for ratio
//! tables printed at the end of a run.

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::sync::Barrier;
use std::time::{Duration, Instant, SystemTime};

/// Runs `read` `iters` times on each of `threads` threads at once; the slowest thread's time.
///
/// Through `iter_custom`, criterion divides it by `iters`: the per-read time of each thread,
/// through the same harness for one thread and for several, so that the two compare like with
/// like.
pub fn on_threads<R>(threads: usize, iters: u64, read: impl Fn() -> R + Sync) -> Duration {
    on_threads_with(threads, iters, || (), |_| read())
}

/// Like [`on_threads`], with a state per thread: `setup` makes it on each thread before the
/// clock starts (a per-thread handle, a warm-up read that fills a thread-local), `read` gets
/// it on every read, and it is dropped after the clock stops.
pub fn on_threads_with<S, R>(
    threads: usize,
    iters: u64,
    setup: impl Fn() -> S + Sync,
    read: impl Fn(&mut S) -> R + Sync,
) -> Duration {
    let barrier = Barrier::new(threads);
    std::thread::scope(|scope| {
        let threads: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut state = setup();
                    barrier.wait();
                    let started = Instant::now();
                    for _ in 0..iters {
                        black_box(read(&mut state));
                    }
                    let elapsed = started.elapsed();
                    drop(state);
                    elapsed
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().expect("reader"))
            .max()
            .unwrap_or_default()
    })
}

/// The results criterion writes under its output directory during this run of a bench.
pub struct Results {
    dir: PathBuf,
    since: SystemTime,
}

impl Results {
    /// The results written under `dir` (criterion's `output_directory`) from now on. Older ones,
    /// from an earlier run (this one may be `cargo test`, which measures nothing) or from rows
    /// that a filter left out of this run, do not count.
    #[must_use]
    pub fn from_now(dir: impl Into<PathBuf>) -> Self {
        // File times come from a coarse clock, a few milliseconds behind this one; criterion
        // writes its first estimate a warm-up and a measurement after this.
        let since = SystemTime::now() - Duration::from_millis(100);
        Self {
            dir: dir.into(),
            since,
        }
    }

    /// Criterion's output directory, for `Criterion::output_directory`.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The median of benchmark `id` (`group/function/parameter`) in nanoseconds per
    /// iteration, if this run measured it.
    #[must_use]
    pub fn median(&self, id: &str) -> Option<f64> {
        let path = self.dir.join(id).join("new/estimates.json");
        let written = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
        if written < self.since {
            return None;
        }
        let text = std::fs::read_to_string(path).ok()?;
        let json: serde_json::Value = serde_json::from_str(&text).ok()?;
        json["median"]["point_estimate"].as_f64()
    }
}
