//! The per-struct cache behind `load()`, `get()` and `refresh_now()`.
//!
//! - [`slot`]: the crate's only `unsafe` code: the current value, published to readers without
//!   locks, and each replaced value reclaimed after its last reader;
//! - [`snapshot`]: what readers hold;
//! - [`timer`]: the expiry timer;
//! - [`load`]: where values come from (the [`Provider`], or a fake in the unit tests);
//! - this file: the state machine (single-flight fetches, expiry, backoff, staleness).
//!
//! # Reads
//! `get()` of a fresh value writes the value's address into the reading thread's hazard slot,
//! reads it back from the cache, and loads one flag: no read-modify-write, no lock, no
//! allocation, no I/O, no clock. The flag says the TTL has passed; the expiry timer sets it.
//!
//! # What is kept
//! The current value, and each value it replaced until the last reader of that value lets go:
//! then it is dropped (its `SecretString`s zeroized, its `with` objects dropped). A refresh
//! that finds the same secret (same version and bytes) keeps the current value instead of
//! decoding it again.
//!
//! # Fetches
//! Fetches are single-flight: every caller that needs a fetch while one is running awaits that
//! same fetch, so N concurrent cold starts make one request, and all of them get its error if
//! it fails. A fetch runs in its own task: it completes even if every caller gives up on it,
//! and a panic in it becomes an error. Nothing is poisoned: the next call starts a new fetch.
//!
//! # Expiry, failures, staleness
//! After each successful fetch a timer task on the current tokio runtime sleeps until the
//! value expires (the TTL minus 0 to 10 % jitter), then marks it due and starts one background
//! refresh. `load()` checks the clock itself. A failed fetch is followed by a backoff (1 s
//! doubling, at most the TTL and 5 min, 30 s before the first value; each wait shortened by up
//! to half at random so that a fleet does not retry in step), during which `load()` does not
//! fetch: it serves the last good value, or returns the last error if there is none. Past
//! `max_stale` after expiry, `load()` returns the error instead; `get()` still returns the last
//! value and [`Snapshot::is_stale`] says so. All times are tokio's, so a paused test clock
//! drives them.

pub(crate) mod load;
pub(crate) mod slot;
mod snapshot;
mod timer;

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Shared};
use tokio::time::Instant;

pub use snapshot::{Snapshot, Stats};

use self::load::Load;
use self::slot::{Domain, Guard, Local, Published};
use self::timer::Timer;
use crate::SourceKind;
use crate::{Error, FromSecret, Provider, jitter};

/// The first wait after a failed fetch; it doubles with each failure in a row.
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// The longest wait between failed refreshes of a loaded value.
const MAX_RETRY: Duration = Duration::from_secs(300);
/// The longest wait between failed loads while there is no value: a process without its config
/// recovers soon after the secret does.
const MAX_COLD_RETRY: Duration = Duration::from_secs(30);

/// The hazard slots of every cache.
static DOMAIN: Domain = Domain::new();

thread_local! {
    /// This thread's own hazard slot.
    static LOCAL: Local = const { Local::new() };
}

/// The instant that `Cache::expires_at` counts nanoseconds from.
static EPOCH: LazyLock<std::time::Instant> = LazyLock::new(std::time::Instant::now);

/// A running fetch, as its callers await it: `None` if its task was dropped unfinished (its
/// runtime shut down).
type SharedFetch = Shared<BoxFuture<'static, Option<Result<(), Error>>>>;

/// One decoded value, with what the snapshot API reports about it.
pub(crate) struct Entry<T> {
    pub(crate) value: T,
    pub(crate) via: SourceKind,
    pub(crate) version_id: Option<String>,
    /// The fingerprint of what it was decoded from, to recognise an unchanged secret.
    fingerprint: u64,
}

/// The cache of one derived struct. Generated code declares it as a `static`; users reach it
/// through the [`FromSecret`] methods.
#[doc(hidden)]
pub struct Cache<T: Send + Sync + 'static> {
    /// The current value: what readers see.
    current: Published<Entry<T>>,
    /// The TTL has passed: set by the expiry timer (or `load`), cleared by a good fetch.
    due: AtomicBool,
    /// When the current value expires, in nanoseconds after [`EPOCH`]: `load()` reads it.
    expires_at: AtomicU64,
    /// A background refresh is running: `get()` of a due value starts no other.
    refresh_spawned: AtomicBool,
    /// Everything the cold path decides on, under one lock.
    state: Mutex<State<T>>,
    counters: Counters,
}

