//! A [loom] model check of the cache's hazard-pointer core, `secrets-runtime/src/cache/slot.rs`.
//!
//! The file is compiled into this crate as it is (`#[path]`, serde's precedent), with the cfg
//! `secrets_loom` set by `build.rs` for this crate alone: `slot.rs` then takes its `Mutex` and
//! atomics from `loom::sync`, and both of its barriers are `fence(SeqCst)` (loom cannot model
//! `membarrier(2)`, so the asymmetric light barrier, a compiler fence, is not checked here).
//!
//! Each model runs two or three threads over one leaked `Domain` and `Published<Value>` and
//! lets loom try every interleaving (within a preemption bound for the larger ones). A `Value`
//! holds a `loom::cell::UnsafeCell` that readers read and that its `Drop` overwrites (poisons):
//! loom panics with a causality violation if a read is not ordered before the drop by
//! happens-before (or after the value's construction on the publishing thread), and a read
//! after the drop finds the poison. A `Weak` keeps each value's memory allocated past its drop,
//! so a protocol bug shows as one of those panics, not as a real use after free in the test
//! process. Every model also counts the drops of each value: a replaced value is dropped
//! exactly once (by the end of the model), the current one never.
//!
//! - `read_while_publishing`: a reader reads twice with its `Local` while the main thread
//!   publishes (retire, heavy barrier, scan, release): the protect/scan pair of invariant 4,
//!   and the reuse of a thread's own slot after its guard cleared it.
//! - `guard_held_across_publishes`: a guard held across two publishes stays valid, and
//!   dropping it on the reader thread releases its value with no further publish or
//!   `reclaim()`: the clear-slot/scan pair of invariant 4.
//! - `pooled_reads_while_publishing`: two threads read with `read(None)` (claimed slots) while
//!   the main thread publishes: a claimed slot serves one guard at a time (invariant 2).
//! - `guard_moved_to_another_thread`: the guard of a thread's own slot is dropped on another
//!   thread while the owner reads again with its `Local` and a third thread publishes: the
//!   fast path must not reuse the slot while the moved guard holds it (invariant 2).
//! - `owner_exits_while_moved_guard_drops`: the owner of a slot moves its guard to another
//!   thread and exits (drops its `Local`) while that thread drops the guard and a third reads
//!   twice with claimed slots, holding the first guard across the second read and a publish:
//!   `release` must read `pooled` before it clears the slot, or it gives back a slot that the
//!   exit returned and another guard claimed meanwhile (invariant 2; the old order, checked
//!   by hand against a copy of `slot.rs`, fails here with a read of a dropped value).
//! - `unvalidated_protect_is_caught` (negative control): the first model against a mutant of
//!   `slot.rs` that `build.rs` writes, whose `protect` skips the validation: loom must fail it.
//!
//! Loom's `fence(SeqCst)` is stronger than Rust's (C++20's): it also joins every thread's
//! causality through one global clock (`seq_cst_fence` in loom's `rt/thread.rs`), so two SeqCst
//! fences synchronize in the order loom runs them. A missing release/acquire edge that a
//! fence pair would bridge in that order is only found in the schedules that run the fences in
//! the other order. Loom does not model `membarrier(2)` either: the asymmetric light barrier (a
//! compiler fence) is not checked here, only the `SeqCst` fences used without it.
//!
//! Run it with `cargo test -p secrets-loom` (debug build, about 25 s on two cores).
//! `LOOM_MAX_PREEMPTIONS=n` overrides the models' preemption bounds (bigger is slower and more
//! thorough); `LOOM_LOCATION=1` makes a causality violation name the accesses' lines.
//!
//! [loom]: https://docs.rs/loom

// `slot.rs` is the runtime's module, compiled here as well: its `pub(crate)` API has more than
// the models call (`Guard::leak`, `Published::is_empty`, ...), and none of it is used outside
// the tests.
#[allow(dead_code)]
#[path = "../../../secrets-runtime/src/cache/slot.rs"]
mod slot;

/// The negative control: `slot.rs` with the validation of `protect` removed (see `build.rs`).
// As `slot` above, and the mutation (`if true || now == pointer`) is what clippy flags.
#[cfg(test)]
#[allow(unsafe_code, dead_code, clippy::overly_complex_bool_expr)]
mod unvalidated {
    include!(concat!(env!("OUT_DIR"), "/slot_unvalidated.rs"));
}

