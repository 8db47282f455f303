//! The cache's state machine with a fake loader and tokio's paused clock: no HTTP, no waiting.

use std::sync::atomic::AtomicU64;

use super::*;
use crate::__private::{Fields, Origins, SecretSpec};
use crate::Item;
use crate::load::Fetched;

/// A struct whose cache the tests drive; each test uses a cache of its own.
struct Config {
    serial: u64,
}

const TTL: Duration = Duration::from_secs(300);
const MAX_STALE: Duration = Duration::from_secs(600);

impl FromSecret for Config {
    const SPEC: SecretSpec = SecretSpec {
        name: "config",
        name_env: None,
        ttl: TTL,
        max_stale: MAX_STALE,
        refresh_window: Duration::from_secs(1),
        version_stage: None,
        version_id: None,
    };

    fn read_fields(_: &mut Fields<'_>) -> Option<Self> {
        unreachable!("the fake loader decodes")
    }

    fn origins(_: &mut Origins) {}

    fn field_specs(_: &mut crate::__private::FieldSpecs) {}

    fn cache() -> &'static Cache<Self> {
        unreachable!("each test uses a cache of its own")
    }
}

/// Answers fetch `n` (from 0) with `answer(n)`: a serial (also the fingerprint), or an error.
/// Each fetch takes a second of the (paused) clock, so concurrent callers overlap. Decoding
/// serial [`PANICS`] panics.
struct Fake {
    fetches: AtomicU64,
    answer: Box<dyn Fn(u64) -> Result<u64, Error> + Send + Sync>,
}

impl Load<Config> for Fake {
    fn fetch(&self, _forced: bool) -> BoxFuture<'_, Result<Fetched<Config>, Error>> {
        let answer = (self.answer)(self.fetches.fetch_add(1, Ordering::Relaxed));
        Box::pin(async move {
            tokio::time::sleep(Duration::from_secs(1)).await;
            answer.map(|serial| {
                Fetched::new(serial, SourceKind::Local, None, move || {
                    assert_ne!(serial, PANICS, "decoding panicked");
                    Ok(Config { serial })
                })
            })
        })
    }
    fn bound(&self) -> Duration {
        Duration::from_secs(5)
    }
}

fn fake(
    answer: impl Fn(u64) -> Result<u64, Error> + Send + Sync + 'static,
) -> (&'static Cache<Config>, Arc<Fake>) {
    let cache: &'static Cache<Config> = Box::leak(Box::new(Cache::new()));
    let loader = Arc::new(Fake {
        fetches: AtomicU64::new(0),
        answer: Box::new(answer),
    });
    let dyn_loader: Arc<dyn Load<Config>> = loader.clone();
    cache.set_loader(Some(&dyn_loader)).expect("a new cache");
    (cache, loader)
}

impl Fake {
    fn fetches(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }
}

/// The serial whose decoding panics.
const PANICS: u64 = u64::MAX;

/// The fake source's failure: a transient one.
fn down() -> Error {
    Error::Unreachable {
        item: Item::secret("config"),
        endpoint: "the fake source".into(),
        waited: Duration::ZERO,
        attempts: 1,
        reason: "it is down".into(),
        cause: None,
    }
}

/// Whether `err` is the fake source's failure itself (not a stand-in for it).
fn is_down(err: &Error) -> bool {
    matches!(err, Error::Unreachable { endpoint, .. } if endpoint == "the fake source")
}

#[test]
fn backoff_doubles_up_to_its_limit() {
    let secs = Duration::from_secs;
    let waits: Vec<_> = (0..10).map(|n| backoff(n, secs(300))).collect();
    assert_eq!(waits[..4], [secs(1), secs(2), secs(4), secs(8)]);
    assert_eq!(waits[9], secs(300));
    assert_eq!(backoff(40, MAX_RETRY), MAX_RETRY);
    assert_eq!(backoff(3, secs(5)), secs(5));
}

