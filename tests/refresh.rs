//! The cache's refresh semantics, against the fault-injecting extension: expiry, shared
//! refreshes, failures and staleness, forced refreshes, consistency, closed connections,
//! statistics and spans.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use secrets_runtime::{Error, FromSecret, Provider, Snapshot, Source, SourceKind};
use secrets_tests::{Fault, FaultServer, LogCapture};

fn value(v: &str) -> Fault {
    Fault::secret("app", &format!(r#"{{"v":"{v}"}}"#))
}

fn provider(server: &FaultServer) -> Arc<Provider> {
    Arc::new(
        Provider::builder()
            .source(Source::Extension)
            .extension_port(server.port())
            .extension_request_timeout(Duration::from_secs(5))
            .extension_deadline(Duration::from_millis(200))
            .build(),
    )
}

/// Waits (bounded) until `done` holds; false if it never did.
async fn eventually(mut done: impl FnMut() -> bool) -> bool {
    for _ in 0..400 {
        if done() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    false
}

#[tokio::test]
async fn the_expiry_timer_refreshes_once_while_reads_return_at_once() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "app", ttl = "1s")]
    struct Timed {
        v: String,
    }
    // The refresh answers slowly, so that reads during it can be checked.
    let server = FaultServer::start(vec![
        value("v1"),
        Fault::Delay(Duration::from_millis(500), Box::new(value("v2"))),
    ])
    .await;
    Timed::load_with(provider(&server))
        .await
        .expect("cold load");
    let reading = Arc::new(AtomicBool::new(true));
    let refresh_pending = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let (reading, refresh_pending) = (Arc::clone(&reading), Arc::clone(&refresh_pending));
            tokio::spawn(async move {
                let (mut seen, mut reads_during_refresh) = (Vec::<String>::new(), 0u32);
                while reading.load(Ordering::Relaxed) {
                    let v = Timed::get().v.clone();
                    if refresh_pending.load(Ordering::Relaxed) && v == "v1" {
                        reads_during_refresh += 1;
                    }
                    if seen.last() != Some(&v) {
                        seen.push(v);
                    }
                    tokio::task::yield_now().await;
                }
                (seen, reads_during_refresh)
            })
        })
        .collect();
    assert!(
        eventually(|| server.requests().len() == 2).await,
        "the timer started a refresh"
    );
    refresh_pending.store(true, Ordering::Relaxed);
    assert!(
        eventually(|| Timed::get().v == "v2").await,
        "the timer refreshed without a load"
    );
    reading.store(false, Ordering::Relaxed);
    for reader in readers {
        let (seen, reads_during_refresh) = reader.await.expect("reader");
        // Reads never waited for the refresh: they went on returning v1 while it was on the
        // wire, then saw v2, and nothing else.
        assert_eq!(seen, ["v1", "v2"]);
        assert!(reads_during_refresh > 0, "reads went on during the refresh");
    }
    assert_eq!(
        server.requests().len(),
        2,
        "one cold load and exactly one refresh"
    );
    let stats = Timed::stats();
    assert_eq!((stats.loads, stats.refreshes, stats.failures), (1, 1, 0));
}

#[tokio::test]
async fn awaiting_callers_share_one_refresh() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "app", ttl = "1s")]
    struct Awaited {
        v: String,
    }
    let server = FaultServer::start(vec![
        value("v1"),
        Fault::Delay(Duration::from_millis(800), Box::new(value("v2"))),
    ])
    .await;
    Awaited::load_with(provider(&server))
        .await
        .expect("cold load");
    assert!(
        eventually(|| server.requests().len() == 2).await,
        "the timer started a refresh"
    );
    // Expired: the refresh (slow) is running; every load awaits that one refresh.
    let loads: Vec<_> = (0..50)
        .map(|_| tokio::spawn(async { Awaited::load().await.map(|s| s.v.clone()) }))
        .collect();
    for load in loads {
        assert_eq!(load.await.expect("task").expect("load"), "v2");
    }
    assert_eq!(server.requests().len(), 2);
}

