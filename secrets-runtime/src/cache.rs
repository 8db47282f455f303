//! The per-struct cache behind `load()` and `get()`.
//!
//! One `static` [`Cache`] per derived struct holds the current value in an [`ArcSwapOption`]:
//! `get()` is a lock-free atomic load plus a clock check, with no allocation and no I/O.
//! Fetches are single-flight: every caller that needs a fetch while one is running awaits that
//! same fetch (a shared future), so N concurrent cold starts make one request, and all of them
//! get its error if it fails. Nothing is poisoned: the next call starts a new fetch.

use std::fmt;
use std::ops::Deref;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use arc_swap::{ArcSwapOption, Guard};
use std::panic::AssertUnwindSafe;

use futures_util::FutureExt as _;
use futures_util::future::{BoxFuture, Shared};

use crate::document::Document;
use crate::source::{SecretRequest, SourceKind};
use crate::{Error, FromSecret, Provider, fields, jitter};

/// After a failed refresh, the cache waits this long (at most the TTL) before it tries again,
/// serving the last good value meanwhile.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);

/// The instant that `retry_at` counts from.
static EPOCH: LazyLock<Instant> = LazyLock::new(Instant::now);

type SharedFetch<T> = Shared<BoxFuture<'static, Result<Arc<Entry<T>>, Error>>>;

/// The running fetch, numbered so that its task clears the slot only if it still holds it.
struct InFlight<T> {
    number: u64,
    fetch: SharedFetch<T>,
}

/// One decoded value and what is known about it.
struct Entry<T> {
    value: T,
    loaded_at: Instant,
    expires_at: Instant,
    via: SourceKind,
    version_id: Option<String>,
}

/// The cache of one derived struct. Generated code declares it as a `static`; users reach it
/// through the [`FromSecret`] methods.
#[doc(hidden)]
pub struct Cache<T> {
    current: ArcSwapOption<Entry<T>>,
    in_flight: Mutex<Option<InFlight<T>>>,
    /// Numbers the fetches, for [`InFlight`].
    fetches: AtomicU64,
    refresh_spawned: AtomicBool,
    /// Nanoseconds after [`EPOCH`] before which no refresh is tried (after a failure).
    retry_at: AtomicU64,
    provider: Mutex<Option<Arc<Provider>>>,
}

impl<T> Cache<T> {
    /// An empty cache, for a `static`.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            current: ArcSwapOption::const_empty(),
            in_flight: Mutex::new(None),
            fetches: AtomicU64::new(0),
            refresh_spawned: AtomicBool::new(false),
            retry_at: AtomicU64::new(0),
            provider: Mutex::new(None),
        }
    }
}

impl<T> Default for Cache<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: FromSecret> Cache<T> {
    /// The current value, starting one background refresh if it has expired.
    pub(crate) fn try_get(&'static self) -> Option<Snapshot<T>> {
        let guard = self.current.load();
        let entry = guard.as_ref()?;
        if self.refresh_due(entry, Instant::now()) {
            self.spawn_refresh();
        }
        Some(Snapshot { guard })
    }

    /// The current value if fresh; otherwise the result of a (shared) fetch. When a refresh
    /// fails and a value is cached, the cached value is returned and a warning logged.
    pub(crate) async fn load(
        &'static self,
        provider: Option<Arc<Provider>>,
    ) -> Result<Snapshot<T>, Error> {
        if let Some(provider) = provider {
            *lock(&self.provider) = Some(provider);
        }
        let guard = self.current.load();
        match guard.as_ref() {
            Some(entry) if !self.refresh_due(entry, Instant::now()) => {
                return Ok(Snapshot { guard });
            }
            _ => drop(guard),
        }
        match self.refresh().await {
            Ok(_) => {}
            Err(err) => {
                let guard = self.current.load();
                if guard.is_none() {
                    return Err(err);
                }
                tracing::warn!(
                    secret_type = std::any::type_name::<T>(),
                    error = %err,
                    "refreshing a secret failed; serving the last good value"
                );
                return Ok(Snapshot { guard });
            }
        }
        let guard = self.current.load();
        if guard.is_none() {
            return Err(Error::Config(
                "internal error: a successful load stored no value".into(),
            ));
        }
        Ok(Snapshot { guard })
    }

