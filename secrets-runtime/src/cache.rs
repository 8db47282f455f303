//! The per-struct cache behind `load()`, `get()` and `refresh_now()`.
//!
//! # Reads
//! `get()` of a fresh value is one atomic pointer load and one relaxed flag load: no lock, no
//! allocation, no I/O, no clock (a clock read costs more than the rest of a read). The flag
//! says the TTL has passed; the expiry timer sets it.
//!
//! # Values live for the process
//! Each distinct value is decoded once and then never freed, so a read hands out a
//! `&'static` reference with no reference counting. A refresh that returns a secret version
//! already decoded (the usual case: the same one) reuses that value and retains nothing new;
//! only a new version adds a value. A process therefore holds one value per version it has
//! seen: for a secret rotated monthly, one more small struct a month. These values are never
//! dropped, so their `SecretString`s are never zeroized. (Reclaiming old versions would need every
//! read to announce itself to a reclaimer, which is what makes `ArcSwap`-style reads 20 times
//! slower than a constant.)
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
//! refresh. `load()` checks the clock itself. A failed refresh keeps the last good value,
//! logs one warning, and waits before the next try (1 s doubling up to the TTL, at most 5 min).
//! Past `max_stale` after expiry, `load()` returns the error instead; `get()` still returns
//! the last value and [`Snapshot::is_stale`] says so.

#![allow(unsafe_code)]

use std::hash::{BuildHasher, Hasher, RandomState};
use std::marker::PhantomData;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Shared};

use crate::document::{RawValue, SecretPayload};
use crate::plan::Plan;
use crate::snapshot::{Snapshot, Stats};
use crate::source::SourceKind;
use crate::{Error, FromSecret, Provider, fields, jitter};

/// The first wait after a failed refresh; it doubles with each failure in a row.
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// The longest wait between failed refreshes.
const MAX_RETRY: Duration = Duration::from_secs(300);

/// The instant that the cache's `AtomicU64` times count nanoseconds from.
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);
/// The key of secret fingerprints: random per process, so a fingerprint reveals nothing.
static FINGERPRINT_KEY: LazyLock<RandomState> = LazyLock::new(RandomState::new);

type SharedFetch<T> = Shared<BoxFuture<'static, Result<&'static Entry<T>, Error>>>;

/// The running fetch, numbered so that its task clears the slot only if it still holds it.
struct InFlight<T: 'static> {
    number: u64,
    /// Whether it bypasses the extension's cache (`refreshNow`): a forced refresh does not
    /// settle for a fetch that does not.
    forced: bool,
    fetch: SharedFetch<T>,
}

/// One decoded value. Never freed (see the module docs).
pub(crate) struct Entry<T> {
    pub(crate) value: T,
    pub(crate) via: SourceKind,
    pub(crate) version_id: Option<String>,
    /// A keyed hash of the version id and the raw secret, to recognise an unchanged value.
    fingerprint: u64,
}

/// What a caller of `refresh` does next.
enum Step<T: 'static> {
    Done(Result<&'static Entry<T>, Error>),
    Join(SharedFetch<T>),
    WaitThenRetry(SharedFetch<T>),
    Start {
        fetch: SharedFetch<T>,
        number: u64,
        sender: tokio::sync::oneshot::Sender<Result<&'static Entry<T>, Error>>,
    },
}

/// Why a refresh is asked for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Refresh {
    /// Fetch unless the value became fresh meanwhile.
    IfDue,
    /// The expiry timer fired: fetch (the value is due by the runtime's clock, which a test
    /// may have paused or advanced).
    Expired,
    /// Fetch unless a forced fetch completed within the struct's `refresh_window`.
    Forced,
}