#[tokio::test]
async fn a_failed_cold_load_reaches_every_waiter_and_the_next_call_after_the_backoff_retries() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "app")]
    struct Cold {
        v: String,
    }
    let server = FaultServer::start(vec![
        Fault::Delay(
            Duration::from_millis(300),
            Box::new(Fault::aws(400, "ResourceNotFoundException", "no")),
        ),
        value("v1"),
    ])
    .await;
    let provider = provider(&server);
    let loads: Vec<_> = (0..20)
        .map(|_| {
            let provider = Arc::clone(&provider);
            tokio::spawn(async move { Cold::load_with(provider).await.map(|s| s.v.clone()) })
        })
        .collect();
    for load in loads {
        let err = load.await.expect("task").unwrap_err();
        assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    }
    assert_eq!(
        server.requests().len(),
        1,
        "one fetch for all twenty waiters"
    );
    // The next load backs off (0.5 to 1 s after one failure): the same error, no request. (A
    // stall of half a second on a loaded machine may end the backoff first: then it fetches.)
    match Cold::load().await {
        Err(err) => {
            assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
            assert_eq!(server.requests().len(), 1, "no fetch while backing off");
        }
        Ok(value) => assert_eq!(value.v, "v1"),
    }
    // Once the backoff is over, it tries again.
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        Cold::load()
            .await
            .expect("the next call after the backoff tries again")
            .v,
        "v1"
    );
}

#[tokio::test]
async fn failed_refreshes_serve_the_last_value_until_max_stale() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "app", ttl = "1s", max_stale = "2s")]
    struct Stale {
        v: String,
    }
    let (logs, _guard) = LogCapture::install();
    // After the first answer every fetch is denied: one request per fetch, never retried.
    let server = FaultServer::start(vec![
        value("v1"),
        Fault::aws(400, "AccessDeniedException", "denied"),
    ])
    .await;
    Stale::load_with(provider(&server))
        .await
        .expect("cold load");
    let started = std::time::Instant::now();
    tokio::time::sleep(Duration::from_millis(1300)).await;

    // Expired and failing: within max_stale both paths serve the last good value.
    assert_eq!(Stale::load().await.expect("stale but allowed").v, "v1");
    let read = Stale::get();
    assert_eq!(read.v, "v1");
    assert!(Snapshot::is_expired(&read));
    assert!(!Snapshot::is_stale(&read));

    // Read as hard as a busy handler would, until past max_stale.
    while started.elapsed() < Duration::from_millis(4600) {
        let _ = Stale::get();
        let _ = Stale::load().await;
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Past max_stale, the async path reports the error; the sync read keeps the value and
    // says it is stale.
    let err = Stale::load().await.unwrap_err();
    assert!(matches!(err, Error::AccessDenied { .. }), "{err:?}");
    let read = Stale::get();
    assert_eq!(read.v, "v1");
    assert!(Snapshot::is_stale(&read));

    // Failures back off (doubling from 1 s, capped at the TTL, here 1 s, each wait shortened
    // by up to half at random): a handful of fetches in 3.3 s of hard reading, at least half a
    // backoff apart. Not a tight loop.
    let failed: Vec<_> = server.requests().iter().skip(1).map(|r| r.at).collect();
    let gaps: Vec<_> = failed.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        (2..=8).contains(&failed.len()),
        "{} failed fetches",
        failed.len()
    );
    assert!(
        gaps.iter().all(|gap| *gap >= Duration::from_millis(450)),
        "gaps {gaps:?}"
    );
    // One warning per failed fetch.
    let warnings = logs.text().matches("loading a secret failed").count();
    assert_eq!(warnings as u64, Stale::stats().failures);
    assert_eq!(warnings, failed.len());
}