    fn refresh_due(&self, entry: &Entry<T>, now: Instant) -> bool {
        now >= entry.expires_at && nanos_since_epoch(now) >= self.retry_at.load(Ordering::Relaxed)
    }

    /// Starts one refresh on the current tokio runtime, unless one is already running. Without
    /// a runtime nothing happens, and the next `load().await` refreshes.
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
            // Errors are logged by the fetch; the last good value keeps serving.
            let _ = self.refresh().await;
        });
    }

    /// Joins the running fetch, or starts one unless the current value has become fresh
    /// meanwhile (a fetch that completed between the caller's check and now).
    ///
    /// The fetch runs in its own task: it completes even if every caller gives up on it, and a
    /// panic in it (say in a user's `FromStr`) becomes an error instead of poisoning the slot.
    async fn refresh(&'static self) -> Result<Arc<Entry<T>>, Error> {
        let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
            Error::Config(format!(
                "loading `{}` needs a tokio runtime",
                std::any::type_name::<T>()
            ))
        })?;
        let (fetch, start) = {
            let mut slot = lock(&self.in_flight);
            match &*slot {
                Some(running) => (running.fetch.clone(), None),
                None => {
                    if let Some(entry) = self.current.load_full() {
                        if !self.refresh_due(&entry, Instant::now()) {
                            return Ok(entry);
                        }
                    }
                    let number = self.fetches.fetch_add(1, Ordering::Relaxed);
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
                        fetch: fetch.clone(),
                    });
                    (fetch, Some((number, sender)))
                }
            }
        };
        if let Some((number, sender)) = start {
            // Built before the task, so that the slot is cleared however the task ends,
            // even if it never runs.
            let clear = ClearOnDrop {
                slot: &self.in_flight,
                number,
            };
            runtime.spawn(async move {
                let result = AssertUnwindSafe(self.fetch_and_store())
                    .catch_unwind()
                    .await
                    .unwrap_or_else(|_| {
                        Err(aborted::<T>("it panicked (see the panic message above)"))
                    });
                // Callers arriving from now on start a new fetch rather than get this result.
                drop(clear);
                let _ = sender.send(result);
            });
        }
        fetch.await
    }

    /// One fetch: stores a good value, or schedules the next try after an error.
    async fn fetch_and_store(&'static self) -> Result<Arc<Entry<T>>, Error> {
        let result = self.fetch_entry().await;
        match &result {
            Ok(entry) => {
                self.current.store(Some(Arc::clone(entry)));
                self.retry_at.store(0, Ordering::Relaxed);
            }
            Err(err) => {
                let wait = RETRY_AFTER_FAILURE.min(T::SPEC.ttl);
                self.retry_at
                    .store(nanos_since_epoch(Instant::now() + wait), Ordering::Relaxed);
                tracing::warn!(
                    secret_type = std::any::type_name::<T>(),
                    error = %err,
                    retry_in_ms = wait.as_millis(),
                    "loading a secret failed"
                );
            }
        }
        result
    }

    async fn fetch_entry(&'static self) -> Result<Arc<Entry<T>>, Error> {
        let provider = match lock(&self.provider).clone() {
            Some(provider) => provider,
            None => Provider::global()?,
        };
        let (value, request, via, version_id) = fetch_value::<T>(&provider).await?;
        let loaded_at = Instant::now();
        tracing::debug!(secret = %request.name, source = %via, "secret loaded into the cache");
        Ok(Arc::new(Entry {
            value,
            loaded_at,
            expires_at: loaded_at + jitter::shorten_by_up_to_a_tenth(T::SPEC.ttl),
            via,
            version_id,
        }))
    }
}

