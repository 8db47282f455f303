//! Fetches of one item shared by the loads of one provider: two structs that read the same
//! secret (or parameter) at the same time make one request, and decode the same version.
//!
//! A load *leads* the items that nobody is fetching and *joins* the others. A leader hands each
//! item's result to its joiners as its fetch ends. Every load has one budget (the provider's
//! bound for a load, of running time), and so does every fetch it leads: a joiner whose leader
//! was dropped unfinished (its load was cancelled) or outlives its budget (its runtime is not
//! driven) leads or joins that item anew, within what is left of its own budget; a fetch past
//! its budget is never joined. A forced load (`refresh_now`) joins only forced fetches; a
//! plain load takes only the successes of a forced one (a forced request bypasses the
//! extension's cache, so it may fail where a plain one would not).

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::watch;

use super::Request;
use crate::Error;
use crate::clock::Deadline;
use crate::document::SecretPayload;

/// The result of one item's fetch, as its joiners receive it.
type Outcome = Result<SecretPayload, Error>;

/// The items being fetched through one provider.
#[derive(Default)]
pub(crate) struct Flights {
    running: Mutex<Vec<Arc<Flight>>>,
}

/// One item being fetched, and where its result goes.
struct Flight {
    request: Request,
    /// Part of a forced load.
    forced: bool,
    /// Its leader's budget: joined until then, forgotten after. (Shared with the joiners, who
    /// hold no strong reference to the flight: its sender must drop with its leader.)
    budget: Arc<Deadline>,
    /// `None` until the leader's fetch ends. The result stays here (a copy, wiped when
    /// dropped) until the last joiner has taken it.
    result: watch::Sender<Option<Outcome>>,
}

impl Flight {
    /// Whether a load (`forced` or not) may join this fetch for `request`.
    fn serves(&self, request: &Request, forced: bool) -> bool {
        self.request.same_item(request) && (self.forced || !forced)
    }
}

/// A request (by index) that joined a running fetch.
struct Joined {
    index: usize,
    flight: Weak<Flight>,
    /// The fetch is part of a forced load.
    forced: bool,
    /// The fetch's budget.
    budget: Arc<Deadline>,
    result: watch::Receiver<Option<Outcome>>,
}

/// How a wait for a joined fetch ended.
enum Waited {
    /// Its result.
    Result(Outcome),
    /// No result for this load: lead or join the item anew.
    Again,
    /// This load's budget ran out.
    OutOfBudget,
}

/// How one load shares fetches.
#[derive(Clone, Copy)]
pub(crate) struct Terms<'a> {
    /// A forced load (`refresh_now`).
    pub(crate) forced: bool,
    /// The longest the load takes, of running time.
    pub(crate) budget: Duration,
    /// The error of an item the load's budget ran out on.
    pub(crate) timed_out: &'a (dyn Fn(&Request, Duration) -> Error + Sync),
}