#[tokio::test]
async fn forced_refreshes_are_shared_and_not_repeated_within_the_window() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "app", refresh_window = "3s")]
    struct Forced {
        v: String,
    }
    let server = FaultServer::start(vec![
        value("v1"),
        Fault::Delay(Duration::from_millis(300), Box::new(value("v2"))),
        value("v3"),
    ])
    .await;
    Forced::load_with(provider(&server))
        .await
        .expect("cold load");
    // The window counts from forced refreshes only: this one fetches at once.
    let forced: Vec<_> = (0..20)
        .map(|_| tokio::spawn(async { Forced::refresh_now().await.map(|s| s.v.clone()) }))
        .collect();
    for refresh in forced {
        assert_eq!(refresh.await.expect("task").expect("refresh"), "v2");
    }
    assert_eq!(
        server.requests().len(),
        2,
        "twenty concurrent forced refreshes, one fetch"
    );
    // Right after it completed: no new fetch.
    assert_eq!(
        Forced::refresh_now().await.expect("within the window").v,
        "v2"
    );
    assert_eq!(server.requests().len(), 2);
    assert!(
        server.requests()[1].target.ends_with("&refreshNow=true"),
        "the extension's cache is bypassed"
    );
    assert_eq!(Forced::stats().forced_refreshes, 1);
}

#[tokio::test]
async fn a_forced_refresh_does_not_settle_for_a_plain_fetch() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "app", ttl = "1s")]
    struct Rotated {
        v: String,
    }
    // The background refresh gets the extension's cached (old) value, slowly.
    let server = FaultServer::start(vec![
        value("v1"),
        Fault::Delay(Duration::from_millis(500), Box::new(value("v1"))),
        value("v2"),
    ])
    .await;
    Rotated::load_with(provider(&server))
        .await
        .expect("cold load");
    assert!(
        eventually(|| server.requests().len() == 2).await,
        "the timer started a refresh"
    );
    // During it, the handler forces a refresh: it waits for the plain one, then asks for
    // `refreshNow` itself.
    assert_eq!(Rotated::refresh_now().await.expect("forced").v, "v2");
    let targets: Vec<_> = server.requests().into_iter().map(|r| r.target).collect();
    assert!(!targets[1].contains("refreshNow"));
    assert!(targets[2].ends_with("&refreshNow=true"), "{targets:?}");
}

#[tokio::test]
async fn forced_refreshes_during_an_outage_reuse_the_failure_within_the_window() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "app", refresh_window = "3s")]
    struct Outage {
        v: String,
    }
    let server = FaultServer::start(vec![
        value("v1"),
        Fault::aws(400, "AccessDeniedException", "denied"),
    ])
    .await;
    Outage::load_with(provider(&server))
        .await
        .expect("cold load");
    for _ in 0..10 {
        let err = Outage::refresh_now().await.unwrap_err();
        assert!(matches!(err, Error::AccessDenied { .. }), "{err:?}");
    }
    assert_eq!(
        server.requests().len(),
        2,
        "ten forced refreshes in an outage, one fetch"
    );
    assert_eq!(Outage::get().v, "v1");
}

#[tokio::test]
async fn an_extension_without_refresh_now_is_asked_again_without_it() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "app", refresh_window = "0s")]
    struct Lambda {
        v: String,
    }
    let server = FaultServer::start(vec![
        value("v1"),
        Fault::RejectRefreshNow(Box::new(value("v2"))),
    ])
    .await;
    Lambda::load_with(provider(&server))
        .await
        .expect("cold load");
    assert_eq!(Lambda::refresh_now().await.expect("refresh").v, "v2");
    let targets: Vec<_> = server.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(
        targets,
        [
            "/secretsmanager/get?secretId=app",
            "/secretsmanager/get?secretId=app&refreshNow=true",
            "/secretsmanager/get?secretId=app",
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 3)]
async fn readers_never_see_fields_from_two_versions() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "pair", refresh_window = "0s")]
    struct Pair {
        a: u32,
        b: u32,
        c: String,
    }
    let dir = secrets_tests::TempDir::new("pair");
    let path = dir.path.join("secrets.json");
    let write = |n: u32| {
        std::fs::write(
            &path,
            format!(r#"{{"pair": {{"a": {n}, "b": {n}, "c": "{n}"}}}}"#),
        )
        .expect("write");
    };
    write(0);
    let provider = Arc::new(
        Provider::builder()
            .source(Source::Local)
            .local_path(&path)
            .build(),
    );
    Pair::load_with(provider).await.expect("cold load");

    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let mut reads = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let pair = Pair::get();
                    assert!(
                        pair.a == pair.b && pair.c == pair.a.to_string(),
                        "torn read: {pair:?}"
                    );
                    reads += 1;
                }
                reads
            })
        })
        .collect();
    for n in 1..=100 {
        write(n);
        assert_eq!(Pair::refresh_now().await.expect("rotation").a, n);
    }
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        assert!(reader.join().expect("no torn read") > 0);
    }
    assert_eq!(Pair::stats().versions, 101);
}

