//! Fetches of one item shared by the loads of one provider: two structs that read the same
//! secret (or parameter) at the same time make one request, and decode the same version.
//!
//! A load *leads* the items that nobody is fetching and *joins* the others. A leader publishes
//! each item's result to its joiners as its fetch ends. A joiner whose leader was dropped
//! unfinished (its load was cancelled), or that does not finish within its provider's bound and
//! a margin (its runtime is not driven), fetches the item itself.

use std::future::Future;
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use tokio::sync::watch;

use super::Request;
use crate::Error;
use crate::document::SecretPayload;

/// The result of one item's fetch, as its joiners receive it.
type Outcome = Result<SecretPayload, Error>;

/// A request (by index) that joined a running fetch, and where that fetch's result comes.
type Joined = (usize, Weak<Flight>, watch::Receiver<Option<Outcome>>);

/// The items being fetched through one provider.
#[derive(Default)]
pub(crate) struct Flights {
    running: Mutex<Vec<Arc<Flight>>>,
}

/// One item being fetched, and where its result goes.
struct Flight {
    request: Request,
    /// `None` until the leader's fetch ends; dropped unsent if the leader is.
    result: watch::Sender<Option<Outcome>>,
}

impl Flight {
    /// Whether `request` may take this fetch's result: the same item, and not a forced
    /// refresh joining a plain fetch (the extension may answer that from its own cache).
    fn serves(&self, request: &Request) -> bool {
        self.request.same_item(request) && (self.request.is_forced() || !request.is_forced())
    }
}

