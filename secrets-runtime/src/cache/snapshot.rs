//! What readers get: a [`Snapshot`] of the cached value, and [`Stats`] of a cache.

use std::fmt;
use std::ops::Deref;
use std::time::Duration;

use tokio::time::Instant;

use super::slot::Guard;
use super::{Cache, Entry};
use crate::FromSecret;
use crate::SourceKind;

/// A consistent view of a cached config: every field comes from the same load.
///
/// It dereferences to the struct. While it lives, its value stays alive and unchanged, even
/// after a refresh replaces it; once the last snapshot of a replaced value is dropped, the
/// value is dropped too (its `SecretString`s zeroized). It is `Send` and `Sync`, so it can be
/// held across `.await`.
///
/// A snapshot from [`get`](FromSecret::get) holds the reading thread's hazard slot (no shared
/// write): drop it soon, since other reads on that thread meanwhile claim a spare slot. The
/// snapshots of [`load`](FromSecret::load) and [`refresh_now`](FromSecret::refresh_now), and a
/// [`clone`](Clone::clone), hold a reference count instead, for keeping a value across
/// `.await` or for long.
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
/// assert!(!Snapshot::is_stale(&jay));
/// # Ok(()) }
/// ```
pub struct Snapshot<T: Send + Sync + 'static> {
    cache: &'static Cache<T>,
    entry: Guard<Entry<T>>,
}

impl<T: Send + Sync + 'static> Clone for Snapshot<T> {
    /// Another snapshot of the same value, holding a reference count.
    fn clone(&self) -> Self {
        Self {
            cache: self.cache,
            entry: self.entry.clone(),
        }
    }
}

impl<T: FromSecret> Snapshot<T> {
    #[inline(always)]
    pub(super) fn new(cache: &'static Cache<T>, entry: Guard<Entry<T>>) -> Self {
        Self { cache, entry }
    }

    /// The value as a plain reference for the rest of the process. This keeps the value in
    /// memory for good, even after refreshes replace it: use it for values that never rotate,
    /// or keep the snapshot instead.
    ///
    /// ```
    /// # use secrets_runtime::{FromSecret, Provider, Snapshot, Source};
    /// #[derive(FromSecret)]
    /// #[secret(name = "region")]
    /// struct Region {
    ///     name: String,
    /// }
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), secrets_runtime::Error> {
    /// # let provider = Provider::builder().source(Source::Local)
    /// #     .var("SECRETS_LOCAL_REGION", r#"{"name":"eu-west-1"}"#).build();
    /// # Region::load_with(std::sync::Arc::new(provider)).await?;
    /// let region: &'static str = &Snapshot::leak(Region::get()).name;
    /// assert_eq!(region, "eu-west-1");
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn leak(this: Self) -> &'static T {
        &this.entry.leak().value
    }

    /// How long ago this value was last confirmed by a fetch (refreshes that find the secret
    /// unchanged count as confirmations); `Duration::MAX` once a newer value has replaced it.
    #[must_use]
    pub fn age(this: &Self) -> Duration {
        match this.cache.fetched_at() {
            Some(at) if this.entry.is_current() => at.elapsed(),
            _ => Duration::MAX,
        }
    }

    /// Whether this value's TTL has passed (a refresh is due or running), or a newer value
    /// has replaced it.
    #[must_use]
    pub fn is_expired(this: &Self) -> bool {
        !this.entry.is_current() || Instant::now() >= this.cache.expires_at()
    }

    /// Whether this value is more than the struct's `max_stale` past its expiry without being
    /// replaced (refreshes kept failing, or could not run, as during a long freeze), or a
    /// newer value has replaced it. After failed refreshes, `load().await` then returns their
    /// error instead of this value.
    #[must_use]
    pub fn is_stale(this: &Self) -> bool {
        !this.entry.is_current() || Instant::now() > this.cache.expires_at() + T::SPEC.max_stale
    }

    /// The source that served this value (for a struct of several sources, the one that
    /// served its own secret, or else its first source that exists).
    #[must_use]
    pub fn source(this: &Self) -> SourceKind {
        this.entry.via
    }

    /// The `VersionId` of the struct's own secret (without one, of its first source that
    /// exists; a parameter's version number), when the source reports one.
    #[must_use]
    pub fn version_id(this: &Self) -> Option<&str> {
        this.entry.version_id.as_deref()
    }
}

impl<T: Send + Sync + 'static> Deref for Snapshot<T> {
    type Target = T;

    #[inline]
    fn deref(&self) -> &T {
        &self.entry.value
    }
}

impl<T: fmt::Debug + Send + Sync + 'static> fmt::Debug for Snapshot<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

/// What one struct's cache has done, from [`FromSecret::stats`].
///
/// `get()` reads are not counted: counting them would make every read a shared atomic
/// write, and reads are meant to cost what a constant costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Successful first loads (1 once loaded).
    pub loads: u64,
    /// Successful refreshes after expiry.
    pub refreshes: u64,
    /// Successful forced refreshes (`refresh_now`).
    pub forced_refreshes: u64,
    /// `load()` calls answered from the cache without a fetch.
    pub hits: u64,
    /// Failed fetches.
    pub failures: u64,
    /// Distinct values decoded (a refresh that finds the secret unchanged decodes nothing).
    pub versions: u64,
    /// Replaced values still protected by a `get()` snapshot (values kept by a counted snapshot
    /// or [`Snapshot::leak`] are not counted).
    pub retained: usize,
    /// Time since the last successful fetch, once loaded.
    pub age: Option<Duration>,
    /// The source of the current value, once loaded.
    pub source: Option<SourceKind>,
    /// Whether the current value's TTL has passed.
    pub expired: bool,
}
