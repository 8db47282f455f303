//! Timeouts and deadlines that count only the time the process ran.
//!
//! Lambda stops the whole execution environment between invocations (the function and its
//! extensions), while the monotonic clock runs on. A request to the extension that is in
//! flight when the environment freezes carries on at the next thaw; but a timer that fell due
//! during the freeze fires at once, so a plain timeout would call that request timed out, and a
//! plain deadline would stop retrying, though the process spent none of that time running.
//! When invocations are shorter than the extension's round trip, a request needs several
//! thaws to complete.
//!
//! So the waits here measure time in ticks of at most [`TICK`]: a tick counts for its own
//! length however late it fires; the next one follows it, or, when it fired more than [`LATE`]
//! late, is measured from when it fired. A freeze therefore costs a wait at most one tick,
//! and a wait with nothing frozen ends on time (within timer rounding). A
//! [`Deadline`] shared by the requests of one load moves later by the time its ticks were
//! late, counting each stretch of lateness once.
//!
//! All times are tokio's, so a test with a paused clock drives them.

use std::future::Future;
use std::pin::pin;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use futures_util::future::{Either, select};
use tokio::time::{Instant, sleep_until};

/// The longest stretch a wait sleeps before counting what has passed: what one freeze can cost
/// a wait.
const TICK: Duration = Duration::from_millis(10);
/// A tick that fires later than this was not run when it was due: the process was stopped (or
/// starved of CPU), and a deadline moves by the lateness.
const LATE: Duration = Duration::from_millis(5);
/// How much longer than its bound a fetch started by another caller is awaited: one that takes
/// longer runs on a runtime that is no longer driven, and the caller fetches on its own.
pub(crate) const JOIN_MARGIN: Duration = Duration::from_secs(1);

/// Runs `future` for at most `limit` of running time (see the module docs). `None` when that
/// ran out.
pub(crate) async fn timeout<F: Future>(limit: Duration, future: F) -> Option<F::Output> {
    ticking(limit, future, |_, _| {}).await
}

/// The tick loop of [`timeout`]; `late(due, woke)` hears of every tick.
async fn ticking<F: Future>(
    limit: Duration,
    future: F,
    late: impl Fn(Instant, Instant),
) -> Option<F::Output> {
    let mut future = pin!(future);
    let mut left = limit;
    let mut from = Instant::now();
    loop {
        let step = left.min(TICK);
        let due = from + step;
        let output = first(future.as_mut(), due).await;
        let woke = Instant::now();
        // Heard even when the future won: a freeze that ended as its answer came is counted.
        late(due, woke);
        if output.is_some() {
            return output;
        }
        left -= step;
        if left.is_zero() {
            return None;
        }
        // On time (within timer rounding): the next tick follows this one, so that no time
        // is lost; late: it is measured from the wake-up, so that the freeze is not counted.
        from = if woke.saturating_duration_since(due) <= LATE {
            due
        } else {
            woke
        };
    }
}

/// The end of one load's retries, shared by all of its requests. It moves later by the time
/// the process spent frozen, as its waits notice it.
#[derive(Debug)]
pub(crate) struct Deadline {
    /// When it was set: what a load that gave up at it waited is counted from here.
    started: Instant,
    state: Mutex<DeadlineState>,
}

#[derive(Debug)]
struct DeadlineState {
    at: Instant,
    /// The end of the latest stretch of lateness counted, so that several waits noticing one
    /// freeze move the deadline once.
    counted_until: Instant,
}

impl Deadline {
    /// A deadline `budget` from now (saturating: `Duration::MAX` never ends).
    pub(crate) fn after(budget: Duration) -> Self {
        let now = Instant::now();
        Self {
            started: now,
            state: Mutex::new(DeadlineState {
                at: far(now, budget),
                counted_until: now,
            }),
        }
    }

    /// The time since it was set (wall clock, freezes included).
    pub(crate) fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// What is left of it.
    pub(crate) fn remaining(&self) -> Duration {
        self.lock().at.saturating_duration_since(Instant::now())
    }

    /// A tick due at `due` fired at `woke`: if it was late, the deadline moves by the part of
    /// the lateness not counted yet.
    pub(crate) fn notice(&self, due: Instant, woke: Instant) {
        if woke.saturating_duration_since(due) <= LATE {
            return;
        }
        let mut state = self.lock();
        let from = due.max(state.counted_until);
        if woke > from {
            state.at = far(state.at, woke - from);
            state.counted_until = woke;
        }
    }

    /// Runs `future` for at most `limit` of running time (as [`timeout`]), telling this
    /// deadline of the time the process spent frozen.
    pub(crate) async fn timeout<F: Future>(&self, limit: Duration, future: F) -> Option<F::Output> {
        ticking(limit, future, |due, woke| self.notice(due, woke)).await
    }

    /// Before another try: waits `pause` (of running time), but not past the deadline, so
    /// that the last try is made at the deadline. Returns `false`, without waiting, once the
    /// deadline has passed.
    pub(crate) async fn pause(&self, pause: Duration) -> bool {
        let remaining = self.remaining();
        if remaining.is_zero() {
            return false;
        }
        self.timeout(pause.min(remaining), std::future::pending::<()>())
            .await;
        true
    }