/// The cache of one derived struct. Generated code declares it as a `static`; users reach it
/// through the [`FromSecret`] methods.
#[doc(hidden)]
pub struct Cache<T: 'static> {
    /// The current entry: null before the first load. Every pointer stored here comes from
    /// `Box::leak` and is never freed, so it stays valid for the life of the process.
    current: AtomicPtr<Entry<T>>,
    /// The TTL has passed: set by the expiry timer (or `load`), cleared by a good fetch.
    due: AtomicBool,
    /// When the current value expires, in nanoseconds after [`EPOCH`].
    expires_at: AtomicU64,
    /// When the last fetch succeeded, in nanoseconds after [`EPOCH`].
    fetched_at: AtomicU64,
    /// No refresh before this, after a failure (nanoseconds after [`EPOCH`]).
    retry_at: AtomicU64,
    failures_in_a_row: AtomicU32,
    /// The generation of the live expiry timer; older timers do nothing when they fire.
    timer: AtomicU64,
    /// The live timer's task, aborted when a newer timer replaces it.
    timer_task: Mutex<Option<tokio::task::AbortHandle>>,
    in_flight: Mutex<Option<InFlight<T>>>,
    fetch_numbers: AtomicU64,
    refresh_spawned: AtomicBool,
    last_error: Mutex<Option<Error>>,
    /// When the last forced fetch ended (nanoseconds after [`EPOCH`], 0 before the first), and
    /// whether it failed.
    forced_at: AtomicU64,
    forced_failed: AtomicBool,
    /// Every value decoded so far (they are never freed), to reuse one that comes back.
    kept: Mutex<Vec<&'static Entry<T>>>,
    provider: Mutex<Option<Arc<Provider>>>,
    counters: Counters,
    /// Shared references to `T` cross threads: the cache is `Sync` only when `T` is.
    _values: PhantomData<T>,
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

impl<T> Cache<T> {
    /// An empty cache, for a `static`.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            current: AtomicPtr::new(std::ptr::null_mut()),
            due: AtomicBool::new(false),
            expires_at: AtomicU64::new(0),
            fetched_at: AtomicU64::new(0),
            retry_at: AtomicU64::new(0),
            failures_in_a_row: AtomicU32::new(0),
            timer: AtomicU64::new(0),
            timer_task: Mutex::new(None),
            in_flight: Mutex::new(None),
            fetch_numbers: AtomicU64::new(0),
            refresh_spawned: AtomicBool::new(false),
            last_error: Mutex::new(None),
            forced_at: AtomicU64::new(0),
            forced_failed: AtomicBool::new(false),
            kept: Mutex::new(Vec::new()),
            provider: Mutex::new(None),
            counters: Counters {
                loads: AtomicU64::new(0),
                refreshes: AtomicU64::new(0),
                forced: AtomicU64::new(0),
                hits: AtomicU64::new(0),
                failures: AtomicU64::new(0),
                versions: AtomicU64::new(0),
            },
            _values: PhantomData,
        }
    }

    /// The current entry, if any.
    #[inline]
    fn entry(&self) -> Option<&'static Entry<T>> {
        let pointer = self.current.load(Ordering::Acquire);
        // SAFETY: non-null pointers in `current` come from `Box::leak` in `store` and are
        // never freed or mutated, and the `Acquire` load pairs with the `Release` store, so
        // the entry is fully initialised and valid for `'static`.
        unsafe { pointer.as_ref() }
    }

    pub(crate) fn is_current(&self, entry: &Entry<T>) -> bool {
        std::ptr::eq(self.current.load(Ordering::Acquire), entry)
    }

    pub(crate) fn expires_at(&self) -> Instant {
        at(self.expires_at.load(Ordering::Relaxed))
    }

    pub(crate) fn fetched_at(&self) -> Instant {
        at(self.fetched_at.load(Ordering::Relaxed))
    }
}

impl<T> Default for Cache<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: FromSecret> Cache<T> {
    /// The current value; if it is due, starts one background refresh.
    #[inline]
    pub(crate) fn try_get(&'static self) -> Option<Snapshot<T>> {
        let entry = self.entry()?;
        if self.due.load(Ordering::Relaxed) {
            self.on_due();
        }
        Some(Snapshot::new(self, entry))
    }

    #[cold]
    #[inline(never)]
    fn on_due(&'static self) {
        if !self.refresh_spawned.load(Ordering::Relaxed) {
            self.spawn_refresh(Refresh::IfDue);
        }
    }