/// The cold path's state: fetches, failures, backoff, forced refreshes, the timer.
struct State<T: 'static> {
    /// Where values come from: set by `load_with`, else the global provider. Fixed once a
    /// fetch through it succeeded (`fixed`).
    loader: Option<Arc<dyn Load<T>>>,
    fixed: bool,
    in_flight: Option<InFlight<T>>,
    fetch_numbers: u64,
    /// When the last successful fetch started.
    fetched_at: Option<Instant>,
    /// The wait after a failure.
    backoff: Option<Backoff>,
    failures_in_a_row: u32,
    /// The number of the newest fetch that stored its result: an older one that ends later
    /// (it was given up on, see `Cache::join`) does not overwrite it.
    stored: Option<u64>,
    /// The newest fetch that a caller gave up on: its failure is not recorded either.
    given_up: Option<u64>,
    /// When the last forced fetch ended, and how: what a forced refresh within the struct's
    /// `refresh_window` after it gets.
    forced: Option<(Instant, Result<(), Error>)>,
    timer: Timer,
}

/// The wait that failures call for: no fetch (but a forced one) before `until`.
struct Backoff {
    /// When the wait ends.
    until: Instant,
    /// The failure that started the wait: what callers get meanwhile.
    error: Error,
}

impl<T> State<T> {
    /// The failure that calls for waiting before the next (unforced) fetch, if any.
    fn backing_off(&self, now: Instant) -> Option<&Error> {
        self.backoff
            .as_ref()
            .filter(|backoff| now < backoff.until)
            .map(|backoff| &backoff.error)
    }
}

/// The running fetch, numbered so that its task clears the slot only if it still holds it.
struct InFlight<T: 'static> {
    number: u64,
    /// Whether it bypasses the source's cache (`refreshNow`): a forced refresh does not settle
    /// for a fetch that does not.
    forced: bool,
    /// Where it reads from (`None`: the global provider could not be made).
    loader: Option<Arc<dyn Load<T>>>,
    fetch: SharedFetch,
}

/// What a caller of `refresh` does next.
enum Step<T: 'static> {
    Done(Result<(), Error>),
    /// The value is fresh but its timer is gone (its runtime shut down): start timer
    /// generation `.1` for expiry `.0`.
    Rearm(Instant, u64),
    /// Await fetch `.1`, which takes at most `.2`.
    Join(SharedFetch, u64, Duration),
    WaitThenRetry(SharedFetch, u64, Duration),
    Start {
        fetch: SharedFetch,
        number: u64,
        loader: Result<Arc<dyn Load<T>>, Error>,
        sender: tokio::sync::oneshot::Sender<Result<(), Error>>,
    },
}

/// What [`Stats`] counts.
struct Counters {
    loads: AtomicU64,
    refreshes: AtomicU64,
    forced: AtomicU64,
    hits: AtomicU64,
    failures: AtomicU64,
    versions: AtomicU64,
}

impl<T: Send + Sync + 'static> Cache<T> {
    /// An empty cache, for a `static`.
    #[must_use]
    #[allow(clippy::new_without_default)] // only generated code makes one, for a `static`
    pub const fn new() -> Self {
        Self {
            current: Published::new(&DOMAIN),
            due: AtomicBool::new(false),
            expires_at: AtomicU64::new(0),
            refresh_spawned: AtomicBool::new(false),
            state: Mutex::new(State {
                loader: None,
                fixed: false,
                in_flight: None,
                fetch_numbers: 0,
                fetched_at: None,
                backoff: None,
                failures_in_a_row: 0,
                stored: None,
                given_up: None,
                forced: None,
                timer: Timer::new(),
            }),
            counters: Counters {
                loads: AtomicU64::new(0),
                refreshes: AtomicU64::new(0),
                forced: AtomicU64::new(0),
                hits: AtomicU64::new(0),
                failures: AtomicU64::new(0),
                versions: AtomicU64::new(0),
            },
        }
    }

    /// The current value, protected for as long as the guard lives.
    #[inline(always)]
    fn read(&'static self) -> Option<Guard<Entry<T>>> {
        LOCAL
            .try_with(|local| self.current.read(Some(local)))
            .unwrap_or_else(|_| self.current.read(None))
    }

    pub(crate) fn expires_at(&self) -> Instant {
        let nanos = Duration::from_nanos(self.expires_at.load(Ordering::Relaxed));
        Instant::from_std(*EPOCH + nanos)
    }

    /// When the last successful fetch started.
    pub(crate) fn fetched_at(&self) -> Option<Instant> {
        self.with_state(|state| state.fetched_at)
    }

    fn with_state<R>(&self, f: impl FnOnce(&mut State<T>) -> R) -> R {
        f(&mut lock(&self.state))
    }
}