/// Lets spawned tasks (timers, background refreshes) run to their next wait.
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

#[tokio::test(start_paused = true)]
async fn concurrent_cold_loads_share_one_fetch() {
    let (cache, loader) = fake(Ok);
    let loads = futures_util::future::join_all((0..10).map(|_| cache.load(None))).await;
    assert!(
        loads
            .iter()
            .all(|l| l.as_ref().is_ok_and(|v| v.serial == 0))
    );
    assert_eq!(loader.fetches(), 1);
}

#[tokio::test(start_paused = true)]
async fn the_value_expires_by_the_runtime_clock_and_refreshes_in_the_background() {
    let (cache, loader) = fake(Ok);
    cache.load(None).await.expect("loads");
    // Before 90 % of the TTL (the most jitter takes off), the value is fresh.
    tokio::time::advance(TTL * 9 / 10 - Duration::from_secs(2)).await;
    settle().await;
    assert_eq!(cache.load(None).await.expect("fresh").serial, 0);
    assert_eq!(loader.fetches(), 1);
    // Past the TTL the timer has fired and its refresh has run: `get()` sees the new value.
    tokio::time::sleep(TTL / 10 + Duration::from_secs(2)).await;
    settle().await;
    assert_eq!(loader.fetches(), 2, "one background refresh");
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(cache.try_get().expect("loaded").serial, 1);
    assert_eq!(cache.stats().refreshes, 1);
}

#[tokio::test(start_paused = true)]
async fn a_failed_cold_load_backs_off_before_fetching_again() {
    let (cache, loader) = fake(|n| if n < 3 { Err(down()) } else { Ok(n) });
    assert!(cache.load(None).await.is_err());
    assert_eq!(loader.fetches(), 1);
    // Within the backoff (at least half of 1 s), callers get the last error without a fetch.
    for _ in 0..5 {
        let err = cache.load(None).await.err().expect("backing off");
        assert!(is_down(&err), "{err:?}");
    }
    assert_eq!(loader.fetches(), 1);
    // After it (at most 1 s), the next load fetches; the next wait is up to 2 s.
    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(cache.load(None).await.is_err());
    assert_eq!(loader.fetches(), 2);
    assert!(cache.load(None).await.is_err());
    assert_eq!(loader.fetches(), 2);
    tokio::time::advance(Duration::from_secs(2)).await;
    assert!(cache.load(None).await.is_err());
    tokio::time::advance(Duration::from_secs(4)).await;
    assert_eq!(cache.load(None).await.expect("recovers").serial, 3);
    assert_eq!(loader.fetches(), 4);
    assert_eq!(cache.stats().failures, 3);
}

#[tokio::test(start_paused = true)]
async fn backoff_waits_are_jittered_so_a_fleet_does_not_retry_in_step() {
    let mut waits = Vec::new();
    for _ in 0..16 {
        let (cache, _) = fake(|_| Err(down()));
        let failed_at = Instant::now() + Duration::from_secs(1);
        assert!(cache.load(None).await.is_err());
        let retry_at = cache
            .with_state(|state| state.backoff.as_ref().map(|backoff| backoff.until))
            .expect("backing off");
        waits.push(retry_at - failed_at);
    }
    let (shortest, longest) = (waits.iter().min(), waits.iter().max());
    assert!(
        waits
            .iter()
            .all(|w| (Duration::from_millis(500)..=Duration::from_secs(1)).contains(w)),
        "{waits:?}"
    );
    assert!(shortest < longest, "16 equal waits: {waits:?}");
}

