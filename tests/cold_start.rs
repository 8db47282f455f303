//! Cold start: an extension that is not listening yet, one that never listens, and auto mode
//! choosing between the extension and the SDK.

use std::sync::Arc;
use std::time::Duration;

use secrets_runtime::{Error, FromSecret, Provider, Snapshot, Source, SourceKind};
use secrets_tests::{Agent, agent_port, create_secret, free_port, unique_name, wait_listening};

#[derive(Debug, FromSecret)]
#[secret(name = "{NAME}")]
struct Config {
    value: String,
}

/// A bound on how long any load may take in these tests: a hang fails the test.
const NO_HANG: Duration = Duration::from_secs(30);

#[tokio::test]
async fn agent_that_starts_late_is_waited_for() {
    let name = unique_name("test/cold/late");
    create_secret(&name, r#"{"value":"late but fine"}"#).await;
    let port = free_port();
    let provider = Provider::builder()
        .source(Source::Extension)
        .extension_port(port)
        .extension_deadline(Duration::from_secs(20))
        .var("NAME", &name)
        .build();

    let starter = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(500)).await;
        Agent::spawn(port)
    });
    let loaded = tokio::time::timeout(NO_HANG, Config::fetch(&provider))
        .await
        .expect("no hang");
    let mut agent = starter.await.expect("agent task");
    assert!(agent.is_running(), "the late agent is still up");
    assert_eq!(
        loaded.expect("the load waits for the agent").value,
        "late but fine"
    );
}

#[tokio::test]
async fn extension_that_never_listens_fails_after_the_deadline() {
    let port = free_port();
    let provider = Provider::builder()
        .source(Source::Extension)
        .extension_port(port)
        .extension_deadline(Duration::from_millis(400))
        .var("NAME", "never/listening")
        .build();
    let started = std::time::Instant::now();
    let err = tokio::time::timeout(NO_HANG, Config::fetch(&provider))
        .await
        .expect("no hang")
        .unwrap_err();
    // The last try is made at the deadline, not up to a backoff pause before it. (A lower
    // bound only: a loaded machine can make it later, never earlier.)
    assert!(
        started.elapsed() >= Duration::from_millis(400),
        "gave up after {:?}, before the 400 ms deadline",
        started.elapsed()
    );
    let Error::Unreachable {
        item,
        endpoint,
        attempts,
        waited,
        ..
    } = &err
    else {
        panic!("expected Unreachable, got {err:?}")
    };
    assert_eq!(item.name(), "never/listening");
    assert!(
        endpoint.contains(&format!("127.0.0.1:{port}")),
        "{endpoint}"
    );
    assert!(
        *attempts > 1,
        "connection refused is retried until the deadline"
    );
    assert!(*waited >= Duration::from_millis(400), "{waited:?}");
    assert!(err.is_transient());
    assert!(
        err.to_string().starts_with(&format!(
            "could not reach the secrets extension at 127.0.0.1:{port} for secret `never/listening`"
        )),
        "{err}"
    );
}

#[tokio::test]
async fn auto_uses_the_extension_when_it_answers() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "{SECRETS_TESTS_AUTO_EXT_NAME:-unset}")]
    struct AutoExtension {
        value: String,
    }
    let name = unique_name("test/cold/auto-ext");
    create_secret(&name, r#"{"value":"via extension"}"#).await;
    let provider = Provider::builder()
        .source(Source::Auto)
        .extension_port(agent_port())
        .var("SECRETS_TESTS_AUTO_EXT_NAME", &name)
        .build();
    let loaded = AutoExtension::load_with(Arc::new(provider))
        .await
        .expect("loads");
    assert_eq!(loaded.value, "via extension");
    assert_eq!(Snapshot::source(&loaded), SourceKind::Extension);
}

#[tokio::test]
async fn auto_falls_back_to_the_sdk_when_no_extension_listens() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "{SECRETS_TESTS_AUTO_SDK_NAME:-unset}")]
    struct AutoSdk {
        value: String,
    }
    let name = unique_name("test/cold/auto-sdk");
    create_secret(&name, r#"{"value":"via sdk"}"#).await;
    let port = free_port();
    assert!(!wait_listening(port, Duration::from_millis(50)).await);
    // On Lambda (AWS_LAMBDA_FUNCTION_NAME set) the extension gets its deadline first.
    let provider = Provider::builder()
        .source(Source::Auto)
        .extension_port(port)
        .extension_deadline(Duration::from_millis(300))
        .var("AWS_LAMBDA_FUNCTION_NAME", "jay")
        .var("SECRETS_TESTS_AUTO_SDK_NAME", &name)
        .build();
    let loaded = tokio::time::timeout(NO_HANG, AutoSdk::load_with(Arc::new(provider)))
        .await
        .expect("no hang")
        .expect("falls back to the SDK");
    assert_eq!(loaded.value, "via sdk");
    assert_eq!(Snapshot::source(&loaded), SourceKind::Sdk);
}

#[tokio::test]
async fn auto_does_not_fall_back_on_not_found() {
    let name = unique_name("test/cold/absent");
    let provider = Provider::builder()
        .source(Source::Auto)
        .extension_port(agent_port())
        .var("NAME", &name)
        .build();
    let err = Config::fetch(&provider).await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::NotFound {
                via: SourceKind::Extension,
                ..
            }
        ),
        "not-found from the extension is final: {err:?}"
    );
}