    /// Runs `future` until the deadline plus `grace`, following the deadline as it moves.
    /// `None` when that time ran out.
    pub(crate) async fn bound<F: Future>(&self, grace: Duration, future: F) -> Option<F::Output> {
        let mut future = pin!(future);
        loop {
            let left = far(self.lock().at, grace).saturating_duration_since(Instant::now());
            if left.is_zero() {
                return None;
            }
            let due = Instant::now() + left.min(TICK);
            let output = first(future.as_mut(), due).await;
            self.notice(due, Instant::now());
            if output.is_some() {
                return output;
            }
        }
    }

    fn lock(&self) -> MutexGuard<'_, DeadlineState> {
        // Two plain fields, always written together: a panic cannot leave them torn.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The output of `future` if it is ready before `due`, else `None` at `due`.
async fn first<F: Future>(future: std::pin::Pin<&mut F>, due: Instant) -> Option<F::Output> {
    match select(future, pin!(sleep_until(due))).await {
        Either::Left((output, _)) => Some(output),
        Either::Right(_) => None,
    }
}

/// `from + by`, or a time so far away that it never comes when that overflows.
fn far(from: Instant, by: Duration) -> Instant {
    from.checked_add(by)
        .unwrap_or_else(|| from + Duration::from_secs(100 * 365 * 24 * 3600))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Stands for a freeze under a paused clock: time jumps while nothing of ours runs.
    async fn freeze(for_: Duration) {
        tokio::time::advance(for_).await;
    }

    #[tokio::test(start_paused = true)]
    async fn a_timeout_ends_on_time_when_nothing_is_frozen() {
        let started = Instant::now();
        let out = timeout(Duration::from_secs(3), std::future::pending::<()>()).await;
        assert!(out.is_none());
        assert_eq!(Instant::now() - started, Duration::from_secs(3));
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_answered_after_many_thaws_is_not_timed_out() {
        // A round trip that needs 50 thaws, each after a minute frozen.
        let many_thaws = async {
            for _ in 0..50 {
                freeze(Duration::from_secs(60)).await;
            }
            "answer"
        };
        assert_eq!(
            timeout(Duration::from_secs(3), many_thaws).await,
            Some("answer")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_timeout_still_ends_when_freezes_never_stop() {
        let freezing = async {
            loop {
                freeze(Duration::from_secs(60)).await;
            }
        };
        // Each freeze costs at most a tick: 3 s of ticks, then the end.
        assert!(timeout(Duration::from_secs(3), freezing).await.is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_moves_by_the_frozen_time_once() {
        let deadline = Deadline::after(Duration::from_secs(2));
        let start = Instant::now();
        let due = start + TICK;
        let woke = start + Duration::from_secs(600);
        deadline.notice(due, woke);
        assert_eq!(deadline.remaining(), Duration::from_secs(602) - TICK);
        // Another wait noticing the same freeze does not move it again.
        deadline.notice(start + TICK * 2, woke);
        assert_eq!(deadline.remaining(), Duration::from_secs(602) - TICK);
        // A tick that fired on time is no freeze.
        deadline.notice(woke, woke + Duration::from_millis(1));
        assert_eq!(deadline.remaining(), Duration::from_secs(602) - TICK);
    }

    #[tokio::test(start_paused = true)]
    async fn a_freeze_that_ends_as_the_answer_comes_still_moves_the_deadline() {
        let deadline = Deadline::after(Duration::from_secs(2));
        // Frozen for ten minutes; the answer is there at the thaw.
        let answer = deadline
            .timeout(Duration::from_secs(3), async {
                freeze(Duration::from_secs(600)).await;
                "not ready"
            })
            .await;
        assert_eq!(answer, Some("not ready"));
        assert!(
            deadline.remaining() >= Duration::from_secs(2) - TICK,
            "{:?} left to retry",
            deadline.remaining()
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_last_try_is_at_the_deadline_and_huge_budgets_saturate() {
        let deadline = Deadline::after(Duration::from_millis(100));
        let started = Instant::now();
        assert!(
            deadline.pause(Duration::from_secs(5)).await,
            "one more try, at the deadline"
        );
        assert_eq!(Instant::now() - started, Duration::from_millis(100));
        assert!(
            !deadline.pause(Duration::from_secs(5)).await,
            "then no more"
        );
        assert_eq!(Instant::now() - started, Duration::from_millis(100));
        let forever = Deadline::after(Duration::MAX);
        assert!(forever.remaining() > Duration::from_secs(3600));
        assert!(forever.pause(Duration::from_millis(1)).await);
    }

    #[tokio::test(start_paused = true)]
    async fn bound_follows_a_deadline_moved_by_a_freeze() {
        let deadline = Deadline::after(Duration::from_secs(2));
        let started = Instant::now();
        let bounded = deadline.bound(Duration::from_secs(3), async {
            freeze(Duration::from_secs(600)).await;
            std::future::pending::<()>().await;
        });
        assert!(bounded.await.is_none());
        // Ran out 5 s of running time after the start, the freeze not counted (less the one
        // tick of the freeze that counted as running).
        let took = Instant::now() - started;
        assert!(
            (Duration::from_secs(605) - TICK..=Duration::from_secs(605)).contains(&took),
            "{took:?}"
        );
    }
}