    /// The current value if fresh; otherwise the result of a (shared) fetch. When a refresh
    /// fails and a value is cached, the cached value is returned, until it is `max_stale`
    /// past its expiry.
    pub(crate) async fn load(
        &'static self,
        provider: Option<Arc<Provider>>,
    ) -> Result<Snapshot<T>, Error> {
        if let Some(provider) = provider {
            *lock(&self.provider) = Some(provider);
        }
        let now = Instant::now();
        if let Some(entry) = self.entry() {
            if now < self.expires_at() {
                self.counters.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(Snapshot::new(self, entry));
            }
            self.due.store(true, Ordering::Relaxed);
            if nanos(now) < self.retry_at.load(Ordering::Relaxed) {
                // Backing off after a failure: the last value, while it may still be served.
                return self.serve_stale(entry, now, None);
            }
        }
        match self.refresh(Refresh::IfDue).await {
            Ok(entry) => Ok(Snapshot::new(self, entry)),
            Err(err) => match self.entry() {
                None => Err(err),
                Some(entry) => self.serve_stale(entry, Instant::now(), Some(err)),
            },
        }
    }

    /// The last good value after failed refreshes, unless it is too stale to serve.
    fn serve_stale(
        &'static self,
        entry: &'static Entry<T>,
        now: Instant,
        err: Option<Error>,
    ) -> Result<Snapshot<T>, Error> {
        if now > self.expires_at() + T::SPEC.max_stale {
            let err = err.or_else(|| lock(&self.last_error).clone());
            return Err(err.unwrap_or_else(|| Error::Aborted("the cached value is stale".into())));
        }
        Ok(Snapshot::new(self, entry))
    }

    /// Fetches now, sharing a running fetch, and returns the new value. A forced refresh right
    /// after a completed fetch (within the struct's `refresh_window`) returns that fetch's value.
    pub(crate) async fn refresh_now(
        &'static self,
        provider: Option<Arc<Provider>>,
    ) -> Result<Snapshot<T>, Error> {
        if let Some(provider) = provider {
            *lock(&self.provider) = Some(provider);
        }
        self.refresh(Refresh::Forced)
            .await
            .map(|entry| Snapshot::new(self, entry))
    }

    /// What this cache has done so far.
    pub(crate) fn stats(&'static self) -> Stats {
        let entry = self.entry();
        let c = &self.counters;
        Stats {
            loads: c.loads.load(Ordering::Relaxed),
            refreshes: c.refreshes.load(Ordering::Relaxed),
            forced_refreshes: c.forced.load(Ordering::Relaxed),
            hits: c.hits.load(Ordering::Relaxed),
            failures: c.failures.load(Ordering::Relaxed),
            versions: c.versions.load(Ordering::Relaxed),
            age: entry.map(|_| self.fetched_at().elapsed()),
            source: entry.map(|e| e.via),
            expired: entry.is_some() && Instant::now() >= self.expires_at(),
        }
    }

