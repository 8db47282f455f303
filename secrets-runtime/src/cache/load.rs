//! Where a cache's values come from: the load path (`crate::load`) through a provider, behind
//! a trait that the cache's unit tests fake.

use std::time::Duration;

use futures_util::future::BoxFuture;

use crate::load::Fetched;
use crate::{Error, FromSecret, Provider};

/// A source of values for a cache. `forced` bypasses the source's own cache (`refreshNow`).
pub(crate) trait Load<T>: Send + Sync {
    fn fetch(&self, forced: bool) -> BoxFuture<'_, Result<Fetched<T>, Error>>;

    /// The longest one fetch takes (of running time): a fetch that outlives it is stuck.
    fn bound(&self) -> Duration;
}

impl<T: FromSecret> Load<T> for Provider {
    fn fetch(&self, forced: bool) -> BoxFuture<'_, Result<Fetched<T>, Error>> {
        Box::pin(crate::load::fetch(self, forced))
    }

    fn bound(&self) -> Duration {
        self.load_bound()
    }
}
