//! The expiry timer: one live task per cache that marks the value due when it expires and
//! starts its refresh.

use tokio::task::AbortHandle;
use tokio::time::Instant;

use super::Cache;
use crate::FromSecret;

/// The live timer of a cache. A newer timer replaces it; the older one then does nothing.
pub(super) struct Timer {
    generation: u64,
    task: Option<AbortHandle>,
}

impl Timer {
    pub(super) const fn new() -> Self {
        Self {
            generation: 0,
            task: None,
        }
    }

    /// Retires the live timer (it does nothing when it fires) and returns the next generation.
    pub(super) fn retire(&mut self) -> u64 {
        self.generation += 1;
        self.generation
    }

    /// Whether `generation` is the live timer.
    pub(super) fn is_live(&self, generation: u64) -> bool {
        self.generation == generation
    }

    /// Keeps the task of the live timer, and aborts the one it replaces (which does nothing
    /// but free it: that timer is no longer live).
    fn replace(&mut self, task: AbortHandle) {
        if let Some(old) = self.task.replace(task) {
            old.abort();
        }
    }
}

/// Starts timer `generation` of `cache` on the current runtime: when `expires` comes, or if
/// the runtime shuts down first, it calls [`Cache::on_timer`] (so that the next read on another
/// runtime re-arms it there, or refreshes).
pub(super) fn start<T: FromSecret>(cache: &'static Cache<T>, expires: Instant, generation: u64) {
    let fire = Fire { cache, generation };
    let task = tokio::spawn(async move {
        let _fire = fire;
        tokio::time::sleep_until(expires).await;
    });
    let task = task.abort_handle();
    cache.with_state(|state| {
        if state.timer.is_live(generation) {
            state.timer.replace(task);
        } else {
            // A newer timer started meanwhile: this one would do nothing.
            task.abort();
        }
    });
}

/// Calls the cache when the timer's task ends, however it ends.
struct Fire<T: FromSecret> {
    cache: &'static Cache<T>,
    generation: u64,
}

impl<T: FromSecret> Drop for Fire<T> {
    fn drop(&mut self) {
        self.cache.on_timer(self.generation);
    }
}