    /// Starts one refresh on the current tokio runtime, unless one is already running. The
    /// task first waits out the backoff of a failed refresh, so a due value is never
    /// refetched in a tight loop. Without a runtime nothing happens, and the next
    /// `load().await` refreshes.
    fn spawn_refresh(&'static self, mode: Refresh) {
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
            let wait =
                at(self.retry_at.load(Ordering::Relaxed)).saturating_duration_since(Instant::now());
            if !wait.is_zero() {
                tokio::time::sleep(wait).await;
            }
            // Errors are logged by the fetch; the last good value keeps serving.
            let _ = self.refresh(mode).await;
        });
    }

    /// Joins the running fetch, or starts one unless `mode` says it is not needed.
    async fn refresh(&'static self, mode: Refresh) -> Result<&'static Entry<T>, Error> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::Config(format!(
                "loading `{}` needs a tokio runtime",
                std::any::type_name::<T>()
            ))
        })?;
        let forced = mode == Refresh::Forced;
        loop {
            let step = {
                let mut slot = lock(&self.in_flight);
                match &*slot {
                    // A forced refresh waits for a running plain fetch, then makes its own.
                    Some(running) if forced && !running.forced => {
                        Step::WaitThenRetry(running.fetch.clone())
                    }
                    Some(running) => Step::Join(running.fetch.clone()),
                    None => match self.not_needed(mode) {
                        Some(done) => Step::Done(done),
                        None => {
                            let number = self.fetch_numbers.fetch_add(1, Ordering::Relaxed);
                            let (sender, receiver) = tokio::sync::oneshot::channel();
                            let fetch = async move {
                                receiver
                                    .await
                                    .unwrap_or_else(|_| Err(aborted::<T>("its runtime shut down")))
                            }
                            .boxed()
                            .shared();
                            *slot = Some(InFlight {
                                number,
                                forced,
                                fetch: fetch.clone(),
                            });
                            Step::Start {
                                fetch,
                                number,
                                sender,
                            }
                        }
                    },
                }
            };
            match step {
                Step::Done(done) => return done,
                Step::Join(fetch) => return fetch.await,
                Step::WaitThenRetry(fetch) => {
                    let _ = fetch.await;
                }
                Step::Start {
                    fetch,
                    number,
                    sender,
                } => {
                    // Built before the task, so that the slot is cleared however the task
                    // ends, even if it never runs.
                    let clear = ClearOnDrop {
                        slot: &self.in_flight,
                        number,
                    };
                    runtime.spawn(async move {
                        let result = self.fetch_and_store(forced).await;
                        // Callers arriving from now on start a new fetch, not get this result.
                        drop(clear);
                        let _ = sender.send(result);
                    });
                    return fetch.await;
                }
            }
        }
    }

    /// `Some` when no fetch is needed for `mode`: the current value, or (for a forced refresh
    /// right after a failed forced one) that failure.
    fn not_needed(&'static self, mode: Refresh) -> Option<Result<&'static Entry<T>, Error>> {
        let entry = self.entry()?;
        let now = Instant::now();
        // Checked under the in-flight lock: a caller that saw the backoff over just before a
        // fetch failed must not start another at once.
        if mode != Refresh::Forced && nanos(now) < self.retry_at.load(Ordering::Relaxed) {
            let err = lock(&self.last_error).clone();
            return Some(Err(
                err.unwrap_or_else(|| aborted::<T>("backing off after a failure"))
            ));
        }
        match mode {
            Refresh::IfDue if now < self.expires_at() => {
                // Marked due by a timer whose runtime shut down: the value is still fresh, so
                // re-arm its timer on this runtime.
                if self.due.swap(false, Ordering::Relaxed) {
                    self.schedule_expiry(self.expires_at());
                }
                Some(Ok(entry))
            }
            // 0: no forced fetch yet (a real one is stored as at least 1).
            Refresh::Forced
                if self.forced_at.load(Ordering::Relaxed) != 0
                    && now
                        < at(self.forced_at.load(Ordering::Relaxed)) + T::SPEC.refresh_window =>
            {
                if self.forced_failed.load(Ordering::Relaxed) {
                    let err = lock(&self.last_error).clone();
                    Some(Err(err.unwrap_or_else(|| {
                        aborted::<T>("the last forced refresh failed")
                    })))
                } else {
                    Some(Ok(entry))
                }
            }
            _ => None,
        }
    }

    /// One fetch: stores a good value and schedules its expiry, or records the failure (a
    /// panic while decoding included) and schedules the next try.
    async fn fetch_and_store(&'static self, forced: bool) -> Result<&'static Entry<T>, Error> {
        let first = self.entry().is_none();
        // The value is as old as the request for it: a fetch that outlived a Lambda freeze
        // does not make its value look newer than it is.
        let started = Instant::now();
        let result = AssertUnwindSafe(self.fetch_entry(forced))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| Err(aborted::<T>("it panicked (see the panic message above)")));
        let now = Instant::now();
        if forced {
            self.forced_at.store(nanos(now).max(1), Ordering::Relaxed);
            self.forced_failed.store(result.is_err(), Ordering::Relaxed);
        }
        match &result {
            Ok(entry) => {
                // Retire the old timer before anything else, so it cannot mark this value due.
                let generation = self.timer.fetch_add(1, Ordering::Relaxed) + 1;
                self.current
                    .store(std::ptr::from_ref(*entry).cast_mut(), Ordering::Release);
                let ttl = jitter::shorten_by_up_to_a_tenth(T::SPEC.ttl);
                self.expires_at
                    .store(nanos(started + ttl), Ordering::Relaxed);
                self.fetched_at.store(nanos(started), Ordering::Relaxed);
                self.retry_at.store(0, Ordering::Relaxed);
                self.failures_in_a_row.store(0, Ordering::Relaxed);
                self.due.store(false, Ordering::Relaxed);
                let counter = match (first, forced) {
                    (true, _) => &self.counters.loads,
                    (false, true) => &self.counters.forced,
                    (false, false) => &self.counters.refreshes,
                };
                counter.fetch_add(1, Ordering::Relaxed);
                self.start_timer(started + ttl, generation);
            }
            Err(err) => self.record_failure(err, now, first),
        }
        result
    }

    /// After a failed fetch: count it, log one warning, and wait longer before the next try.
    fn record_failure(&'static self, err: &Error, now: Instant, first: bool) {
        self.counters.failures.fetch_add(1, Ordering::Relaxed);
        let failures = self.failures_in_a_row.fetch_add(1, Ordering::Relaxed);
        let wait = backoff(failures, T::SPEC.ttl);
        self.retry_at.store(nanos(now + wait), Ordering::Relaxed);
        *lock(&self.last_error) = Some(err.clone());
        tracing::warn!(
            secret_type = std::any::type_name::<T>(),
            error = %err,
            retry_in_ms = wait.as_millis(),
            serving_last_value = !first,
            "loading a secret failed"
        );
    }

    /// Fetches, and decodes unless the values are ones already decoded (then that is reused).
    async fn fetch_entry(&'static self, forced: bool) -> Result<&'static Entry<T>, Error> {
        let provider = match lock(&self.provider).clone() {
            Some(provider) => provider,
            None => Provider::global()?,
        };
        let plan = Plan::new::<T>(&provider, forced)?;
        let payloads = provider.fetch_all(&plan.requests).await?;
        let fingerprint = fingerprint(&payloads);
        let known = lock(&self.kept)
            .iter()
            .copied()
            .find(|e| e.fingerprint == fingerprint);
        if let Some(known) = known {
            tracing::debug!(
                secret_type = std::any::type_name::<T>(),
                "values already decoded; reusing them"
            );
            return Ok(known);
        }
        // Its own secret speaks for the struct, else its first source that exists.
        let first = plan
            .own_secret()
            .and_then(|index| payloads[index].as_ref())
            .or_else(|| payloads.iter().flatten().next());
        let via = first.map_or(provider.source_kind(), |p| p.via);
        let version_id = first.and_then(|p| p.version_id.clone());
        let value = fields::decode::<T>(&plan.documents(payloads))?;
        let entry: &'static Entry<T> = Box::leak(Box::new(Entry {
            value,
            via,
            version_id,
            fingerprint,
        }));
        lock(&self.kept).push(entry);
        self.counters.versions.fetch_add(1, Ordering::Relaxed);
        Ok(entry)
    }

    /// Re-arms the expiry timer for the current value, as a new generation.
    fn schedule_expiry(&'static self, expires: Instant) {
        let generation = self.timer.fetch_add(1, Ordering::Relaxed) + 1;
        self.start_timer(expires, generation);
    }

    /// Marks the value due when it expires and starts its refresh. A later timer replaces this
    /// one (the older one does nothing when it fires). If the timer's runtime shuts down
    /// first, the value is marked due at once, so that the next `get()` on another runtime
    /// re-arms the timer there (or refreshes, if the value has expired).
    fn start_timer(&'static self, expires: Instant, generation: u64) {
        let guard = TimerGuard {
            cache: self,
            generation,
            fired: false,
        };
        let task = tokio::spawn(async move {
            // Moved whole into the task (not just its `fired` field), so that it drops with it.
            let mut guard = guard;
            tokio::time::sleep_until(expires.into()).await;
            guard.fired = true;
        });
        // The replaced timer is no longer live: aborting it does nothing but free it.
        if let Some(old) = lock(&self.timer_task).replace(task.abort_handle()) {
            old.abort();
        }
    }

    /// Whether `generation` is the live timer.
    fn is_live_timer(&self, generation: u64) -> bool {
        self.timer.load(Ordering::Relaxed) == generation
    }
}