impl<T: FromSecret> Cache<T> {
    /// The current value; if it is due, starts one background refresh.
    #[inline(always)]
    pub(crate) fn try_get(&'static self) -> Option<Snapshot<T>> {
        let guard = self.read()?;
        if self.due.load(Ordering::Relaxed) {
            self.on_due();
        }
        Some(Snapshot::new(self, guard))
    }

    #[cold]
    #[inline(never)]
    fn on_due(&'static self) {
        if !self.refresh_spawned.load(Ordering::Relaxed) {
            self.spawn_refresh();
        }
    }

    /// The current value if fresh; otherwise the result of a (shared) fetch. When a refresh
    /// fails and a value is cached, the cached value is returned, until it is `max_stale`
    /// past its expiry.
    pub(crate) async fn load(
        &'static self,
        loader: Option<Arc<dyn Load<T>>>,
    ) -> Result<Snapshot<T>, Error> {
        self.set_loader(loader.as_ref())?;
        let now = Instant::now();
        if let Some(guard) = self.read() {
            if now < self.expires_at() {
                self.counters.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(Snapshot::new(self, guard.counted()));
            }
            self.due.store(true, Ordering::Relaxed);
            if let Some(served) = self.while_backing_off(guard, now) {
                return served;
            }
        }
        let refreshed = self.refresh(Refresh::IfDue, loader.as_ref()).await;
        // A caller whose provider lost the race to another one's first load gets no value of
        // the other's.
        self.check_loader(loader.as_ref())?;
        match refreshed {
            Ok(()) => self.current_snapshot(),
            Err(err) => match self.read() {
                // The last good value, while it may still be served.
                Some(guard) if !self.too_stale(Instant::now()) => {
                    Ok(Snapshot::new(self, guard.counted()))
                }
                _ => Err(err),
            },
        }
    }

    /// Uses `loader` for this and every later fetch. Until a value is loaded, a different
    /// loader replaces the old one and ends the backoff of its failures (a fixed configuration
    /// is tried at once); after that, a different one is an error.
    fn set_loader(&self, loader: Option<&Arc<dyn Load<T>>>) -> Result<(), Error> {
        let Some(loader) = loader else {
            return Ok(());
        };
        self.with_state(|state| {
            if state
                .loader
                .as_ref()
                .is_some_and(|old| same_loader(old, loader))
            {
                return Ok(());
            }
            if state.fixed {
                return Err(another_provider::<T>());
            }
            state.backoff = None;
            state.failures_in_a_row = 0;
            state.loader = Some(Arc::clone(loader));
            Ok(())
        })
    }

    /// After a fetch: an error if the value came through another loader than `loader`.
    fn check_loader(&self, loader: Option<&Arc<dyn Load<T>>>) -> Result<(), Error> {
        let Some(loader) = loader else {
            return Ok(());
        };
        self.with_state(|state| match &state.loader {
            Some(used) if state.fixed && !same_loader(used, loader) => Err(another_provider::<T>()),
            _ => Ok(()),
        })
    }

    /// The current value after a successful fetch.
    fn current_snapshot(&'static self) -> Result<Snapshot<T>, Error> {
        self.read()
            .map(|guard| Snapshot::new(self, guard.counted()))
            .ok_or_else(|| {
                aborted::<T>(
                    "the value its fetch brought was dropped, as callers had given up on that \
                     fetch",
                )
            })
    }