#[tokio::test]
async fn auto_does_not_fall_back_on_access_denied() {
    let server = secrets_tests::FaultServer::start(vec![secrets_tests::Fault::aws(
        400,
        "AccessDeniedException",
        "not authorized to perform: secretsmanager:GetSecretValue",
    )])
    .await;
    let provider = Provider::builder()
        .source(Source::Auto)
        .extension_port(server.port())
        .var("NAME", "denied/secret")
        .build();
    let err = Config::fetch(&provider).await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::AccessDenied {
                via: SourceKind::Extension,
                ..
            }
        ),
        "access denied from the extension is final: {err:?}"
    );
    assert_eq!(server.requests().len(), 1);
}

/// Off Lambda, auto mode never calls a port the user did not choose: whatever listens on the
/// default port 2773 gets no connection and no token; the SDK answers.
#[tokio::test]
async fn auto_off_lambda_never_calls_the_default_port() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "{SECRETS_TESTS_NO_PROBE_NAME:-unset}")]
    struct NoProbe {
        value: String,
    }
    assert!(
        std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_none(),
        "this test runs off Lambda"
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:2773")
        .await
        .expect("port 2773 is free for this test (stop any agent listening on it)");
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = Arc::clone(&accepted);
    let accepting = tokio::spawn(async move {
        while listener.accept().await.is_ok() {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        }
    });
    let name = unique_name("test/cold/no-probe");
    create_secret(&name, r#"{"value":"via sdk"}"#).await;
    let provider = Provider::builder()
        .source(Source::Auto)
        .var("SECRETS_TESTS_NO_PROBE_NAME", &name)
        .extension_token("a-token-nobody-may-see")
        .build();
    let loaded = NoProbe::load_with(Arc::new(provider))
        .await
        .expect("loads through the SDK");
    assert_eq!(loaded.value, "via sdk");
    assert_eq!(Snapshot::source(&loaded), SourceKind::Sdk);
    assert_eq!(
        accepted.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "the default port was called"
    );
    accepting.abort();
}

/// Auto mode reads through the SDK when the extension answers with an error of its own (here
/// the agent's own credentials were refused upstream) or fails; not on a verdict about the
/// secret (see the not-found and access-denied tests above).
#[tokio::test]
async fn auto_falls_back_when_the_extension_answers_with_its_own_error() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "{SECRETS_TESTS_OWN_ERROR_NAME:-unset}")]
    struct OwnError {
        value: String,
    }
    let name = unique_name("test/cold/own-error");
    create_secret(&name, r#"{"value":"via sdk"}"#).await;
    for fault in [
        secrets_tests::Fault::aws(
            400,
            "UnrecognizedClientException",
            "The security token included in the request is invalid.",
        ),
        secrets_tests::Fault::aws(500, "InternalServiceError", "oops"),
    ] {
        let server = secrets_tests::FaultServer::start(vec![fault.clone()]).await;
        let provider = Provider::builder()
            .source(Source::Auto)
            .extension_port(server.port())
            .var("SECRETS_TESTS_OWN_ERROR_NAME", &name)
            .build();
        let loaded = OwnError::fetch(&provider)
            .await
            .unwrap_or_else(|err| panic!("{fault:?}: {err}"));
        assert_eq!(loaded.value, "via sdk", "{fault:?}");
        assert!(
            !server.requests().is_empty(),
            "the extension was asked first"
        );
    }
}

/// A value first read through the SDK fallback and later answered, unchanged, by the extension
/// reports the extension: the source that answered last.
#[tokio::test]
async fn the_source_that_answered_last_is_reported() {
    #[derive(Debug, FromSecret)]
    #[secret(
        name = "{SECRETS_TESTS_LAST_SOURCE_NAME:-unset}",
        refresh_window = "0s"
    )]
    struct LastSource {
        value: String,
    }
    let name = unique_name("test/cold/last-source");
    let value = r#"{"value":"same"}"#;
    create_secret(&name, value).await;
    let version = secrets_tests::moto()
        .await
        .get_secret_value()
        .secret_id(&name)
        .send()
        .await
        .expect("reading the secret back")
        .version_id
        .expect("a version id");
    // The extension fails once (auto mode reads through the SDK), then answers the same
    // version with the same bytes.
    let answer = serde_json::json!({"Name": name, "VersionId": version, "SecretString": value});
    let server = secrets_tests::FaultServer::start(vec![
        secrets_tests::Fault::aws(500, "InternalServiceError", "down"),
        secrets_tests::Fault::Respond(200, answer.to_string()),
    ])
    .await;
    let provider = Arc::new(
        Provider::builder()
            .source(Source::Auto)
            .extension_port(server.port())
            .var("SECRETS_TESTS_LAST_SOURCE_NAME", &name)
            .build(),
    );
    let first = LastSource::load_with(Arc::clone(&provider))
        .await
        .expect("loads");
    assert_eq!(Snapshot::source(&first), SourceKind::Sdk);
    let forced = LastSource::refresh_now().await.expect("refreshes");
    assert_eq!(forced.value, "same");
    assert_eq!(Snapshot::source(&forced), SourceKind::Extension);
    assert_eq!(LastSource::stats().source, Some(SourceKind::Extension));
}