/// Fetches and decodes one value of `T`, bypassing every cache.
pub(crate) async fn fetch_value<T: FromSecret>(
    provider: &Provider,
) -> Result<(T, SecretRequest, SourceKind, Option<String>), Error> {
    let spec = &T::SPEC;
    let request = SecretRequest {
        name: provider.secret_name(spec)?,
        version_stage: spec.version_stage,
        version_id: spec.version_id,
    };
    let payload = provider.fetch(&request).await?;
    let (via, version_id) = (payload.via, payload.version_id.clone());
    let document = Document::new(&request.name, payload);
    let value = fields::decode::<T>(&document)?;
    Ok((value, request, via, version_id))
}

/// The error for a fetch that did not complete.
fn aborted<T>(how: &str) -> Error {
    Error::Aborted(format!(
        "loading `{}` did not complete: {how}",
        std::any::type_name::<T>()
    ))
}

/// Empties the in-flight slot when dropped, if it still holds fetch `number`.
struct ClearOnDrop<'a, T> {
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

/// Resets a flag when dropped.
struct ResetOnDrop<'a>(&'a AtomicBool);

impl Drop for ResetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

fn nanos_since_epoch(at: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(*EPOCH).as_nanos()).unwrap_or(u64::MAX)
}

fn lock<V>(mutex: &Mutex<V>) -> MutexGuard<'_, V> {
    // The guarded data is a plain slot: a panic elsewhere cannot leave it half-written.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A consistent view of a cached config: every field comes from the same load.
///
/// It dereferences to the struct. Keep it for the duration of a request, not across long
/// waits: a refresh cannot free the old value while a snapshot holds it.
///
/// ```
/// # use secrets_runtime::{FromSecret, Provider, Snapshot, Source, SourceKind};
/// #[derive(FromSecret)]
/// #[secret(name = "dev/lambda/jay")]
/// struct Jay {
///     db_host: String,
/// }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), secrets_runtime::Error> {
/// # let provider = Provider::builder().source(Source::Local)
/// #     .var("SECRETS_LOCAL_DEV_LAMBDA_JAY", r#"{"db_host":"localhost"}"#).build();
/// # Jay::load_with(std::sync::Arc::new(provider)).await?;
/// let jay = Jay::get();
/// assert_eq!(jay.db_host, "localhost");
/// assert_eq!(Snapshot::source(&jay), SourceKind::Local);
/// # Ok(()) }
/// ```
pub struct Snapshot<T: 'static> {
    guard: Guard<Option<Arc<Entry<T>>>>,
}

impl<T> Snapshot<T> {
    fn entry(this: &Self) -> &Entry<T> {
        match this.guard.as_ref() {
            Some(entry) => entry,
            // Snapshots are only made from a loaded cache.
            None => unreachable!("a snapshot of an empty cache"),
        }
    }

    /// How long ago this value was fetched.
    #[must_use]
    pub fn age(this: &Self) -> Duration {
        Snapshot::entry(this).loaded_at.elapsed()
    }

    /// Whether the TTL of this value has passed (a refresh is due or running).
    #[must_use]
    pub fn is_expired(this: &Self) -> bool {
        Instant::now() >= Snapshot::entry(this).expires_at
    }

    /// The source that served this value.
    #[must_use]
    pub fn source(this: &Self) -> SourceKind {
        Snapshot::entry(this).via
    }

    /// The secret's `VersionId`, when the source reports one.
    #[must_use]
    pub fn version_id(this: &Self) -> Option<&str> {
        Snapshot::entry(this).version_id.as_deref()
    }
}

impl<T> Deref for Snapshot<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &Snapshot::entry(self).value
    }
}

impl<T: fmt::Debug> fmt::Debug for Snapshot<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
