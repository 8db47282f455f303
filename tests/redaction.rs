//! Canary secret values, loaded through every source and through failing decodes: none may
//! appear in a `Debug` or `Display` output, an error, or a log line (captured at TRACE level).

use secrets_runtime::{FromSecret, Provider, SecretString, Source};
use secrets_tests::{
    Fault, FaultServer, LogCapture, agent_port, assert_no_canary, create_secret, put_parameter,
    unique_name,
};

/// Every canary starts with this, so one check covers them all.
const CANARY: &str = "CANARY-";

#[derive(Debug, FromSecret)]
#[secret(name = "{NAME}")]
struct Creds {
    user: String,
    password: SecretString,
    port: u16,
    /// A map whose keys are data: in the bad secret, a canary key with an invalid value.
    #[secret(json)]
    limits: std::collections::HashMap<String, u32>,
}

const GOOD: &str =
    r#"{"user":"app","password":"CANARY-password-1","port":"5432","limits":{"api":1}}"#;
const BAD: &str = r#"{"user":"app","password":"CANARY-password-2","port":"CANARY-port","limits":{"CANARY-key":"CANARY-limit"}}"#;
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
                assert_eq!(creds.limits.get("api"), Some(&1));
                outputs.push(format!("{creds:?}"));
                outputs.push(format!("{:?}", creds.password));
            }
            Err(err) => {
                if value == BAD {
                    // The map's canary key was reached, and withheld.
                    assert!(err.to_string().contains("key `limits`"), "{err}");
                }
                outputs.push(err.to_string());
                outputs.push(format!("{err:?}"));
                outputs.push(format!("{err:#?}"));
            }
        }
    }
    outputs
}

/// Two secrets (read in one batch through the SDK) and two parameters (one `SecureString`).
#[derive(Debug, FromSecret)]
struct Spread {
    #[secret(from = "{P}/one", key = "password")]
    password: SecretString,
    #[secret(from = "{P}/two", key = "port")]
    port: u16,
    #[secret(parameter = "/{P}/token")]
    token: SecretString,
    #[secret(parameter = "/{P}/level")]
    level: u16,
}

/// The values of [`Spread`]'s sources: good ones, then ones where every number is a canary.
const SPREAD: [[&str; 4]; 2] = [
    [
        r#"{"password":"CANARY-batch-1"}"#,
        r#"{"port":"1"}"#,
        "CANARY-parameter-1",
        "2",
    ],
    [
        r#"{"password":"CANARY-batch-2"}"#,
        r#"{"port":"CANARY-batch-port"}"#,
        "CANARY-parameter-2",
        "CANARY-parameter-level",
    ],
];

/// Loads [`Spread`] with good and bad values through the SDK (batched), the extension's
/// parameter endpoint (the fault server) and the local source; returns every text a user
/// could see.
async fn exercise_spread() -> Vec<String> {
    let mut outputs = Vec::new();
    for values in SPREAD {
        let prefix = unique_name("test/canary-spread");
        create_secret(&format!("{prefix}/one"), values[0]).await;
        create_secret(&format!("{prefix}/two"), values[1]).await;
        put_parameter(&format!("/{prefix}/token"), "SecureString", values[2]).await;
        put_parameter(&format!("/{prefix}/level"), "String", values[3]).await;
        let server = FaultServer::start(vec![Fault::Route(vec![
            ("one".into(), Fault::secret("one", values[0])),
            ("two".into(), Fault::secret("two", values[1])),
            (
                "token".into(),
                Fault::parameter("/token", "SecureString", values[2]),
            ),
            (
                "level".into(),
                Fault::parameter("/level", "String", values[3]),
            ),
        ])])
        .await;
        let providers = [
            Provider::builder()
                .source(Source::Sdk)
                .var("P", &prefix)
                .build(),
            Provider::builder()
                .source(Source::Extension)
                .extension_port(server.port())
                .var("P", &prefix)
                .build(),
            Provider::builder()
                .source(Source::Local)
                .var("P", &prefix)
                .var(
                    secrets_runtime::local_secret_var(&format!("{prefix}/one")),
                    values[0],
                )
                .var(
                    secrets_runtime::local_secret_var(&format!("{prefix}/two")),
                    values[1],
                )
                .var(
                    secrets_runtime::local_parameter_var(&format!("/{prefix}/token")),
                    values[2],
                )
                .var(
                    secrets_runtime::local_parameter_var(&format!("/{prefix}/level")),
                    values[3],
                )
                .build(),
        ];
        for provider in &providers {
            match Spread::fetch(provider).await {
                Ok(spread) => {
                    assert_eq!((spread.port, spread.level), (1, 2));
                    outputs.push(format!("{spread:?}"));
                    outputs.push(format!("{:?} {:?}", spread.password, spread.token));
                }
                Err(err) => {
                    outputs.push(err.to_string());
                    outputs.push(format!("{err:?}"));
                }
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
    let spread = exercise_spread().await;
    assert_eq!(
        spread.len(),
        3 * 2 + 3 * 2,
        "one good and one bad load per source"
    );
    outputs.extend(spread);
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
        "secret_batch_fetch{secrets=2",
        "parameter_batch_fetch{parameters=2",
        "parameter_fetch{parameter=/test/canary-spread-",
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