    /// While failures call for waiting, no fetch: the expired value `guard` while it may still
    /// be served, else the failure that started the wait. `None` if no wait is on.
    fn while_backing_off(
        &'static self,
        guard: Guard<Entry<T>>,
        now: Instant,
    ) -> Option<Result<Snapshot<T>, Error>> {
        let too_stale = self.too_stale(now);
        self.with_state(|state| {
            let failure = state.backing_off(now)?;
            // Cloned only when returned: serving the value allocates nothing.
            Some(too_stale.then(|| failure.clone()))
        })
        .map(|failure| match failure {
            Some(failure) => Err(failure),
            None => Ok(Snapshot::new(self, guard.counted())),
        })
    }

    /// Whether the current value is past `max_stale` after its expiry at `now`: `load()` no
    /// longer serves it.
    fn too_stale(&self, now: Instant) -> bool {
        now > self.expires_at() + T::SPEC.max_stale
    }

    /// Fetches now, sharing a running fetch, and returns the new value. A forced refresh right
    /// after a completed fetch (within the struct's `refresh_window`) returns that fetch's value.
    pub(crate) async fn refresh_now(
        &'static self,
        loader: Option<Arc<dyn Load<T>>>,
    ) -> Result<Snapshot<T>, Error> {
        self.set_loader(loader.as_ref())?;
        let refreshed = self.refresh(Refresh::Forced, loader.as_ref()).await;
        self.check_loader(loader.as_ref())?;
        refreshed?;
        self.current_snapshot()
    }

    /// What this cache has done so far.
    pub(crate) fn stats(&'static self) -> Stats {
        let guard = self.read();
        let c = &self.counters;
        Stats {
            loads: c.loads.load(Ordering::Relaxed),
            refreshes: c.refreshes.load(Ordering::Relaxed),
            forced_refreshes: c.forced.load(Ordering::Relaxed),
            hits: c.hits.load(Ordering::Relaxed),
            failures: c.failures.load(Ordering::Relaxed),
            versions: c.versions.load(Ordering::Relaxed),
            retained: self.current.retained(),
            age: guard.as_ref().and(self.fetched_at()).map(|at| at.elapsed()),
            source: guard.as_ref().map(|entry| entry.via),
            expired: guard.is_some() && Instant::now() >= self.expires_at(),
        }
    }

