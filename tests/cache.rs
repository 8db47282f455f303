//! Cache robustness: panics, abandoned loads and runtimes that shut down under a refresh.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use secrets_runtime::{Error, FromSecret, Provider, Source};
use secrets_tests::{Agent, TempDir, create_secret, free_port, unique_name, wait_listening};

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
    let loaded = Holder::load().await.expect("the next load works");
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

#[test]
fn a_refresh_cut_short_by_a_runtime_shutdown_is_started_again() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "shutdown", ttl = "1s")]
    struct Shutdown {
        value: String,
    }
    let dir = TempDir::new("shutdown");
    let provider = file_provider(&dir, "shutdown", r#"{"value":"v1"}"#);
    let runtime = || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    };

    runtime().block_on(async {
        Shutdown::load_with(provider).await.expect("first load");
        tokio::time::sleep(Duration::from_millis(1100)).await;
        // Expired: this read spawns a refresh, and the runtime is dropped before it runs.
        assert_eq!(Shutdown::get().value, "v1");
    });

    file_provider(&dir, "shutdown", r#"{"value":"v2"}"#);
    runtime().block_on(async {
        let mut seen = String::new();
        for _ in 0..200 {
            seen.clone_from(&Shutdown::get().value);
            if seen == "v2" {
                break;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        assert_eq!(seen, "v2", "a later read starts a new background refresh");
    });
}
