//! Typed configuration loaded from AWS Secrets Manager, cached once per process, read on the
//! hot path without locks, I/O or allocation.
//!
//! ```
//! use secrets_runtime::{FromSecret, Provider, SecretString, Source};
//!
//! #[derive(Debug, FromSecret)]
//! #[secret(name = "{STAGE:-dev}/lambda/jay", ttl = "5m")]
//! struct Jay {
//!     db_host: String,
//!     #[secret(key = "db_port")]
//!     port: u16,
//!     #[secret(default)]
//!     debug: bool,
//!     api_key: SecretString,
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), secrets_runtime::Error> {
//! // Offline here; on Lambda, `Jay::load()` reads through the extension or the SDK.
//! let provider = Provider::builder()
//!     .source(Source::Local)
//!     .var("SECRETS_LOCAL_DEV_LAMBDA_JAY", r#"{"db_host":"db","db_port":"5432","api_key":"hunter2"}"#)
//!     .build();
//! Jay::load_with(std::sync::Arc::new(provider)).await?; // cold start: one fetch
//!
//! let jay = Jay::get(); // hot path: no lock, no I/O, no allocation
//! assert_eq!((jay.db_host.as_str(), jay.port, jay.debug), ("db", 5432, false));
//! assert!(!format!("{jay:?}").contains("hunter2")); // secret fields print as [REDACTED]
//! # Ok(()) }
//! ```
//!
//! See the README for the attribute reference, the environment variables and the guarantees.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod backend;
mod cache;
mod clock;
pub mod deploy;
mod document;
mod error;
mod iam;
mod item;
mod jitter;
mod load;
mod provider;
/// Code compiled into the derive too (`secrets-derive/src/shared` links here).
mod shared;
mod spec;
mod template;
mod value;
mod vars;

use std::future::Future;
use std::sync::Arc;

pub use backend::Source;
pub use backend::local::{local_parameter_var, local_secret_var};
pub use cache::{Snapshot, Stats};
pub use error::{Error, FieldError, FieldProblem};
pub use item::{Item, SourceKind};
pub use provider::{Provider, ProviderBuilder};
pub use secrecy::{ExposeSecret, SecretSlice, SecretString};
/// Derives [`FromSecret`](trait@FromSecret) for a struct with named fields; see the README's
/// attribute reference.
pub use secrets_derive::FromSecret;
pub use value::{SecretValue, ValueError};

/// A config struct loaded from its secrets and parameters. Derive it with `#[derive(FromSecret)]`; the
/// provided methods are the whole API.
///
/// `load()` at cold start, `get()` on the hot path:
///
/// ```
/// # use secrets_runtime::{FromSecret, Provider, Source};
/// #[derive(FromSecret)]
/// #[secret(name = "app")]
/// struct App { region: String }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), secrets_runtime::Error> {
/// # let provider = std::sync::Arc::new(Provider::builder().source(Source::Local)
/// #     .var("SECRETS_LOCAL_APP", r#"{"region":"eu-west-1"}"#).build());
/// // `App::load()` uses the provider configured from the environment.
/// App::load_with(provider).await?;
/// assert_eq!(App::get().region, "eu-west-1");
/// # Ok(()) }
/// ```
pub trait FromSecret: Sized + Send + Sync + 'static {
    #[doc(hidden)]
    const SPEC: __private::SecretSpec;

    /// Reads this struct's fields, recording errors in `fields` (`None` if any field failed).
    /// `#[secret(flatten)]` calls it on the parent's document.
    #[doc(hidden)]
    fn read_fields(fields: &mut __private::Fields<'_>) -> Option<Self>;

    /// Adds the secrets and parameters this struct's fields read to `origins`.
    /// `#[secret(flatten)]` calls it for the nested struct.
    #[doc(hidden)]
    fn origins(origins: &mut __private::Origins);

    /// Adds this struct's fields, as the deploy tools ([`deploy`]) see them, to `specs`.
    /// `#[secret(flatten)]` calls it for the nested struct.
    #[doc(hidden)]
    fn field_specs(specs: &mut __private::FieldSpecs);

    #[doc(hidden)]
    fn cache() -> &'static __private::Cache<Self>;

    /// Loads the value into the cache with the global [`Provider`], or returns the cached value
    /// while it is fresh (a clock read and an atomic load). Concurrent callers share one fetch.
    /// After the TTL it awaits the refresh (a failed refresh keeps serving the last good value,
    /// up to `max_stale`).
    ///
    /// Call it at start-up; on Lambda, at the top of the handler, not at INIT: the extension
    /// answers only in the INVOKE phase, and a refresh awaited by an invocation cannot be cut
    /// by the freeze that follows it (see the README's "On Lambda").
    ///
    /// # Errors
    /// Any [`Error`] of the first load. A call during the backoff that follows a failure (1 s
    /// doubling, at most 30 s before the first value) returns the last error without fetching.
    fn load() -> impl Future<Output = Result<Snapshot<Self>, Error>> + Send {
        Self::cache().load(None)
    }

    /// Like [`load`](FromSecret::load), with `provider` for this and every later refresh of
    /// this struct. A struct keeps the provider of its first successful load: until then, a
    /// different provider replaces the one before (a corrected configuration is tried at once);
    /// after it, a different `Arc<Provider>` is an [`Error::Config`] (so keep the `Arc`, or
    /// [`install`](Provider::install) one and use `load()`).
    ///
    /// # Errors
    /// Any [`Error`] of the first load; [`Error::Config`] for another provider than the one
    /// the struct was loaded with. A call during the backoff that follows a failure (1 s
    /// doubling, at most 30 s before the first value) returns the last error without fetching.
    fn load_with(
        provider: Arc<Provider>,
    ) -> impl Future<Output = Result<Snapshot<Self>, Error>> + Send {
        Self::cache().load(Some(provider))
    }

    /// The cached value. While fresh: no lock, no I/O, no allocation. After the TTL it still
    /// returns the current value at once; the expiry timer (or this read, if the timer's runtime
    /// is gone) starts one background refresh on the current tokio runtime (outside a runtime,
    /// the next `load().await` refreshes). It never enforces `max_stale`. On Lambda, where the
    /// process is frozen between invocations, prefer [`load`](FromSecret::load) in the
    /// handler.
    ///
    /// # Panics
    /// If the struct was never loaded: call [`load`](FromSecret::load) at start-up, or use
    /// [`try_get`](FromSecret::try_get).
    #[must_use]
    #[inline]
    fn get() -> Snapshot<Self> {
        match Self::cache().try_get() {
            Some(snapshot) => snapshot,
            None => not_loaded::<Self>(),
        }
    }

    /// The cached value, or `None` before the first successful load.
    #[must_use]
    #[inline]
    fn try_get() -> Option<Snapshot<Self>> {
        Self::cache().try_get()
    }

    /// Fetches now, bypassing the TTL: after a rotation made the database reject the cached
    /// password. Concurrent calls share one fetch, and a call within the struct's
    /// `refresh_window` (default 1 s) after a completed fetch returns that fetch's value
    /// instead of fetching again. Through the extension it
    /// asks for `refreshNow=true`, so that the extension's own cache is bypassed too.
    ///
    /// # Errors
    /// Any [`Error`] of the fetch; the cache keeps its last good value.
    fn refresh_now() -> impl Future<Output = Result<Snapshot<Self>, Error>> + Send {
        Self::cache().refresh_now(None)
    }

    /// What this struct's cache has done: loads, hits, refreshes, failures, age and source.
    #[must_use]
    fn stats() -> Stats {
        Self::cache().stats()
    }

    /// Fetches and decodes a fresh value through `provider`, bypassing the cache (for tests,
    /// tools, and comparing stages).
    ///
    /// # Errors
    /// Any [`Error`] of the fetch or of decoding.
    fn fetch(provider: &Provider) -> impl Future<Output = Result<Self, Error>> + Send {
        load::fetch_value::<Self>(provider)
    }
}

/// The panic of `get()` before the first load, out of line so that `get()` inlines.
#[cold]
#[inline(never)]
fn not_loaded<T>() -> ! {
    panic!(
        "`{}` was read before it was loaded: call `load().await` at start-up",
        std::any::type_name::<T>()
    )
}

/// What generated code uses. Not public API: it changes without notice.
#[doc(hidden)]
pub mod __private {
    pub use crate::cache::Cache;
    pub use crate::load::fields::Fields;
    pub use crate::spec::{FieldSpec, FieldSpecs, Origin, Origins, SecretSpec};
    pub use crate::value::{
        Decoder, ViaFallback, ViaFromStr, ViaSecretValue, decode_json, decode_json_str,
        decode_with, decode_with_str,
    };
    pub use core::default::Default;
    pub use core::option::Option::{self, None, Some};
    pub use core::result::Result::{self, Err, Ok};
    pub use core::time::Duration;
    pub use serde_json::Value;
}

/// The README's examples, compiled as doctests so that they cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
pub struct ReadmeDoctests;