#[cfg(test)]
// `Value` shares a `loom::cell::UnsafeCell` between threads (it must be `Sync` to be published)
// and dereferences its raw pointers: loom checks every one of those accesses.
#[allow(unsafe_code)]
mod tests {
    use std::panic::{self, AssertUnwindSafe};
    use std::sync::{Arc, Weak};

    use loom::cell::UnsafeCell;
    use loom::model::Builder;
    use loom::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use loom::thread;

    use crate::slot::{Domain, Local, Published};

    /// What a value's cell holds once it is dropped.
    const POISON: usize = usize::MAX;

    /// A published value: `cell` holds `id` until the value is dropped.
    struct Value {
        id: usize,
        cell: UnsafeCell<usize>,
        drops: &'static AtomicUsize,
    }

    // SAFETY: the cell is written only by `Drop` (with `&mut self`, after the protocol has
    // released the value) and read by `check`; loom panics if a read and that write are not
    // ordered by happens-before, which is what the models check.
    unsafe impl Sync for Value {}

    impl Value {
        /// A new value (created on the calling thread: loom counts the creation as a write of
        /// the cell, so a reader must be ordered after it), and a `Weak` that keeps its memory
        /// allocated after its drop, so that a protocol bug shows as the poison (or a loom
        /// panic) rather than as a real use after free in the test process.
        fn new(id: usize, drops: &'static AtomicUsize) -> (Arc<Self>, Weak<Self>) {
            let value = Arc::new(Self {
                id,
                cell: UnsafeCell::new(id),
                drops,
            });
            let weak = Arc::downgrade(&value);
            (value, weak)
        }

        /// Reads the cell: panics if the value was dropped. Returns its id.
        fn check(&self) -> usize {
            // SAFETY: loom tracks the read; see `impl Sync`.
            let seen = self.cell.with(|cell| unsafe { *cell });
            assert_ne!(seen, POISON, "read value {} after its drop", self.id);
            assert_eq!(seen, self.id, "value {} holds {seen}", self.id);
            self.id
        }
    }

