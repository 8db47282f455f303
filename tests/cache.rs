//! Cache robustness: panics, abandoned loads and runtimes that shut down under a refresh.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use secrets_runtime::{Error, FromSecret, Provider, Source};
use secrets_tests::{
    Agent, Fault, FaultServer, TempDir, create_secret, free_port, unique_name, wait_listening,
};

/// A type whose parser panics on the text `panic`.
#[derive(Debug)]
struct Fragile(String);

impl FromStr for Fragile {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        assert!(s != "panic", "Fragile cannot parse this");
        Ok(Self(s.to_owned()))
    }
}

fn file_provider(dir: &TempDir, name: &str, value: &str) -> Arc<Provider> {
    let path = dir.path.join("secrets.json");
    std::fs::write(&path, format!(r#"{{"{name}": {value}}}"#)).expect("write");
    Arc::new(
        Provider::builder()
            .source(Source::Local)
            .local_path(path)
            .build(),
    )
}

#[tokio::test]
async fn a_panicking_decode_is_an_error_and_poisons_nothing() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "fragile")]
    struct Holder {
        value: Fragile,
    }
    let dir = TempDir::new("panic");
    let err = Holder::load_with(file_provider(&dir, "fragile", r#"{"value":"panic"}"#))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Aborted(message) if message.contains("panicked")),
        "{err:?}"
    );

    file_provider(&dir, "fragile", r#"{"value":"fine"}"#);
    // A forced refresh tries at once (a plain load would wait out the backoff that follows a
    // failure: the cache's unit tests check that with a paused clock).
    let loaded = Holder::refresh_now().await.expect("the next fetch works");
    assert_eq!(loaded.value.0, "fine");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abandoned_load_still_completes_and_fills_the_cache() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "{SECRETS_TESTS_ABANDONED_NAME:-unset}")]
    struct Abandoned {
        value: String,
    }
    let name = unique_name("test/cache/abandoned");
    create_secret(&name, r#"{"value":"arrived"}"#).await;
    let port = free_port();
    let provider = Arc::new(
        Provider::builder()
            .source(Source::Extension)
            .extension_port(port)
            .extension_deadline(Duration::from_secs(20))
            .var("SECRETS_TESTS_ABANDONED_NAME", &name)
            .build(),
    );
    // The caller gives up while the extension is still down...
    let gave_up =
        tokio::time::timeout(Duration::from_millis(100), Abandoned::load_with(provider)).await;
    assert!(gave_up.is_err(), "nothing listens yet");
    // ...then the extension starts: the fetch goes on without any caller awaiting it.
    let _agent = Agent::spawn(port);
    assert!(
        wait_listening(port, Duration::from_secs(20)).await,
        "the agent starts"
    );
    let mut loaded = None;
    for _ in 0..200 {
        if let Some(snapshot) = Abandoned::try_get() {
            loaded = Some(snapshot.value.clone());
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(loaded.as_deref(), Some("arrived"));
}

#[tokio::test]
async fn a_panicking_refresh_backs_off_like_any_failure() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "fragile-refresh", ttl = "1s")]
    struct Holder {
        value: Fragile,
    }
    let dir = TempDir::new("panic-refresh");
    let provider = file_provider(&dir, "fragile-refresh", r#"{"value":"fine"}"#);
    Holder::load_with(provider).await.expect("cold load");
    // The secret rotates to a value whose parser panics.
    file_provider(&dir, "fragile-refresh", r#"{"value":"panic"}"#);
    let started = std::time::Instant::now();
    while started.elapsed() < Duration::from_millis(2500) {
        assert_eq!(
            Holder::get().value.0,
            "fine",
            "the last good value keeps serving"
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let stats = Holder::stats();
    // Expiry at 0.9 to 1 s, then a retry every 0.5 to 1 s: a few failed fetches, not thousands.
    assert!(
        (1..=4).contains(&stats.failures),
        "{} failures",
        stats.failures
    );
}

#[test]
fn a_refresh_cut_short_by_a_runtime_shutdown_is_started_again() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "app", ttl = "1s")]
    struct Shutdown {
        v: String,
    }
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    };
    let value = |v: &str| Fault::secret("app", &format!(r#"{{"v":"{v}"}}"#));
    // Every refresh answers slowly, so that the first one is still on the wire at shutdown.
    let first = runtime();
    let server = first.block_on(FaultServer::start(vec![
        value("v1"),
        Fault::Delay(Duration::from_secs(2), Box::new(value("v2"))),
    ]));
    let port = server.port();
    first.block_on(async {
        let provider = Provider::builder()
            .source(Source::Extension)
            .extension_port(port)
            .build();
        Shutdown::load_with(Arc::new(provider))
            .await
            .expect("first load");
        // Expiry at ~1 s starts the (slow) refresh; the runtime is dropped under it.
        tokio::time::sleep(Duration::from_millis(1300)).await;
        assert_eq!(Shutdown::get().v, "v1");
    });
    // The fault server lives on the first runtime too: start a new one on the same port.
    drop(server);
    drop(first);
    let second = runtime();
    second.block_on(async {
        let _server = FaultServer::start_on(port, vec![value("v2")]).await;
        let mut seen = String::new();
        for _ in 0..400 {
            seen.clone_from(&Shutdown::get().v);
            if seen == "v2" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(seen, "v2", "a read on the new runtime starts a new refresh");
    });
}

#[test]
fn a_fetch_left_on_a_runtime_no_longer_driven_does_not_hang_other_runtimes() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "stranded")]
    struct Stranded {
        value: String,
    }
    // The extension stand-in runs on a runtime of its own, driven by its worker throughout.
    let server_runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("server runtime");
    // The first request gets no answer for a minute; later ones are answered at once.
    let answer = Fault::secret("stranded", r#"{"value":"here"}"#);
    let server = server_runtime.block_on(FaultServer::start(vec![
        Fault::Delay(Duration::from_secs(60), Box::new(answer.clone())),
        answer,
    ]));
    let provider = Arc::new(
        Provider::builder()
            .source(Source::Extension)
            .extension_port(server.port())
            .extension_token("token")
            .extension_request_timeout(Duration::from_millis(300))
            .extension_deadline(Duration::from_millis(200))
            .build(),
    );
    // Start-up code gives up on a load (`block_on` with a timeout) and keeps the runtime
    // without driving it again: the fetch it started is stranded there.
    let abandoned = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("first runtime");
    let gave_up = abandoned.block_on(async {
        tokio::time::timeout(
            Duration::from_millis(100),
            Stranded::load_with(Arc::clone(&provider)),
        )
        .await
    });
    assert!(gave_up.is_err(), "the first request is not answered yet");
    // Another runtime's load joins that fetch, sees it outlive the provider's bound, and
    // fetches on its own runtime instead of waiting forever.
    let other = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("second runtime");
    let loaded = other
        .block_on(async { tokio::time::timeout(Duration::from_secs(60), Stranded::load()).await })
        .expect("no hang")
        .expect("loads");
    assert_eq!(loaded.value, "here");
    assert_eq!(
        server.requests().len(),
        2,
        "the stranded fetch, then one of its own"
    );
    drop(loaded);
    drop(abandoned);
}