    /// Starts one refresh on the current tokio runtime, unless one is already running. The
    /// task first waits out the backoff of a failed refresh, so a due value is never
    /// refetched in a tight loop. Without a runtime nothing happens, and the next
    /// `load().await` refreshes.
    fn spawn_refresh(&'static self) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self.refresh_spawned.swap(true, Ordering::AcqRel) {
            return;
        }
        // Built outside the task, so that it resets the flag even if the task is dropped
        // before it first runs (its runtime shuts down), is cancelled, or panics.
        let reset = ResetOnDrop(&self.refresh_spawned);
        runtime.spawn(async move {
            let _reset = reset;
            if let Some(at) = self.with_state(|state| state.backoff.as_ref().map(|b| b.until)) {
                tokio::time::sleep_until(at).await;
            }
            // Errors are logged by the fetch; the last good value keeps serving.
            let _ = self.refresh(Refresh::IfDue, None).await;
        });
    }

    /// Timer `generation` fired, or its runtime dropped it: if it is still the live timer, the
    /// value is due and one refresh starts.
    fn on_timer(&'static self, generation: u64) {
        if self.with_state(|state| state.timer.is_live(generation)) {
            self.due.store(true, Ordering::Relaxed);
            self.spawn_refresh();
        }
    }

    /// Joins the running fetch, or starts one unless `mode` says it is not needed.
    /// `loader` is the caller's (`load_with`): it does not join a fetch through another one.
    async fn refresh(
        &'static self,
        mode: Refresh,
        loader: Option<&Arc<dyn Load<T>>>,
    ) -> Result<(), Error> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::Config(format!(
                "loading `{}` needs a tokio runtime",
                std::any::type_name::<T>()
            ))
        })?;
        let forced = mode == Refresh::Forced;
        loop {
            let step = self.with_state(|state| match &state.in_flight {
                // A forced refresh waits for a running plain fetch, then makes its own; so does
                // a caller whose provider is not the fetch's (its fetch may fail for reasons of
                // its own provider, and must not be taken for the caller's).
                Some(running)
                    if (forced && !running.forced)
                        || loader.is_some_and(|mine| {
                            !running
                                .loader
                                .as_ref()
                                .is_some_and(|its| same_loader(mine, its))
                        }) =>
                {
                    Step::WaitThenRetry(running.fetch.clone(), running.number, bound(running))
                }
                Some(running) => Step::Join(running.fetch.clone(), running.number, bound(running)),
                None => self.not_needed(state, mode).unwrap_or_else(|| {
                    let number = state.fetch_numbers;
                    state.fetch_numbers += 1;
                    // Chosen now, under the lock: the fetch reads through the loader it was
                    // started with, even if a caller sets another meanwhile.
                    let loader = match &state.loader {
                        Some(loader) => Ok(Arc::clone(loader)),
                        None => Provider::global().map(|global| global as Arc<dyn Load<T>>),
                    };
                    let (sender, receiver) = tokio::sync::oneshot::channel();
                    let fetch = async move { receiver.await.ok() }.boxed().shared();
                    state.in_flight = Some(InFlight {
                        number,
                        forced,
                        loader: loader.as_ref().ok().cloned(),
                        fetch: fetch.clone(),
                    });
                    Step::Start {
                        fetch,
                        number,
                        loader,
                        sender,
                    }
                }),
            });
            match step {
                Step::Done(done) => return done,
                Step::Rearm(expires, generation) => {
                    timer::start(self, expires, generation);
                    return Ok(());
                }
                Step::Join(fetch, number, bound) => {
                    if let Some(result) = self.join(fetch, number, bound).await {
                        return result;
                    }
                }
                Step::WaitThenRetry(fetch, number, bound) => {
                    let _ = self.join(fetch, number, bound).await;
                }
                Step::Start {
                    fetch,
                    number,
                    loader,
                    sender,
                } => {
                    // Built before the task, so that the slot is cleared however the task
                    // ends, even if it never runs.
                    let clear = ClearOnDrop {
                        cache: self,
                        number,
                    };
                    runtime.spawn(async move {
                        let result = self.fetch_and_store(forced, number, loader).await;
                        // Callers arriving from now on start a new fetch, not get this result.
                        drop(clear);
                        let _ = sender.send(result);
                    });
                    return fetch
                        .await
                        .unwrap_or_else(|| Err(aborted::<T>("its runtime shut down")));
                }
            }
        }
    }

    /// Awaits fetch `number`, started by another caller, perhaps on another runtime. A fetch
    /// takes at most `bound` (its loader's); if it takes a second more (of running time), its
    /// runtime is not being driven (a `block_on` that timed out at start-up, say). Then, or if
    /// its runtime shut down under it, it is forgotten, and `None` tells the caller to fetch on
    /// its own runtime.
    async fn join(
        &'static self,
        fetch: SharedFetch,
        number: u64,
        bound: Duration,
    ) -> Option<Result<(), Error>> {
        let limit = bound.saturating_add(crate::clock::JOIN_MARGIN);
        match crate::clock::timeout(limit, fetch).await {
            Some(Some(result)) => return Some(result),
            // Its task was dropped: its slot is clear already.
            Some(None) => return None,
            None => {}
        }
        tracing::warn!(
            secret_type = std::any::type_name::<T>(),
            waited_ms = limit.as_millis(),
            "a fetch started elsewhere did not complete in time (is its runtime still driven?); \
             fetching again on this runtime"
        );
        self.with_state(|state| {
            state.given_up = state.given_up.max(Some(number));
            if state
                .in_flight
                .as_ref()
                .is_some_and(|running| running.number == number)
            {
                state.in_flight = None;
            }
        });
        None
    }

    /// `Some` when no fetch is needed for `mode`: the current value is fresh, a forced fetch
    /// just completed, or failures call for waiting (then the last error).
    fn not_needed(&self, state: &mut State<T>, mode: Refresh) -> Option<Step<T>> {
        let now = Instant::now();
        // Checked under the lock: a caller that saw the backoff over just before a fetch failed
        // must not start another at once.
        if mode != Refresh::Forced
            && let Some(err) = state.backing_off(now)
        {
            return Some(Step::Done(Err(err.clone())));
        }
        if self.current.is_empty() {
            return None;
        }
        match mode {
            Refresh::IfDue if now < self.expires_at() => {
                // Marked due by a timer whose runtime shut down: the value is still fresh, so
                // re-arm its timer on this runtime.
                Some(if self.due.swap(false, Ordering::Relaxed) {
                    Step::Rearm(self.expires_at(), state.timer.retire())
                } else {
                    Step::Done(Ok(()))
                })
            }
            Refresh::Forced => match &state.forced {
                Some((at, result)) if now < *at + T::SPEC.refresh_window => {
                    Some(Step::Done(result.clone()))
                }
                _ => None,
            },
            Refresh::IfDue => None,
        }
    }

    /// One fetch: publishes a new value (or keeps the current one if unchanged) and schedules
    /// its expiry, or records the failure (a panic while decoding included).
    async fn fetch_and_store(
        &'static self,
        forced: bool,
        number: u64,
        loader: Result<Arc<dyn Load<T>>, Error>,
    ) -> Result<(), Error> {
        let first = self.current.is_empty();
        // The value is as old as the request for it: a fetch that outlived a Lambda freeze
        // does not make its value look newer than it is.
        let started = Instant::now();
        // Given up on by its callers, replaced by a newer fetch, or read through a loader that
        // is no longer the struct's: its outcome is not this struct's to keep.
        let stale = |state: &State<T>, loader: Option<&Arc<dyn Load<T>>>| {
            state.stored.is_some_and(|newest| newest > number)
                || state.given_up.is_some_and(|given_up| given_up >= number)
                || loader.is_some_and(|loader| {
                    !state
                        .loader
                        .as_ref()
                        .is_some_and(|now| same_loader(now, loader))
                })
        };
        let loader = match loader {
            Ok(loader) => loader,
            Err(err) => {
                if !self.with_state(|state| stale(state, None)) {
                    self.record_failure(&err, Instant::now(), first, forced);
                }
                return Err(err);
            }
        };
        let result = AssertUnwindSafe(self.fetch_entry(&*loader, forced))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| Err(aborted::<T>("it panicked (see the panic message above)")));
        let now = Instant::now();
        let entry = match result {
            Ok(entry) => entry,
            Err(err) => {
                if !self.with_state(|state| stale(state, Some(&loader))) {
                    self.record_failure(&err, now, first, forced);
                }
                return Err(err);
            }
        };
        let expires = started + jitter::shorten_by_up_to_a_tenth(T::SPEC.ttl);
        // Retire the old timer before anything else, so it cannot mark this value due.
        let generation = self.with_state(|state| {
            // A loader that another first load replaced is still stored if nothing is fixed
            // yet (it is the loader a caller asked for last); once fixed, only the fixed one.
            if stale(state, None) || (state.fixed && stale(state, Some(&loader))) {
                return None;
            }
            state.stored = Some(number);
            if forced {
                state.forced = Some((now, Ok(())));
            }
            state.fetched_at = Some(started);
            // The value came through this loader: it is the struct's from now on.
            state.loader = Some(loader);
            state.fixed = true;
            state.backoff = None;
            state.failures_in_a_row = 0;
            Some(state.timer.retire())
        });
        let Some(generation) = generation else {
            tracing::debug!(
                secret_type = std::any::type_name::<T>(),
                "a newer fetch was stored first; dropping this one's value"
            );
            return Ok(());
        };
        if let Some(entry) = entry {
            self.current.publish(entry);
            self.counters.versions.fetch_add(1, Ordering::Relaxed);
        } else {
            // Values a scan could not release (see `slot`'s docs) go at the latest now.
            self.current.reclaim();
        }
        self.expires_at.store(nanos(expires), Ordering::Relaxed);
        self.due.store(false, Ordering::Relaxed);
        let counter = match (first, forced) {
            (true, _) => &self.counters.loads,
            (false, true) => &self.counters.forced,
            (false, false) => &self.counters.refreshes,
        };
        counter.fetch_add(1, Ordering::Relaxed);
        timer::start(self, expires, generation);
        Ok(())
    }

    /// Fetches, and decodes unless the secret is unchanged (`None`: keep the current value).
    async fn fetch_entry(
        &'static self,
        loader: &dyn Load<T>,
        forced: bool,
    ) -> Result<Option<Arc<Entry<T>>>, Error> {
        let fetched = loader.fetch(forced).await?;
        if self
            .read()
            .is_some_and(|current| current.fingerprint == fetched.fingerprint)
        {
            tracing::debug!(
                secret_type = std::any::type_name::<T>(),
                "secret unchanged; keeping the current value"
            );
            return Ok(None);
        }
        let (fingerprint, via, version_id) =
            (fetched.fingerprint, fetched.via, fetched.version_id.clone());
        let value = fetched.decode()?;
        Ok(Some(Arc::new(Entry {
            value,
            via,
            version_id,
            fingerprint,
        })))
    }

    /// After a failed fetch: count it, log one warning, and wait longer before the next try.
    fn record_failure(&'static self, err: &Error, now: Instant, first: bool, forced: bool) {
        self.counters.failures.fetch_add(1, Ordering::Relaxed);
        let wait = self.with_state(|state| {
            if forced {
                state.forced = Some((now, Err(err.clone())));
            }
            let limit = if first { MAX_COLD_RETRY } else { MAX_RETRY };
            let wait = jitter::shorten_by_up_to_half(backoff(
                state.failures_in_a_row,
                T::SPEC.ttl.min(limit),
            ));
            state.failures_in_a_row = state.failures_in_a_row.saturating_add(1);
            state.backoff = Some(Backoff {
                until: now + wait,
                error: err.clone(),
            });
            wait
        });
        tracing::warn!(
            secret_type = std::any::type_name::<T>(),
            error = %err,
            retry_in_ms = wait.as_millis(),
            serving_last_value = !first,
            "loading a secret failed"
        );
    }
}