#[tokio::test(start_paused = true)]
async fn a_failing_refresh_serves_the_last_value_until_max_stale() {
    let (cache, loader) = fake(|n| if n == 0 { Ok(0) } else { Err(down()) });
    cache.load(None).await.expect("loads");
    tokio::time::advance(TTL + Duration::from_secs(1)).await;
    let stale = cache.load(None).await.expect("the last good value");
    assert_eq!(stale.serial, 0);
    assert!(!Snapshot::is_stale(&stale));
    drop(stale);
    tokio::time::advance(MAX_STALE).await;
    // Too stale to serve: the failure of the refresh it waited for, then, during the backoff
    // that follows, that same failure without a fetch.
    let err = cache.load(None).await.err().expect("too stale to serve");
    assert!(is_down(&err), "{err:?}");
    let fetches = loader.fetches();
    let err = cache.load(None).await.err().expect("still too stale");
    assert!(is_down(&err), "{err:?}");
    assert_eq!(loader.fetches(), fetches, "no fetch during the backoff");
    assert_eq!(cache.try_get().expect("get still serves").serial, 0);
    assert!(loader.fetches() >= 2);
}

/// Within the refresh window, a forced refresh gets the failure of the forced fetch before it,
/// without fetching.
#[tokio::test(start_paused = true)]
async fn a_forced_refresh_within_the_window_after_a_failed_one_gets_its_failure() {
    let (cache, loader) = fake(|n| if n == 0 { Ok(0) } else { Err(down()) });
    cache.load(None).await.expect("loads");
    let err = cache.refresh_now(None).await.err().expect("fails");
    assert!(is_down(&err), "{err:?}");
    let again = cache
        .refresh_now(None)
        .await
        .err()
        .expect("within the window");
    assert!(is_down(&again), "{again:?}");
    assert_eq!(
        loader.fetches(),
        2,
        "the second forced refresh reused the first"
    );
    assert_eq!(cache.try_get().expect("the last good value").serial, 0);
}

/// A fetch whose decoding panics is `Aborted` (transient), and the next fetch works.
#[tokio::test(start_paused = true)]
async fn a_panicking_fetch_is_aborted_and_poisons_nothing() {
    let (cache, loader) = fake(|n| Ok(if n == 0 { PANICS } else { n }));
    let err = cache.load(None).await.err().expect("it panicked");
    assert!(
        matches!(&err, Error::Aborted(message) if message.contains("panicked")),
        "{err:?}"
    );
    assert!(err.is_transient());
    // After the backoff that follows any failure, the next load fetches again.
    tokio::time::advance(Duration::from_secs(1)).await;
    assert_eq!(cache.load(None).await.expect("recovers").serial, 1);
    assert_eq!(loader.fetches(), 2);
}

#[tokio::test(start_paused = true)]
async fn forced_refreshes_within_the_window_share_a_fetch_and_unchanged_values_are_kept() {
    let (cache, loader) = fake(|_| Ok(7));
    let first = cache.load(None).await.expect("loads");
    let forced = cache.refresh_now(None).await.expect("refreshes");
    let again = cache.refresh_now(None).await.expect("within the window");
    assert_eq!(
        loader.fetches(),
        2,
        "the second forced refresh reused the first"
    );
    // The same fingerprint: the value was not decoded again.
    assert!(std::ptr::eq::<Config>(&*first, &*forced) && std::ptr::eq::<Config>(&*forced, &*again));
    assert_eq!(cache.stats().versions, 1);
    tokio::time::advance(Duration::from_secs(2)).await;
    cache.refresh_now(None).await.expect("after the window");
    assert_eq!(loader.fetches(), 3);
}

fn as_dyn(loader: &Arc<Fake>) -> Option<Arc<dyn Load<Config>>> {
    Some(loader.clone())
}

fn fake_loader(answer: impl Fn(u64) -> Result<u64, Error> + Send + Sync + 'static) -> Arc<Fake> {
    Arc::new(Fake {
        fetches: AtomicU64::new(0),
        answer: Box::new(answer),
    })
}