/// Fetches and decodes one value of `T`, bypassing every cache.
pub(crate) async fn fetch_value<T: FromSecret>(provider: &Provider) -> Result<T, Error> {
    let plan = Plan::new::<T>(provider, false)?;
    let payloads = provider.fetch_all(&plan.requests).await?;
    fields::decode::<T>(&plan.documents(payloads))
}

/// A keyed hash of what makes a struct's values: each source's answerer, version id and bytes
/// (or its absence).
fn fingerprint(payloads: &[Option<SecretPayload>]) -> u64 {
    let mut hasher = FINGERPRINT_KEY.build_hasher();
    for payload in payloads {
        let Some(payload) = payload else {
            hasher.write_u8(2);
            continue;
        };
        // Who answered is part of a value: a snapshot reports the source that answered last.
        std::hash::Hash::hash(&payload.via, &mut hasher);
        let version = payload.version_id.as_deref().unwrap_or_default();
        hasher.write_usize(version.len());
        hasher.write(version.as_bytes());
        let (tag, bytes) = match &payload.value {
            RawValue::String(text) => (0, text.as_bytes()),
            RawValue::Binary(bytes) => (1, bytes.as_slice()),
        };
        hasher.write_u8(tag);
        hasher.write_usize(bytes.len());
        hasher.write(bytes);
    }
    hasher.finish()
}

