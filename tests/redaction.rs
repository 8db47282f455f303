//! Canary secret values, loaded through every source and through failing decodes: none may
//! appear in a `Debug` or `Display` output, an error, or a log line (captured at TRACE level).

use secrets_runtime::{FromSecret, Provider, SecretString, Source};
use secrets_tests::{LogCapture, agent_port, assert_no_canary, create_secret, unique_name};

/// Every canary starts with this, so one check covers them all.
const CANARY: &str = "CANARY-";

#[derive(Debug, FromSecret)]
#[secret(name = "{NAME}")]
struct Creds {
    user: String,
    password: SecretString,
    port: u16,
}

const GOOD: &str = r#"{"user":"app","password":"CANARY-password-1","port":"5432"}"#;
const BAD: &str = r#"{"user":"app","password":"CANARY-password-2","port":"CANARY-port"}"#;
const MALFORMED: &str = r#"{"user":"app","password":"CANARY-password-3","port": }"#;

/// Loads a good, an invalid and a malformed secret; returns every text a user could see.
async fn exercise(seed: bool, provider_for: impl Fn(&str, &str) -> Provider) -> Vec<String> {
    let mut outputs = Vec::new();
    for value in [GOOD, BAD, MALFORMED] {
        let name = unique_name("test/canary");
        if seed {
            create_secret(&name, value).await;
        }
        match Creds::fetch(&provider_for(&name, value)).await {
            Ok(creds) => {
                assert_eq!((creds.user.as_str(), creds.port), ("app", 5432));
                outputs.push(format!("{creds:?}"));
                outputs.push(format!("{:?}", creds.password));
            }
            Err(err) => {
                outputs.push(err.to_string());
                outputs.push(format!("{err:?}"));
                outputs.push(format!("{err:#?}"));
            }
        }
    }
    outputs
}

#[tokio::test]
async fn no_canary_in_debug_display_errors_or_logs() {
    let (logs, _guard) = LogCapture::install();

    let mut outputs = Vec::new();
    outputs.extend(
        exercise(true, |name, _| {
            Provider::builder()
                .source(Source::Extension)
                .extension_port(agent_port())
                .var("NAME", name)
                .build()
        })
        .await,
    );
    outputs.extend(
        exercise(true, |name, _| {
            Provider::builder()
                .source(Source::Sdk)
                .var("NAME", name)
                .build()
        })
        .await,
    );
    outputs.extend(
        exercise(false, |name, value| {
            Provider::builder()
                .source(Source::Local)
                .var("NAME", name)
                .var(secrets_runtime::local_secret_var(name), value)
                .build()
        })
        .await,
    );

    assert_eq!(
        outputs.len(),
        3 * (2 + 3 + 3),
        "every source gave one good and two bad loads"
    );
    for output in &outputs {
        assert_no_canary(output, &[CANARY]);
    }
    let logs = logs.text();
    assert!(
        logs.contains("fetched secret"),
        "our fetches were logged: {logs}"
    );
    assert!(
        logs.contains("aws_smithy"),
        "the SDK's own TRACE logs were captured too"
    );
    // Every fetch is in a span with the secret's name, the source and the latency.
    for part in [
        "secret_fetch{secret=test/canary-",
        "source=extension",
        "source=sdk",
        "source=local",
        "latency_ms=",
    ] {
        assert!(
            logs.contains(part),
            "no `{part}` in the fetch spans: {logs}"
        );
    }
    assert_no_canary(&logs, &[CANARY]);
}

#[test]
fn provider_debug_shows_no_token_and_no_local_values() {
    let builder = Provider::builder()
        .extension_token("CANARY-token")
        .var("SECRETS_LOCAL_APP", r#"{"password":"CANARY-local"}"#);
    let builder_debug = format!("{builder:?}");
    assert!(
        builder_debug.contains("SECRETS_LOCAL_APP"),
        "names are shown: {builder_debug}"
    );
    assert_no_canary(&builder_debug, &[CANARY]);
    let provider_debug = format!("{:?}", builder.build());
    assert_no_canary(&provider_debug, &[CANARY]);
}