impl Flights {
    /// One result per request, in order: each item through `fetch` (in one call for all the
    /// items this load leads), or the result of a running fetch of the same item. A joiner waits
    /// at most `patience` (of running time) for it.
    pub(crate) async fn fetch<'r, F, Fut>(
        &self,
        requests: &'r [Request],
        patience: Duration,
        fetch: F,
    ) -> Vec<Outcome>
    where
        F: Fn(Vec<&'r Request>) -> Fut,
        Fut: Future<Output = Vec<Outcome>>,
    {
        let (lead, joined) = self.enter(requests);
        let fetch = &fetch;
        // Each led result goes to its joiners as soon as the fetch ends, not after this load's
        // own joins: a load that waited for ours would otherwise wait for theirs too.
        let leading = async move {
            let led: Vec<&Request> = lead.led.iter().map(|(i, _)| &requests[*i]).collect();
            let fetched = if led.is_empty() {
                Vec::new()
            } else {
                fetch(led).await
            };
            lead.finish(fetched)
        };
        let joining = futures_util::future::join_all(joined.into_iter().map(
            |(index, flight, receiver)| async move {
                let request = &requests[index];
                let result = match self.wait(request, flight, receiver, patience).await {
                    Some(result) => result,
                    // Rare (a cancelled or stuck leader): one request, not batched.
                    None => fetch(vec![request])
                        .await
                        .pop()
                        .unwrap_or_else(|| unreachable!("a fetch returns one result per request")),
                };
                (index, result)
            },
        ));
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

    /// Joins the running fetch of each request that has one, and leads the others.
    fn enter(&self, requests: &[Request]) -> (Lead<'_>, Vec<Joined>) {
        let mut lead = Lead {
            flights: self,
            led: Vec::new(),
        };
        let mut joined = Vec::new();
        let mut running = self.lock();
        for (index, request) in requests.iter().enumerate() {
            if let Some(flight) = running.iter().find(|flight| flight.serves(request)) {
                joined.push((index, Arc::downgrade(flight), flight.result.subscribe()));
                continue;
            }
            let flight = Arc::new(Flight {
                request: request.clone(),
                result: watch::Sender::new(None),
            });
            running.push(Arc::clone(&flight));
            lead.led.push((index, flight));
        }
        (lead, joined)
    }

    /// The result of `flight`, or `None` if the caller should fetch it itself: its leader was
    /// dropped unfinished, or took longer than `patience` (then it is forgotten, so that later
    /// loads do not wait for it either).
    async fn wait(
        &self,
        request: &Request,
        flight: Weak<Flight>,
        mut receiver: watch::Receiver<Option<Outcome>>,
        patience: Duration,
    ) -> Option<Outcome> {
        let result = crate::clock::timeout(patience, async {
            let result = receiver.wait_for(Option::is_some).await;
            result.ok().and_then(|result| result.clone())
        })
        .await;
        match result {
            Some(Some(result)) => {
                tracing::debug!(item = %request.item(), "took the result of another load's fetch");
                Some(result)
            }
            Some(None) => None,
            None => {
                tracing::warn!(
                    item = %request.item(),
                    waited_ms = patience.as_millis(),
                    "another load's fetch of this item did not complete in time (is its runtime \
                     still driven?); fetching it again"
                );
                self.forget(&flight);
                None
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
}

/// The fetches one load leads. Dropped unfinished, it forgets them, and their joiners fetch on
/// their own.
struct Lead<'a> {
    flights: &'a Flights,
    led: Vec<(usize, Arc<Flight>)>,
}

impl Lead<'_> {
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

impl Flights {
    /// Removes these fetches from the running ones: loads that come later fetch anew.
    fn remove(&self, led: &[(usize, Arc<Flight>)]) {
        self.lock()
            .retain(|running| !led.iter().any(|(_, flight)| Arc::ptr_eq(running, flight)));
    }
}

#[cfg(test)]
mod tests {
    use std::pin::pin;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::{Context, Poll, Waker};

    use secrecy::zeroize::Zeroizing;
    use tokio::sync::Semaphore;

    use super::*;
    use crate::SourceKind;
    use crate::backend::SecretRequest;
    use crate::document::RawValue;

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
    /// item's name and the number of its request (`a#1`).
    struct Source {
        gate: Semaphore,
        requests: Mutex<Vec<String>>,
    }

    impl Default for Source {
        fn default() -> Self {
            Self {
                gate: Semaphore::new(0),
                requests: Mutex::default(),
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
            names
                .iter()
                .zip(numbers)
                .map(|(name, n)| Ok(payload(&format!("{name}#{n}"))))
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

    const PATIENCE: Duration = Duration::from_secs(10);

    #[tokio::test]
    async fn loads_of_the_same_item_at_once_share_one_fetch() {
        let flights = Flights::default();
        let source = Source::default();
        let first = [secret("a", false), secret("b", false)];
        let second = [secret("b", false), secret("c", false)];
        let mut one = pin!(flights.fetch(&first, PATIENCE, |r| source.fetch(r)));
        let mut two = pin!(flights.fetch(&second, PATIENCE, |r| source.fetch(r)));
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
            .fetch(&second[..1], PATIENCE, |r| source.fetch(r))
            .await;
        assert_eq!(version(&three[0]), "b#2");
    }

    #[tokio::test]
    async fn errors_are_shared_too() {
        let flights = Flights::default();
        let requests = [secret("a", false)];
        let gate = Semaphore::new(0);
        let calls = AtomicUsize::new(0);
        let failing = |requests: Vec<&Request>| {
            calls.fetch_add(1, Ordering::Relaxed);
            let errors: Vec<Outcome> = requests
                .iter()
                .map(|r| {
                    Err(Error::Throttled {
                        item: r.item(),
                        via: SourceKind::Extension,
                    })
                })
                .collect();
            let gate = &gate;
            async move {
                gate.acquire().await.expect("gate open").forget();
                errors
            }
        };
        let mut one = pin!(flights.fetch(&requests, PATIENCE, failing));
        let mut two = pin!(flights.fetch(&requests, PATIENCE, failing));
        assert!(poll_once(one.as_mut()).is_pending());
        assert!(poll_once(two.as_mut()).is_pending());
        gate.add_permits(2);
        let (one, two) = tokio::join!(one, two);
        assert_eq!(calls.load(Ordering::Relaxed), 1);
        for result in [&one[0], &two[0]] {
            assert!(matches!(result, Err(Error::Throttled { .. })), "{result:?}");
        }
    }

    #[tokio::test]
    async fn a_forced_fetch_does_not_take_a_plain_fetchs_result() {
        let flights = Flights::default();
        let source = Source::default();
        let plain = [secret("a", false)];
        let forced = [secret("a", true)];
        // A forced fetch runs beside a plain one...
        let mut one = pin!(flights.fetch(&plain, PATIENCE, |r| source.fetch(r)));
        let mut two = pin!(flights.fetch(&forced, PATIENCE, |r| source.fetch(r)));
        // ...and a plain one may take a forced one's result.
        let mut three = pin!(flights.fetch(&plain, PATIENCE, |r| source.fetch(r)));
        assert!(poll_once(one.as_mut()).is_pending());
        assert!(poll_once(two.as_mut()).is_pending());
        assert!(poll_once(three.as_mut()).is_pending());
        source.gate.add_permits(3);
        let (one, two, three) = tokio::join!(one, two, three);
        assert_eq!(source.requests(), ["a", "a"]);
        assert_eq!(version(&one[0]), "a#1");
        assert_eq!(version(&two[0]), "a#2");
        // The first flight that serves it: the plain one, registered first.
        assert_eq!(version(&three[0]), "a#1");
    }

    #[tokio::test]
    async fn a_cancelled_leaders_joiners_fetch_on_their_own() {
        let flights = Flights::default();
        let source = Source::default();
        let requests = [secret("a", false)];
        let mut joiner = pin!(flights.fetch(&requests, PATIENCE, |r| source.fetch(r)));
        {
            let mut leader = pin!(flights.fetch(&requests, PATIENCE, |r| source.fetch(r)));
            assert!(poll_once(leader.as_mut()).is_pending());
            assert!(poll_once(joiner.as_mut()).is_pending());
        } // The leader's load is dropped, its fetch unfinished.
        assert!(flights.lock().is_empty());
        source.gate.add_permits(1);
        let results = joiner.await;
        assert_eq!(source.requests(), ["a", "a"]);
        assert_eq!(version(&results[0]), "a#2");
    }

    #[tokio::test(start_paused = true)]
    async fn a_leader_hands_its_results_over_before_its_own_joins_end() {
        let flights = Flights::default();
        let source = Source::default();
        let (x, y) = (secret("x", false), secret("y", false));
        let (only_x, only_y, both) = ([x.clone()], [y.clone()], [x, y]);
        // A load whose fetch of y never ends (its runtime is not driven)...
        let mut stuck = pin!(flights.fetch(&only_y, PATIENCE, |_| std::future::pending()));
        // ...joined by one that leads x, which a third joins.
        let mut leader = pin!(flights.fetch(&both, PATIENCE, |r| source.fetch(r)));
        let mut joiner = pin!(flights.fetch(&only_x, PATIENCE, |r| source.fetch(r)));
        assert!(poll_once(stuck.as_mut()).is_pending());
        assert!(poll_once(leader.as_mut()).is_pending());
        assert!(poll_once(joiner.as_mut()).is_pending());
        source.gate.add_permits(3);
        let started = tokio::time::Instant::now();
        let results = tokio::select! {
            results = joiner => results,
            _ = leader => panic!("the leader waits for y for {PATIENCE:?}"),
        };
        assert_eq!(version(&results[0]), "x#1");
        assert_eq!(
            started.elapsed(),
            Duration::ZERO,
            "x came before y's patience ran out"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_joiner_gives_up_on_a_stuck_leader_after_its_patience() {
        let flights = Flights::default();
        let source = Source::default();
        let requests = [secret("a", false)];
        // The leader's runtime is never driven again: here, its future is never polled again.
        let mut stuck = pin!(flights.fetch(&requests, PATIENCE, |r| source.fetch(r)));
        assert!(poll_once(stuck.as_mut()).is_pending());
        // One permit goes to the stuck fetch, queued first.
        source.gate.add_permits(2);
        let results = flights
            .fetch(&requests, PATIENCE, |r| source.fetch(r))
            .await;
        assert_eq!(version(&results[0]), "a#2");
        // Forgotten: the next load does not wait for it.
        source.gate.add_permits(1);
        let started = tokio::time::Instant::now();
        let results = flights
            .fetch(&requests, PATIENCE, |r| source.fetch(r))
            .await;
        assert_eq!(version(&results[0]), "a#3");
        assert_eq!(
            started.elapsed(),
            Duration::ZERO,
            "the paused clock did not move"
        );
    }
}