/// Why a refresh is asked for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Refresh {
    /// Fetch unless the value is fresh.
    IfDue,
    /// Fetch unless a forced fetch completed within the struct's `refresh_window`.
    Forced,
}

/// The longest a running fetch takes: its loader's bound.
fn bound<T>(running: &InFlight<T>) -> Duration {
    running
        .loader
        .as_ref()
        .map_or(Duration::ZERO, |loader| loader.bound())
}

/// Whether two loaders are the same object.
fn same_loader<T>(a: &Arc<dyn Load<T>>, b: &Arc<dyn Load<T>>) -> bool {
    std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b))
}

/// The error for a `load_with` whose provider is not the struct's.
fn another_provider<T>() -> Error {
    Error::Config(format!(
        "`{}` is already loaded through another provider: a struct keeps the provider of its \
         first load (pass the same `Arc<Provider>` to `load_with`, or call `Provider::install` \
         once and use `load()`)",
        std::any::type_name::<T>()
    ))
}

/// The error for a fetch that did not complete.
fn aborted<T>(how: &str) -> Error {
    Error::Aborted(format!(
        "loading `{}` did not complete: {how}",
        std::any::type_name::<T>()
    ))
}

/// Empties the in-flight slot when dropped, if it still holds fetch `number`.
struct ClearOnDrop<T: Send + Sync + 'static> {
    cache: &'static Cache<T>,
    number: u64,
}

impl<T: Send + Sync + 'static> Drop for ClearOnDrop<T> {
    fn drop(&mut self) {
        self.cache.with_state(|state| {
            if state
                .in_flight
                .as_ref()
                .is_some_and(|running| running.number == self.number)
            {
                state.in_flight = None;
            }
        });
    }
}

/// Resets a flag when dropped.
struct ResetOnDrop<'a>(&'a AtomicBool);

impl Drop for ResetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// The wait after `failures_before + 1` failures in a row, before jitter: 1 s doubling, at
/// most `limit`.
fn backoff(failures_before: u32, limit: Duration) -> Duration {
    FIRST_RETRY
        .saturating_mul(1 << failures_before.min(16))
        .min(limit)
}

fn nanos(at: Instant) -> u64 {
    let since = at.into_std().saturating_duration_since(*EPOCH);
    u64::try_from(since.as_nanos()).unwrap_or(u64::MAX)
}

fn lock<V>(mutex: &Mutex<V>) -> MutexGuard<'_, V> {
    // The guarded data are plain fields: a panic elsewhere cannot leave them half-written.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests;