    impl Drop for Value {
        fn drop(&mut self) {
            // SAFETY: loom tracks the write; see `impl Sync`.
            self.cell.with_mut(|cell| unsafe { *cell = POISON });
            self.drops.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// One model iteration's state, leaked: `read` takes `&'static Published`. A few hundred
    /// bytes per iteration (slots are never freed either, by design).
    fn setup<const N: usize>() -> (&'static Published<Value>, &'static [AtomicUsize; N]) {
        let domain: &'static Domain = Box::leak(Box::new(Domain::new()));
        let published = Box::leak(Box::new(Published::new(domain)));
        let drops = Box::leak(Box::new(std::array::from_fn(|_| AtomicUsize::new(0))));
        (published, drops)
    }

    fn drop_counts<const N: usize>(drops: &[AtomicUsize; N]) -> [usize; N] {
        std::array::from_fn(|id| drops[id].load(Ordering::Relaxed))
    }

    /// Loom's default builder (it reads `LOOM_*` from the environment) with a preemption
    /// bound, unless `LOOM_MAX_PREEMPTIONS` sets one. `None` explores every interleaving;
    /// most three-thread models take minutes that way, so they are bounded. Loom's
    /// documentation advises 2 or 3: most bugs need few preemptions (the two models below found
    /// the missing release/acquire edges of slot reuse at bounds 3 and 2), and
    /// every schedule within the bound is explored.
    fn builder(preemptions: Option<usize>) -> Builder {
        let mut builder = Builder::new();
        if builder.preemption_bound.is_none() {
            builder.preemption_bound = preemptions;
        }
        builder
    }

    /// Model 1, over the real `slot.rs` and over the mutant (a macro: the two modules' types
    /// are distinct). A reader thread reads twice with its own `Local` (the second read reuses
    /// the slot the first cleared) while the main thread publishes a value built on its own
    /// thread, which retires the first and reclaims.
    macro_rules! read_while_publishing {
        ($slot:ident, $preemptions:expr) => {
            builder($preemptions).check(|| {
                use crate::$slot::{Domain, Local, Published};

                let domain: &'static Domain = Box::leak(Box::new(Domain::new()));
                let published: &'static Published<Value> =
                    Box::leak(Box::new(Published::new(domain)));
                let drops: &'static [AtomicUsize; 2] =
                    Box::leak(Box::new([AtomicUsize::new(0), AtomicUsize::new(0)]));
                let (first, first_weak) = Value::new(0, &drops[0]);
                published.publish(first);

                let reader = thread::spawn(move || {
                    let local = Local::new();
                    let mut last = 0;
                    for _ in 0..2 {
                        let guard = published.read(Some(&local)).expect("published");
                        let id = guard.check();
                        // Read-read coherence of `current`: never an older value.
                        assert!(id >= last, "read value {id} after value {last}");
                        last = id;
                    }
                });

                let (second, second_weak) = Value::new(1, &drops[1]);
                published.publish(second);
                reader.join().unwrap();

                published.reclaim();
                assert_eq!(drop_counts(drops), [1, 0], "drops of each value");
                assert_eq!(published.retained(), 0);
                assert!(!published.is_empty());
                drop((first_weak, second_weak));
            })
        };
    }

    #[test]
    fn read_while_publishing() {
        // Two threads: exhaustive (under a second).
        read_while_publishing!(slot, None);
    }

    /// Model 2. The reader holds its guard while the main thread publishes twice (loom runs
    /// both publishes between the two checks, among every other interleaving).
    #[test]
    fn guard_held_across_publishes() {
        // Exhaustive takes ~13 s; a bound of 4 under one.
        builder(Some(4)).check(|| {
            let (published, drops) = setup::<3>();
            let done: &'static AtomicBool = Box::leak(Box::new(AtomicBool::new(false)));
            let (first, first_weak) = Value::new(0, &drops[0]);
            published.publish(first);

            let reader = thread::spawn(move || {
                let local = Local::new();
                let guard = published.read(Some(&local)).expect("published");
                let id = guard.check();
                thread::yield_now();
                // Still valid, replaced or not.
                assert_eq!(guard.check(), id);
                drop(guard);
                if id < 2 && done.load(Ordering::Acquire) {
                    // Both publishes are over and the value replaced, so the guard was the last
                    // thing holding it, and dropping it (here, on the reader thread) released
                    // it.
                    assert_eq!(
                        drops[id].load(Ordering::Relaxed),
                        1,
                        "value {id} not released"
                    );
                }
                id
            });

            let (second, second_weak) = Value::new(1, &drops[1]);
            published.publish(second);
            let (third, third_weak) = Value::new(2, &drops[2]);
            published.publish(third);
            done.store(true, Ordering::Release);
            let held = reader.join().unwrap();

            // No further publish or `reclaim()`: whichever of the guard's drop and the last
            // scan came second released the guard's value.
            if held < 2 {
                assert_eq!(
                    drops[held].load(Ordering::Relaxed),
                    1,
                    "value {held} not released"
                );
                assert_eq!(published.retained(), 0);
            } else {
                // Not asserted: the reader's `protect` may have stored v0, then v1 in its slot
                // (validation failed, retry) while a scan checked the retired values one by one
                // and kept both. No guard of them is ever dropped, so they wait for the next
                // publish or `reclaim()` (below): memory kept longer, nothing freed early.
            }
            published.reclaim();
            assert_eq!(published.retained(), 0);
            assert_eq!(drop_counts(drops), [1, 1, 0], "drops of each value");
            drop((first_weak, second_weak, third_weak));
        });
    }

    /// Model 3. Two threads read with claimed slots while the main thread publishes; a slot
    /// one of them releases may be claimed by the other at once.
    #[test]
    fn pooled_reads_while_publishing() {
        // ~6 s (bound 4: minutes).
        builder(Some(3)).check(|| {
            let (published, drops) = setup::<2>();
            let (first, first_weak) = Value::new(0, &drops[0]);
            published.publish(first);

            let readers: Vec<_> = (0..2)
                .map(|_| {
                    thread::spawn(move || {
                        // No `Local`: a slot claimed from the domain, released with the guard.
                        let guard = published.read(None).expect("published");
                        guard.check();
                        thread::yield_now();
                        guard.check();
                    })
                })
                .collect();

            let (second, second_weak) = Value::new(1, &drops[1]);
            published.publish(second);
            for reader in readers {
                reader.join().unwrap();
            }

            published.reclaim();
            assert_eq!(
                published.retained(),
                0,
                "a released slot still protects a value"
            );
            assert_eq!(drop_counts(drops), [1, 0], "drops of each value");
            // The released slots serve again.
            assert_eq!(published.read(None).expect("published").check(), 1);
            drop((first_weak, second_weak));
        });
    }

    /// Model 4. The main thread's guard moves to `holder`; the main thread reads again with
    /// its `Local` while `holder` may still hold the slot and `writer` publishes.
    #[test]
    fn guard_moved_to_another_thread() {
        // ~3 s (bound 4: ~13 s).
        builder(Some(3)).check(|| {
            let (published, drops) = setup::<2>();
            let (first, first_weak) = Value::new(0, &drops[0]);
            published.publish(first);

            let local = Local::new();
            let moved = published.read(Some(&local)).expect("published");
            // The guard of the main thread's own slot goes to another thread, which drops it.
            let holder = thread::spawn(move || {
                moved.check();
                thread::yield_now();
                moved.check();
            });
            let writer = thread::spawn(move || {
                let (second, second_weak) = Value::new(1, &drops[1]);
                published.publish(second);
                second_weak
            });

            // The owner reads again: its slot is busy until `holder` drops the guard, and must
            // not be reused before.
            let again = published.read(Some(&local)).expect("published");
            again.check();
            holder.join().unwrap();
            let second_weak = writer.join().unwrap();
            again.check();
            drop(again);
            drop(local);

            published.reclaim();
            assert_eq!(published.retained(), 0);
            assert_eq!(drop_counts(drops), [1, 0], "drops of each value");
            drop((first_weak, second_weak));
        });
    }

    /// Model 5. The main thread (the slot's owner) moves its guard to `holder` and then drops
    /// its `Local`, as its thread-local's destructor does when the thread exits, while `holder`
    /// drops the guard and `pooled` reads twice with claimed slots (`read(None)`), holding the
    /// first guard across the second read and across a publish of its own.
    ///
    /// The interleaving it is for (the use after free of `release` reading `pooled` after its
    /// `Release` store of null): `holder` clears the slot; the owner sees it clear and gives it
    /// back (`owned = false`); `pooled` claims it for `outer` (`pooled = true`); `holder` then
    /// reads `pooled == true` and gives the slot back again, under `outer`; `inner` claims it
    /// too and clears it when dropped; the publish's scan then finds no slot holding `outer`'s
    /// value and drops it, and `outer.check()` reads the poison. `pooled` publishes itself so
    /// that the end of that sequence needs no preemption.
    #[test]
    fn owner_exits_while_moved_guard_drops() {
        // Exhaustive: under a second (about 1 s on two loaded cores), faster than bounds 5 to 7
        // (1.6 to 4 s: loom adds conservative backtracking points under a bound). The old order
        // of `release` fails at bound 3 and not below: the sequence above preempts the main
        // thread (for `holder`), `holder` between its null store and its `pooled` load (for the
        // owner's exit), and `pooled` while `outer` is held (for `holder`'s late load).
        builder(None).check(|| {
            let (published, drops) = setup::<2>();
            let (first, first_weak) = Value::new(0, &drops[0]);
            published.publish(first);

            let local = Local::new();
            let moved = published.read(Some(&local)).expect("published");
            let holder = thread::spawn(move || {
                moved.check();
                drop(moved);
            });
            let pooled = thread::spawn(move || {
                let outer = published.read(None).expect("published");
                outer.check();
                // A second claim while `outer` holds its slot: it must get another one.
                let inner = published.read(None).expect("published");
                inner.check();
                drop(inner);
                let (second, second_weak) = Value::new(1, &drops[1]);
                published.publish(second);
                // Retired, but still protected by `outer`'s slot.
                outer.check();
                drop(outer);
                second_weak
            });

            // The owner thread exits: its slot goes back to the domain if no guard holds it.
            drop(local);
            holder.join().unwrap();
            let second_weak = pooled.join().unwrap();

            published.reclaim();
            assert_eq!(
                published.retained(),
                0,
                "a released slot still protects a value"
            );
            assert_eq!(drop_counts(drops), [1, 0], "drops of each value");
            drop((first_weak, second_weak));
        });
    }

    /// The negative control: model 1 fails against a `protect` that does not validate.
    #[test]
    fn unvalidated_protect_is_caught() {
        // Loom's own report of the failure goes to the test's captured output.
        let failure = panic::catch_unwind(AssertUnwindSafe(|| {
            read_while_publishing!(unvalidated, None);
        }));

        let payload = failure.expect_err("loom accepted a protect without validation");
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or_default();
        assert!(
            message.contains("after its drop") || message.contains("Causality violation"),
            "the model failed for another reason: {message}",
        );
    }
}