/// The error for a fetch that did not complete.
fn aborted<T>(how: &str) -> Error {
    Error::Aborted(format!(
        "loading `{}` did not complete: {how}",
        std::any::type_name::<T>()
    ))
}

/// Empties the in-flight slot when dropped, if it still holds fetch `number`.
struct ClearOnDrop<'a, T: 'static> {
    slot: &'a Mutex<Option<InFlight<T>>>,
    number: u64,
}

impl<T> Drop for ClearOnDrop<'_, T> {
    fn drop(&mut self) {
        let mut slot = lock(self.slot);
        if slot
            .as_ref()
            .is_some_and(|running| running.number == self.number)
        {
            *slot = None;
        }
    }
}

/// The live expiry timer: marks the value due when it fires, or when it is dropped unfired.
struct TimerGuard<T: FromSecret> {
    cache: &'static Cache<T>,
    generation: u64,
    /// It fired: the value is due by the runtime's clock (fetch without asking the std clock).
    fired: bool,
}

impl<T: FromSecret> Drop for TimerGuard<T> {
    fn drop(&mut self) {
        if self.cache.is_live_timer(self.generation) {
            self.cache.due.store(true, Ordering::Relaxed);
            let mode = if self.fired {
                Refresh::Expired
            } else {
                Refresh::IfDue
            };
            self.cache.spawn_refresh(mode);
        }
    }
}

/// Resets a flag when dropped.
struct ResetOnDrop<'a>(&'a AtomicBool);

impl Drop for ResetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// The wait after `failures_before + 1` failures in a row: 1 s doubling, at most the TTL and
/// at most [`MAX_RETRY`].
fn backoff(failures_before: u32, ttl: Duration) -> Duration {
    FIRST_RETRY
        .saturating_mul(1 << failures_before.min(16))
        .min(ttl)
        .min(MAX_RETRY)
}

fn nanos(at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(*EPOCH).as_nanos()).unwrap_or(u64::MAX)
}

fn at(nanos: u64) -> Instant {
    *EPOCH + Duration::from_nanos(nanos)
}

fn lock<V>(mutex: &Mutex<V>) -> MutexGuard<'_, V> {
    // The guarded data are plain slots: a panic elsewhere cannot leave them half-written.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_ttl_and_five_minutes() {
        let secs = |n| Duration::from_secs(n);
        let waits: Vec<_> = (0..10).map(|n| backoff(n, secs(300))).collect();
        assert_eq!(waits[..4], [secs(1), secs(2), secs(4), secs(8)]);
        assert_eq!(waits[9], secs(300));
        assert_eq!(backoff(40, secs(3600)), MAX_RETRY);
        assert_eq!(backoff(3, secs(5)), secs(5));
    }
}