impl Flights {
    /// One result per request, in order: each item through `fetch` (in one call for all the
    /// items this load leads), or the result of a running fetch of the same item.
    pub(crate) async fn fetch<'r, F, Fut>(
        &self,
        requests: &'r [Request],
        terms: Terms<'_>,
        fetch: F,
    ) -> Vec<Outcome>
    where
        F: Fn(Vec<&'r Request>) -> Fut,
        Fut: Future<Output = Vec<Outcome>>,
    {
        // One deadline for the load and every fetch it leads: joiners of those fetches wait
        // no longer than it, and the led fetch runs under it, so that it notices a freeze.
        let budget = Arc::new(Deadline::after(terms.budget));
        let (lead, joined) = self.enter(requests.iter().enumerate(), terms, &budget);
        let (fetch, budget) = (&fetch, &budget);
        // Each led result goes to its joiners as soon as the fetch ends, not after this load's
        // own joins: a load that waited for ours would otherwise wait for theirs too.
        let leading = async move {
            let led: Vec<&Request> = lead.led.iter().map(|(i, _)| &requests[*i]).collect();
            if led.is_empty() {
                return Vec::new();
            }
            lead.run(fetch(led), budget, terms).await
        };
        let joining = futures_util::future::join_all(joined.into_iter().map(|joined| {
            let index = joined.index;
            async move {
                let result = self
                    .follow(&requests[index], joined, terms, budget, fetch)
                    .await;
                (index, result)
            }
        }));
        let (led, joined) = futures_util::future::join(leading, joining).await;
        let mut results: Vec<Option<Outcome>> = requests.iter().map(|_| None).collect();
        for (index, result) in led.into_iter().chain(joined) {
            results[index] = Some(result);
        }
        results
            .into_iter()
            .map(|result| result.expect("every request is led or joined"))
            .collect()
    }

    /// The result of a joined fetch; if there is none (its leader was dropped or is late, or
    /// it failed as a forced fetch that a plain load joined), the item is led or joined anew,
    /// within what is left of `budget`.
    async fn follow<'r, F, Fut>(
        &self,
        request: &'r Request,
        mut joined: Joined,
        terms: Terms<'_>,
        budget: &Arc<Deadline>,
        fetch: &F,
    ) -> Outcome
    where
        F: Fn(Vec<&'r Request>) -> Fut,
        Fut: Future<Output = Vec<Outcome>>,
    {
        loop {
            match self.wait(request, &mut joined, terms.forced, budget).await {
                Waited::Result(result) => return result,
                Waited::OutOfBudget => return Err((terms.timed_out)(request, terms.budget)),
                Waited::Again => {}
            }
            let (lead, mut again) =
                self.enter(std::iter::once((joined.index, request)), terms, budget);
            if let Some(next) = again.pop() {
                joined = next;
                continue;
            }
            // Led now: one request, under this load's budget.
            let mut results = lead.run(fetch(vec![request]), budget, terms).await;
            return results
                .pop()
                .map(|(_, result)| result)
                .unwrap_or_else(|| unreachable!("one item led"));
        }
    }

    /// Joins the running fetch of each request that has one, and leads the others. A running
    /// fetch past its budget is forgotten instead of joined (its runtime is not driven).
    fn enter<'r>(
        &self,
        requests: impl Iterator<Item = (usize, &'r Request)>,
        terms: Terms<'_>,
        budget: &Arc<Deadline>,
    ) -> (Lead<'_>, Vec<Joined>) {
        let mut lead = Lead {
            flights: self,
            led: Vec::new(),
        };
        let mut joined = Vec::new();
        let mut running = self.lock();
        running.retain(|flight| {
            let live = !flight.budget.remaining().is_zero();
            if !live {
                tracing::warn!(
                    item = %flight.request.item(),
                    "another load's fetch of this item outlived its budget (is its runtime \
                     still driven?); it is not joined"
                );
            }
            live
        });
        for (index, request) in requests {
            if let Some(flight) = running
                .iter()
                .find(|flight| flight.serves(request, terms.forced))
            {
                joined.push(Joined {
                    index,
                    flight: Arc::downgrade(flight),
                    forced: flight.forced,
                    budget: Arc::clone(&flight.budget),
                    result: flight.result.subscribe(),
                });
                continue;
            }
            let flight = Arc::new(Flight {
                request: request.clone(),
                forced: terms.forced,
                budget: Arc::clone(budget),
                result: watch::Sender::new(None),
            });
            running.push(Arc::clone(&flight));
            lead.led.push((index, flight));
        }
        (lead, joined)
    }

    /// The result of a joined fetch, within both its leader's budget and this load's
    /// (`budget`). `Again` when the item must be led or joined anew: its leader was dropped
    /// unfinished, its budget ran out (then it is forgotten, so that later loads do not wait
    /// for it either), or it is a forced fetch's failure and this load is not forced.
    async fn wait(
        &self,
        request: &Request,
        joined: &mut Joined,
        forced: bool,
        budget: &Deadline,
    ) -> Waited {
        let successes_only = joined.forced && !forced;
        let waited = budget
            .bound(
                Duration::ZERO,
                joined
                    .budget
                    .bound(Duration::ZERO, joined.result.wait_for(Option::is_some)),
            )
            .await
            .map(|inner| inner.map(|result| result.is_ok()));
        match waited {
            None => Waited::OutOfBudget,
            Some(Some(true)) => match take(&mut joined.result, request, successes_only) {
                Some(result) => Waited::Result(result),
                None => Waited::Again,
            },
            Some(Some(false)) => {
                tracing::debug!(item = %request.item(), "the load leading this item was dropped; fetching it anew");
                Waited::Again
            }
            Some(None) => {
                tracing::warn!(
                    item = %request.item(),
                    "another load's fetch of this item outlived its budget (is its runtime \
                     still driven?); fetching it anew"
                );
                self.forget(&joined.flight);
                Waited::Again
            }
        }
    }

    /// Removes `flight` from the running fetches, if it is still there.
    fn forget(&self, flight: &Weak<Flight>) {
        self.lock()
            .retain(|running| !std::ptr::eq(Arc::as_ptr(running), flight.as_ptr()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Arc<Flight>>> {
        // The list is consistent after any panic: every change is one push or one retain.
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Removes these fetches from the running ones: loads that come later fetch anew.
    fn remove(&self, led: &[(usize, Arc<Flight>)]) {
        self.lock()
            .retain(|running| !led.iter().any(|(_, flight)| Arc::ptr_eq(running, flight)));
    }
}

/// The result sent to `receiver`, if any; a failure only if `successes_only` is false.
fn take(
    receiver: &mut watch::Receiver<Option<Outcome>>,
    request: &Request,
    successes_only: bool,
) -> Option<Outcome> {
    let result = receiver.borrow_and_update().clone()?;
    if successes_only && result.is_err() {
        tracing::debug!(item = %request.item(), "a forced fetch of this item failed; fetching it plainly");
        return None;
    }
    tracing::debug!(item = %request.item(), "took the result of another load's fetch");
    Some(result)
}

/// The fetches one load leads. Dropped unfinished, it forgets them, and their joiners lead or
/// join anew.
struct Lead<'a> {
    flights: &'a Flights,
    led: Vec<(usize, Arc<Flight>)>,
}

impl Lead<'_> {
    /// Runs `fetch` (of the led items, in order) under `budget`, and hands its results over. If the budget runs out first, the led items are forgotten
    /// unfinished (their joiners lead or join anew, within their own budgets) and this load
    /// gets `TimedOut` for them.
    async fn run(
        self,
        fetch: impl Future<Output = Vec<Outcome>>,
        budget: &Deadline,
        terms: Terms<'_>,
    ) -> Vec<(usize, Outcome)> {
        if let Some(fetched) = budget.bound(Duration::ZERO, fetch).await {
            return self.finish(fetched);
        }
        let timed_out: Vec<(usize, Outcome)> = self
            .led
            .iter()
            .map(|(index, flight)| {
                (
                    *index,
                    Err((terms.timed_out)(&flight.request, terms.budget)),
                )
            })
            .collect();
        drop(self);
        timed_out
    }

    /// Hands each result to the joiners of its item, and returns it with its request's index.
    fn finish(mut self, fetched: Vec<Outcome>) -> Vec<(usize, Outcome)> {
        let led = std::mem::take(&mut self.led);
        self.flights.remove(&led);
        led.into_iter()
            .zip(fetched)
            .map(|((index, flight), result)| {
                // Removed above: nobody joins any more, so no joiner misses the result.
                if flight.result.receiver_count() > 0 {
                    flight.result.send_replace(Some(result.clone()));
                }
                (index, result)
            })
            .collect()
    }
}

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        if !self.led.is_empty() {
            self.flights.remove(&self.led);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use secrecy::zeroize::Zeroizing;
    use tokio::sync::Semaphore;

    use super::*;
    use crate::SourceKind;
    use crate::backend::SecretRequest;
    use crate::document::RawValue;

    const PATIENCE: Duration = Duration::from_secs(10);

    fn timed_out(request: &Request, after: Duration) -> Error {
        Error::TimedOut {
            item: request.item(),
            via: SourceKind::Extension,
            after,
        }
    }

    fn plain() -> Terms<'static> {
        Terms {
            forced: false,
            budget: PATIENCE,
            timed_out: &timed_out,
        }
    }

    fn forced() -> Terms<'static> {
        Terms {
            forced: true,
            ..plain()
        }
    }

    fn secret(name: &str, forced: bool) -> Request {
        Request::Secret(SecretRequest {
            name: name.into(),
            version_stage: None,
            version_id: None,
            refresh_now: forced,
        })
    }

    fn payload(text: &str) -> SecretPayload {
        SecretPayload {
            value: RawValue::String(Zeroizing::new(text.into())),
            version_id: Some(text.into()),
            via: SourceKind::Extension,
        }
    }

    fn version(result: &Outcome) -> &str {
        result
            .as_ref()
            .expect("fetched")
            .version_id
            .as_deref()
            .expect("a version")
    }

    /// A source that counts requests per item and answers each when the gate lets it, with the
    /// item's name and the number of its request (`a#1`); names in `failing` fail (throttled).
    struct Source {
        gate: Semaphore,
        requests: Mutex<Vec<String>>,
        failing: Mutex<Vec<String>>,
    }

    impl Default for Source {
        fn default() -> Self {
            Self {
                gate: Semaphore::new(0),
                requests: Mutex::default(),
                failing: Mutex::default(),
            }
        }
    }

    impl Source {
        async fn fetch(&self, requests: Vec<&Request>) -> Vec<Outcome> {
            let names: Vec<String> = requests.iter().map(|r| r.item().name().into()).collect();
            let numbers: Vec<usize> = {
                let mut seen = self.requests.lock().unwrap();
                names
                    .iter()
                    .map(|name| {
                        seen.push(name.clone());
                        seen.iter().filter(|n| *n == name).count()
                    })
                    .collect()
            };
            self.gate.acquire().await.expect("gate open").forget();
            let failing = self.failing.lock().unwrap().clone();
            requests
                .iter()
                .zip(names.iter().zip(numbers))
                .map(|(request, (name, n))| {
                    if failing.contains(name) {
                        Err(Error::Throttled {
                            item: request.item(),
                            via: SourceKind::Extension,
                        })
                    } else {
                        Ok(payload(&format!("{name}#{n}")))
                    }
                })
                .collect()
        }

        fn requests(&self) -> Vec<String> {
            self.requests.lock().unwrap().clone()
        }
    }

    /// Polls `future` once: loads register their fetches in their first poll.
    fn poll_once<F: Future>(future: std::pin::Pin<&mut F>) -> Poll<F::Output> {
        future.poll(&mut Context::from_waker(Waker::noop()))
    }

    #[tokio::test]
    async fn loads_of_the_same_item_at_once_share_one_fetch() {
        let flights = Flights::default();
        let source = Source::default();
        let first = [secret("a", false), secret("b", false)];
        let second = [secret("b", false), secret("c", false)];
        let mut one = pin!(flights.fetch(&first, plain(), |r| source.fetch(r)));
        let mut two = pin!(flights.fetch(&second, plain(), |r| source.fetch(r)));
        assert!(poll_once(one.as_mut()).is_pending());
        assert!(poll_once(two.as_mut()).is_pending());
        // Enough for b to be fetched twice, so that a regression fails rather than hangs.
        source.gate.add_permits(3);
        let (one, two) = tokio::join!(one, two);
        assert_eq!(source.requests(), ["a", "b", "c"], "b is fetched once");
        assert_eq!(one.iter().map(version).collect::<Vec<_>>(), ["a#1", "b#1"]);
        assert_eq!(two.iter().map(version).collect::<Vec<_>>(), ["b#1", "c#1"]);
        assert!(flights.lock().is_empty(), "finished fetches are forgotten");
        // Later loads fetch anew.
        source.gate.add_permits(1);
        let three = flights
            .fetch(&second[..1], plain(), |r| source.fetch(r))
            .await;
        assert_eq!(version(&three[0]), "b#2");
    }

    #[tokio::test]
    async fn errors_are_shared_too() {
        let flights = Flights::default();
        let source = Source::default();
        source.failing.lock().unwrap().push("a".into());
        let requests = [secret("a", false)];
        let mut one = pin!(flights.fetch(&requests, plain(), |r| source.fetch(r)));
        let mut two = pin!(flights.fetch(&requests, plain(), |r| source.fetch(r)));
        assert!(poll_once(one.as_mut()).is_pending());
        assert!(poll_once(two.as_mut()).is_pending());
        source.gate.add_permits(2);
        let (one, two) = tokio::join!(one, two);
        assert_eq!(source.requests(), ["a"]);
        for result in [&one[0], &two[0]] {
            assert!(matches!(result, Err(Error::Throttled { .. })), "{result:?}");
        }
    }

    #[tokio::test]
    async fn a_forced_load_does_not_take_a_plain_fetchs_result_not_even_a_parameters() {
        let flights = Flights::default();
        let source = Source::default();
        let items = [secret("a", false), Request::Parameter("p".into())];
        let forced_items = [secret("a", true), Request::Parameter("p".into())];
        // A forced load runs beside a plain one...
        let mut one = pin!(flights.fetch(&items, plain(), |r| source.fetch(r)));
        let mut two = pin!(flights.fetch(&forced_items, forced(), |r| source.fetch(r)));
        // ...and a plain one may take a forced one's result (the first that serves it: here
        // the plain one, registered first).
        let mut three = pin!(flights.fetch(&items, plain(), |r| source.fetch(r)));
        assert!(poll_once(one.as_mut()).is_pending());
        assert!(poll_once(two.as_mut()).is_pending());
        assert!(poll_once(three.as_mut()).is_pending());
        source.gate.add_permits(3);
        let (one, two, three) = tokio::join!(one, two, three);
        assert_eq!(source.requests(), ["a", "p", "a", "p"]);
        assert_eq!(one.iter().map(version).collect::<Vec<_>>(), ["a#1", "p#1"]);
        assert_eq!(two.iter().map(version).collect::<Vec<_>>(), ["a#2", "p#2"]);
        assert_eq!(
            three.iter().map(version).collect::<Vec<_>>(),
            ["a#1", "p#1"]
        );
    }

    #[tokio::test]
    async fn a_plain_load_takes_only_the_successes_of_a_forced_fetch() {
        let flights = Flights::default();
        let source = Source::default();
        let items = [secret("a", false)];
        let forced_items = [secret("a", true)];
        let mut refresh = pin!(flights.fetch(&forced_items, forced(), |r| source.fetch(r)));
        let mut load = pin!(flights.fetch(&items, plain(), |r| source.fetch(r)));
        assert!(poll_once(refresh.as_mut()).is_pending());
        assert!(poll_once(load.as_mut()).is_pending());
        // The forced request fails (the extension's cache bypassed, the service throttles).
        source.failing.lock().unwrap().push("a".into());
        source.gate.add_permits(1);
        let refreshed = refresh.await;
        assert!(matches!(&refreshed[0], Err(Error::Throttled { .. })));
        // The plain load fetches on its own.
        source.failing.lock().unwrap().clear();
        source.gate.add_permits(1);
        let loaded = load.await;
        assert_eq!(version(&loaded[0]), "a#2");
        assert_eq!(source.requests(), ["a", "a"]);
    }

    #[tokio::test]
    async fn the_joiners_of_a_cancelled_leader_share_a_new_fetch() {
        let flights = Flights::default();
        let source = Source::default();
        let requests = [secret("a", false)];
        let mut one = pin!(flights.fetch(&requests, plain(), |r| source.fetch(r)));
        let mut two = pin!(flights.fetch(&requests, plain(), |r| source.fetch(r)));
        {
            let mut leader = pin!(flights.fetch(&requests, plain(), |r| source.fetch(r)));
            assert!(poll_once(leader.as_mut()).is_pending());
            assert!(poll_once(one.as_mut()).is_pending());
            assert!(poll_once(two.as_mut()).is_pending());
        } // The leader's load is dropped, its fetch unfinished.
        // The first joiner to notice leads anew, the other joins it.
        assert!(poll_once(one.as_mut()).is_pending());
        assert!(poll_once(two.as_mut()).is_pending());
        // Enough for a third fetch, so that a regression fails rather than hangs.
        source.gate.add_permits(2);
        let (one, two) = tokio::join!(one, two);
        assert_eq!(source.requests(), ["a", "a"]);
        assert_eq!(version(&one[0]), "a#2");
        assert_eq!(version(&two[0]), "a#2");
    }

    #[tokio::test]
    async fn a_leader_hands_its_results_over_before_its_own_joins_end() {
        let flights = Flights::default();
        let source = Source::default();
        let (x, y) = (secret("x", false), secret("y", false));
        let (only_x, only_y, both) = ([x.clone()], [y.clone()], [x, y]);
        // A load whose fetch of y is not done...
        let mut slow = pin!(flights.fetch(&only_y, plain(), |_| std::future::pending()));
        // ...joined by one that leads x, which a third joins.
        let mut leader = pin!(flights.fetch(&both, plain(), |r| source.fetch(r)));
        let mut joiner = pin!(flights.fetch(&only_x, plain(), |r| source.fetch(r)));
        assert!(poll_once(slow.as_mut()).is_pending());
        assert!(poll_once(leader.as_mut()).is_pending());
        assert!(poll_once(joiner.as_mut()).is_pending());
        source.gate.add_permits(3);
        // x reaches the third load while the leader still waits for y.
        let results = tokio::select! {
            results = joiner => results,
            _ = leader => panic!("the leader finished though y never came"),
        };
        assert_eq!(version(&results[0]), "x#1");
    }

    #[tokio::test(start_paused = true)]
    async fn a_joiner_of_a_stuck_leader_stops_at_its_budget_and_the_next_load_leads() {
        let flights = Flights::default();
        let source = Source::default();
        let requests = [secret("a", false)];
        // The leader's runtime is never driven again: here, its future is never polled again.
        let mut stuck = pin!(flights.fetch(&requests, plain(), |r| source.fetch(r)));
        assert!(poll_once(stuck.as_mut()).is_pending());
        // One permit goes to the stuck fetch, queued first.
        source.gate.add_permits(3);
        let started = tokio::time::Instant::now();
        let results = flights.fetch(&requests, plain(), |r| source.fetch(r)).await;
        assert!(
            matches!(&results[0], Err(Error::TimedOut { after, .. }) if *after == PATIENCE),
            "{results:?}"
        );
        assert_eq!(
            started.elapsed(),
            PATIENCE,
            "it joined, and waited its whole budget"
        );
        // Forgotten: the next load does not wait for it.
        let started = tokio::time::Instant::now();
        let results = flights.fetch(&requests, plain(), |r| source.fetch(r)).await;
        assert_eq!(version(&results[0]), "a#2");
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_joiner_never_waits_past_its_own_budget() {
        let flights = Flights::default();
        let source = Source::default();
        let requests = [secret("a", false)];
        let mut joiner = pin!(flights.fetch(&requests, plain(), |r| source.fetch(r)));
        {
            let mut leader = pin!(flights.fetch(&requests, plain(), |r| source.fetch(r)));
            assert!(poll_once(leader.as_mut()).is_pending());
            assert!(poll_once(joiner.as_mut()).is_pending());
            // Both run (their timers fire on time: no freeze) for half the budget.
            tokio::select! {
                () = tokio::time::sleep(PATIENCE / 2) => {}
                _ = leader.as_mut() => unreachable!("the gate is closed"),
                _ = joiner.as_mut() => unreachable!("its leader has not answered"),
            }
        } // Cancelled half-way through the joiner's budget.
        // Another load leads the item now, with a budget that ends later than the joiner's.
        let mut later = pin!(flights.fetch(&requests, plain(), |r| source.fetch(r)));
        assert!(poll_once(later.as_mut()).is_pending());
        let started = tokio::time::Instant::now();
        let results = joiner.await;
        assert!(
            matches!(&results[0], Err(Error::TimedOut { .. })),
            "{results:?}"
        );
        assert_eq!(
            started.elapsed(),
            PATIENCE / 2,
            "the rest of its own budget"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_leader_cut_by_its_budget_leaves_its_item_to_its_joiners() {
        let flights = Flights::default();
        let source = Source::default();
        let requests = [secret("a", false)];
        let mut first = pin!(flights.fetch(&requests, plain(), |r| source.fetch(r)));
        {
            let mut leader = pin!(flights.fetch(&requests, plain(), |r| source.fetch(r)));
            assert!(poll_once(leader.as_mut()).is_pending());
            assert!(poll_once(first.as_mut()).is_pending());
            tokio::select! {
                () = tokio::time::sleep(PATIENCE - Duration::from_secs(1)) => {}
                _ = leader.as_mut() => unreachable!("the gate is closed"),
                _ = first.as_mut() => unreachable!("its leader has not answered"),
            }
        }
        // The first joiner leads anew, with a second of its budget left; a new load joins it.
        let started = tokio::time::Instant::now();
        assert!(poll_once(first.as_mut()).is_pending());
        let mut second = pin!(flights.fetch(&requests, plain(), |r| source.fetch(r)));
        assert!(poll_once(second.as_mut()).is_pending());
        let results = first.await;
        assert!(
            matches!(&results[0], Err(Error::TimedOut { .. })),
            "{results:?}"
        );
        assert_eq!(
            started.elapsed(),
            Duration::from_secs(1),
            "what was left of its budget"
        );
        // The second does not inherit that timeout: it leads the item itself.
        source.gate.add_permits(3);
        let results = second.await;
        assert_eq!(version(&results[0]), "a#3");
    }

    #[tokio::test(start_paused = true)]
    async fn a_freeze_during_a_lead_does_not_expire_it() {
        let flights = Flights::default();
        let source = Source::default();
        let requests = [secret("a", false)];
        let mut leader = pin!(flights.fetch(&requests, plain(), |r| source.fetch(r)));
        assert!(poll_once(leader.as_mut()).is_pending());
        // Frozen for longer than the budget; the leader runs again at the thaw.
        tokio::time::advance(PATIENCE * 2).await;
        assert!(poll_once(leader.as_mut()).is_pending());
        let mut joiner = pin!(flights.fetch(&requests, plain(), |r| source.fetch(r)));
        assert!(poll_once(joiner.as_mut()).is_pending());
        source.gate.add_permits(2);
        let (leader, joiner) = tokio::join!(leader, joiner);
        assert_eq!(source.requests(), ["a"], "joined, not fetched again");
        assert_eq!(version(&leader[0]), "a#1");
        assert_eq!(version(&joiner[0]), "a#1");
    }

    #[tokio::test(start_paused = true)]
    async fn a_fetch_past_its_budget_is_not_joined() {
        let flights = Flights::default();
        let source = Source::default();
        let requests = [secret("a", false)];
        let mut stuck = pin!(flights.fetch(&requests, plain(), |r| source.fetch(r)));
        assert!(poll_once(stuck.as_mut()).is_pending());
        source.gate.add_permits(2);
        tokio::time::advance(PATIENCE).await;
        let started = tokio::time::Instant::now();
        let results = flights.fetch(&requests, plain(), |r| source.fetch(r)).await;
        assert_eq!(version(&results[0]), "a#2");
        assert_eq!(started.elapsed(), Duration::ZERO, "led at once");
    }
}