#[tokio::test(start_paused = true)]
async fn a_struct_keeps_the_provider_of_its_first_load() {
    let cache: &'static Cache<Config> = Box::leak(Box::new(Cache::new()));
    let (first, second) = (fake_loader(Ok), fake_loader(|_| Ok(9)));
    cache.load(as_dyn(&first)).await.expect("loads");
    let err = cache
        .load(as_dyn(&second))
        .await
        .err()
        .expect("another provider");
    assert!(
        matches!(&err, Error::Config(message) if message.contains("another provider")),
        "{err:?}"
    );
    assert!(cache.refresh_now(as_dyn(&second)).await.is_err());
    assert_eq!(second.fetches(), 0, "never used");
    // The same provider, or none, reads as before.
    assert_eq!(cache.load(as_dyn(&first)).await.expect("same").serial, 0);
    assert_eq!(cache.load(None).await.expect("its own").serial, 0);
}

#[tokio::test(start_paused = true)]
async fn before_a_value_a_new_provider_replaces_a_failing_one_at_once() {
    let cache: &'static Cache<Config> = Box::leak(Box::new(Cache::new()));
    let (broken, fixed) = (fake_loader(|_| Err(down())), fake_loader(|_| Ok(3)));
    assert!(cache.load(as_dyn(&broken)).await.is_err());
    // Not held back by the broken one's backoff.
    assert_eq!(cache.load(as_dyn(&fixed)).await.expect("loads").serial, 3);
    assert_eq!((broken.fetches(), fixed.fetches()), (1, 1));
}

#[tokio::test(start_paused = true)]
async fn of_two_first_loads_with_different_providers_one_wins_and_the_other_is_told() {
    let cache: &'static Cache<Config> = Box::leak(Box::new(Cache::new()));
    let (one, two) = (fake_loader(|_| Ok(1)), fake_loader(|_| Ok(2)));
    let (a, b) = tokio::join!(cache.load(as_dyn(&one)), cache.load(as_dyn(&two)));
    // The second caller replaced the loader before the shared fetch ran, or joined the first
    // caller's fetch: either way exactly one of them gets a value, of its own provider.
    let outcomes = [a.map(|v| v.serial), b.map(|v| v.serial)];
    let values: Vec<_> = outcomes.iter().filter_map(|o| o.as_ref().ok()).collect();
    assert_eq!(values.len(), 1, "{outcomes:?}");
    let winner = *values[0];
    assert_eq!(
        outcomes[usize::try_from(winner - 1).expect("1 or 2")]
            .as_ref()
            .ok(),
        Some(&winner)
    );
    assert_eq!(one.fetches() + two.fetches(), 1, "one fetch");
}

#[tokio::test(start_paused = true)]
async fn a_new_provider_does_not_take_the_failure_of_the_old_ones_running_fetch() {
    let cache: &'static Cache<Config> = Box::leak(Box::new(Cache::new()));
    let (broken, fixed) = (fake_loader(|_| Err(down())), fake_loader(|_| Ok(3)));
    // The fixed provider arrives while the broken one's fetch runs: it waits for that fetch,
    // then, not held back by its failure, fetches through its own provider.
    let (first, second) = tokio::join!(cache.load(as_dyn(&broken)), async {
        tokio::task::yield_now().await;
        cache.load(as_dyn(&fixed)).await
    });
    assert!(first.is_err());
    assert_eq!(second.expect("its own provider").serial, 3);
    assert_eq!((broken.fetches(), fixed.fetches()), (1, 1));
}

/// A read takes no lock: it completes while another thread holds the cache's state lock.
#[test]
fn reads_take_no_lock() {
    let (cache, _) = fake(Ok);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(cache.load(None)).expect("loads");
    let _held = cache.state.lock().expect("state");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = sender.send(cache.try_get().map(|value| value.serial));
    });
    // A read that took the lock would wait for it: fail instead of hanging.
    let read = receiver.recv_timeout(Duration::from_secs(60));
    assert_eq!(
        read,
        Ok(Some(0)),
        "the read did not complete while the lock was held"
    );
}