#[tokio::test]
async fn a_connection_closed_under_a_request_is_retried_at_once() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "app", refresh_window = "0s")]
    struct Closed {
        v: String,
    }
    let server = FaultServer::start(vec![value("v1"), Fault::Close, value("v2")]).await;
    // A zero deadline: no retries for anything else.
    let provider = Arc::new(
        Provider::builder()
            .source(Source::Extension)
            .extension_port(server.port())
            .extension_deadline(Duration::ZERO)
            .build(),
    );
    Closed::load_with(provider).await.expect("cold load");
    assert_eq!(
        Closed::refresh_now()
            .await
            .expect("retried on a new connection")
            .v,
        "v2"
    );
    assert_eq!(server.requests().len(), 3);
    assert_eq!(server.connections(), 2);
}

#[tokio::test]
async fn a_refresh_cut_by_a_freeze_recovers_on_the_next_call() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "app", ttl = "1s")]
    struct Frozen {
        v: String,
    }
    // The refresh's connection dies mid-answer (as when Lambda freezes the process under it).
    let server = FaultServer::start(vec![
        value("v1"),
        Fault::Truncate,
        Fault::Truncate,
        Fault::Truncate,
        value("v2"),
    ])
    .await;
    let provider = Arc::new(
        Provider::builder()
            .source(Source::Extension)
            .extension_port(server.port())
            .extension_deadline(Duration::ZERO)
            .build(),
    );
    Frozen::load_with(provider).await.expect("cold load");
    assert!(
        eventually(|| Frozen::stats().failures >= 1).await,
        "the refresh failed"
    );
    assert_eq!(
        Frozen::get().v,
        "v1",
        "the last good value serves meanwhile"
    );
    assert!(
        eventually(|| Frozen::get().v == "v2").await,
        "a later refresh recovers"
    );
}

#[tokio::test]
async fn stats_count_what_happened() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "app", refresh_window = "0s")]
    struct Counted {
        v: String,
    }
    assert_eq!(Counted::stats().age, None);
    let server = FaultServer::start(vec![
        value("v1"),
        Fault::Respond(500, String::new()),
        value("v1"),
    ])
    .await;
    let provider = Arc::new(
        Provider::builder()
            .source(Source::Extension)
            .extension_port(server.port())
            .extension_deadline(Duration::ZERO)
            .build(),
    );
    Counted::load_with(provider).await.expect("cold load");
    Counted::load().await.expect("hit");
    Counted::load().await.expect("hit");
    assert!(Counted::refresh_now().await.is_err());
    assert_eq!(Counted::refresh_now().await.expect("unchanged").v, "v1");
    let stats = Counted::stats();
    assert_eq!(
        (
            stats.loads,
            stats.hits,
            stats.failures,
            stats.forced_refreshes,
            stats.versions
        ),
        (1, 2, 1, 1, 1),
        "an unchanged secret is not decoded again"
    );
    assert_eq!(stats.source, Some(SourceKind::Extension));
    assert!(stats.age.is_some_and(|age| age < Duration::from_secs(60)));
    assert!(!stats.expired);
}
