//! Every fault of the extension that the real agent cannot produce on demand, played by a
//! fault-injecting server: each case asserts the outcome and the number of attempts.

use std::time::Duration;

use secrets_runtime::{
    Error, ExposeSecret, FromSecret, Provider, SecretString, Source, SourceKind,
};
use secrets_tests::{Fault, FaultServer, assert_no_canary};

#[derive(Debug, FromSecret)]
#[secret(name = "{NAME:-test/lambda/jay}")]
struct Jay {
    db_host: String,
}

const GOOD: &str = r#"{"db_host":"db.internal"}"#;
/// Which error a case expects.
type Expect = fn(&Error) -> bool;

/// Bounds every load here: a hang fails the test instead of stalling the suite.
const NO_HANG: Duration = Duration::from_secs(30);

fn provider(server: &FaultServer) -> Provider {
    Provider::builder()
        .source(Source::Extension)
        .extension_port(server.port())
        .extension_token("test-token")
        .extension_request_timeout(Duration::from_millis(300))
        .extension_deadline(Duration::from_secs(3))
        .build()
}

/// A provider that gives up retrying after 300 ms, for faults that never clear.
fn short_deadline(server: &FaultServer) -> Provider {
    Provider::builder()
        .source(Source::Extension)
        .extension_port(server.port())
        .extension_deadline(Duration::from_millis(300))
        .build()
}

async fn load(provider: &Provider) -> Result<Jay, Error> {
    tokio::time::timeout(NO_HANG, Jay::fetch(provider))
        .await
        .expect("no hang")
}

#[tokio::test]
async fn not_ready_at_cold_start_is_retried_until_ready() {
    let server = FaultServer::start(vec![
        Fault::NotReady,
        Fault::NotReady,
        Fault::NotReady,
        Fault::secret("test/lambda/jay", GOOD),
    ])
    .await;
    let jay = load(&provider(&server))
        .await
        .expect("ready after three refusals");
    assert_eq!(jay.db_host, "db.internal");
    assert_eq!(server.requests().len(), 4);
}

#[tokio::test]
async fn never_ready_is_a_not_ready_error_after_the_deadline() {
    let server = FaultServer::start(vec![Fault::NotReady]).await;
    let provider = short_deadline(&server);
    let err = load(&provider).await.unwrap_err();
    let Error::NotReady { attempts, port, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(*port, server.port());
    assert_eq!(*attempts as usize, server.requests().len());
    assert!(*attempts > 1);
    assert!(err.is_transient());
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried() {
    for (name, faults) in [
        (
            "429",
            vec![Fault::Respond(429, "too many connections".into())],
        ),
        (
            "throttling",
            vec![Fault::aws(400, "ThrottlingException", "Rate exceeded")],
        ),
        ("500", vec![Fault::Respond(500, "internal".into())]),
        (
            "502",
            vec![Fault::aws(
                502,
                "ConnectionError",
                "could not reach Secrets Manager",
            )],
        ),
        ("504", vec![Fault::aws(504, "TimeoutError", "timed out")]),
        (
            "internal",
            vec![Fault::aws(500, "InternalServiceError", "oops")],
        ),
    ] {
        let mut script = faults.clone();
        script.extend(faults);
        script.push(Fault::secret("test/lambda/jay", GOOD));
        let server = FaultServer::start(script).await;
        let jay = load(&provider(&server))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e:?}"));
        assert_eq!(jay.db_host, "db.internal", "{name}");
        assert_eq!(
            server.requests().len(),
            3,
            "{name}: two failures, then success"
        );
    }
}

#[tokio::test]
async fn persistent_failures_end_with_their_own_variant_after_the_deadline() {
    let cases: [(Fault, Expect); 3] = [
        (Fault::Respond(429, String::new()), |e| {
            matches!(
                e,
                Error::Throttled {
                    via: SourceKind::Extension,
                    ..
                }
            )
        }),
        (
            Fault::Respond(503, "unavailable".into()),
            |e| matches!(e, Error::Service { code, .. } if code == "HTTP 503"),
        ),
        (
            Fault::aws(502, "ConnectionError", "upstream"),
            |e| matches!(e, Error::Service { code, .. } if code == "ConnectionError"),
        ),
    ];
    for (fault, expected) in cases {
        let server = FaultServer::start(vec![fault.clone()]).await;
        let provider = short_deadline(&server);
        let err = load(&provider).await.unwrap_err();
        assert!(expected(&err), "{fault:?}: {err:?}");
        assert!(err.is_transient(), "{err:?}");
        assert!(server.requests().len() > 1, "{fault:?} was retried");
    }
}

#[tokio::test]
async fn a_hang_times_out_and_is_retried_within_the_deadline() {
    let server =
        FaultServer::start(vec![Fault::Hang, Fault::secret("test/lambda/jay", GOOD)]).await;
    let jay = load(&provider(&server))
        .await
        .expect("the second attempt answers");
    assert_eq!(jay.db_host, "db.internal");
    assert_eq!(server.requests().len(), 2);

    let server = FaultServer::start(vec![Fault::Hang]).await;
    let provider = Provider::builder()
        .source(Source::Extension)
        .extension_port(server.port())
        .extension_request_timeout(Duration::from_millis(200))
        .extension_deadline(Duration::from_millis(500))
        .build();
    let err = load(&provider).await.unwrap_err();
    assert!(
        matches!(&err, Error::TimedOut { after, via: SourceKind::Extension, .. } if *after == Duration::from_millis(200)),
        "{err:?}"
    );
    assert!(
        server.requests().len() >= 2,
        "timed-out requests are retried"
    );
}

#[tokio::test]
async fn secrets_manager_timeout_millis_sets_the_request_timeout() {
    let server = FaultServer::start(vec![Fault::Hang]).await;
    let provider = Provider::builder()
        .var("SECRETS_MANAGER_TIMEOUT_MILLIS", "100")
        .var("SECRETS_EXTENSION_DEADLINE_MILLIS", "0")
        .var("SECRETS_SOURCE", "extension")
        .var(
            "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT",
            server.port().to_string(),
        )
        .env()
        .expect("valid settings")
        .build();
    let err = load(&provider).await.unwrap_err();
    // The extension's own upstream timeout plus 500 ms for it to answer.
    assert!(
        matches!(&err, Error::TimedOut { after, .. } if *after == Duration::from_millis(600)),
        "{err:?}"
    );
    assert_eq!(
        server.requests().len(),
        1,
        "a zero deadline makes one attempt"
    );
}

#[tokio::test]
async fn truncated_bodies_are_retried_then_reported() {
    let server = FaultServer::start(vec![
        Fault::Truncate,
        Fault::secret("test/lambda/jay", GOOD),
    ])
    .await;
    assert_eq!(
        load(&provider(&server)).await.expect("retried").db_host,
        "db.internal"
    );
    assert_eq!(server.requests().len(), 2);

    let server = FaultServer::start(vec![Fault::Truncate]).await;
    let provider = short_deadline(&server);
    let err = load(&provider).await.unwrap_err();
    assert!(
        matches!(&err, Error::Unreachable { attempts, .. } if *attempts > 1),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_body_that_is_not_json_is_reported_without_retry_or_content() {
    let server =
        FaultServer::start(vec![Fault::Respond(200, "<html>CANARY-page</html>".into())]).await;
    let err = load(&provider(&server)).await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::InvalidResponse {
                via: SourceKind::Extension,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(server.requests().len(), 1);
    assert_no_canary(&err.to_string(), &["CANARY"]);

    let server = FaultServer::start(vec![Fault::Respond(200, r#"{"Name":"x"}"#.into())]).await;
    let err = load(&provider(&server)).await.unwrap_err();
    assert!(
        err.to_string()
            .contains("neither `SecretString` nor `SecretBinary` is present"),
        "{err}"
    );
}

#[tokio::test]
async fn a_secret_binary_body_decodes_into_a_binary_field() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "cert")]
    struct Cert {
        #[secret(binary)]
        der: Vec<u8>,
    }
    let server = FaultServer::start(vec![Fault::Respond(
        200,
        r#"{"Name":"cert","VersionId":"v1","SecretBinary":"3q2+7w=="}"#.into(),
    )])
    .await;
    let cert = Cert::fetch(&provider(&server)).await.expect("binary");
    assert_eq!(cert.der, [0xde, 0xad, 0xbe, 0xef]);
}

#[tokio::test]
async fn final_answers_are_not_retried() {
    let cases: [(Fault, Expect); 5] = [
        (Fault::Respond(403, "Bad Token".into()), |e| {
            matches!(e, Error::BadToken { .. })
        }),
        (
            Fault::aws(
                400,
                "ResourceNotFoundException",
                "Secrets Manager can't find the specified secret.",
            ),
            |e| {
                matches!(
                    e,
                    Error::NotFound {
                        via: SourceKind::Extension,
                        ..
                    }
                )
            },
        ),
        (
            Fault::aws(404, "ResourceNotFoundException", "not found"),
            |e| matches!(e, Error::NotFound { .. }),
        ),
        (
            Fault::aws(
                400,
                "AccessDeniedException",
                "User: arn:aws:sts::1:assumed-role/jay is not authorized to perform: secretsmanager:GetSecretValue on resource: test/lambda/jay because no identity-based policy allows the secretsmanager:GetSecretValue action",
            ),
            |e| matches!(e, Error::AccessDenied { .. }),
        ),
        (
            Fault::aws(
                400,
                "DecryptionFailure",
                "Secrets Manager can't decrypt the protected secret text using the provided KMS key.",
            ),
            |e| matches!(e, Error::Decryption { .. }),
        ),
    ];
    for (fault, expected) in cases {
        let server = FaultServer::start(vec![fault.clone()]).await;
        let err = load(&provider(&server)).await.unwrap_err();
        assert!(expected(&err), "{fault:?}: {err:?}");
        assert!(!err.is_transient(), "{err:?}");
        assert_eq!(server.requests().len(), 1, "{fault:?} is final");
    }
}

#[tokio::test]
async fn access_denied_names_action_and_resource_and_prints_the_policy() {
    let server = FaultServer::start(vec![Fault::aws(
        400,
        "AccessDeniedException",
        "User: arn:aws:sts::123456789012:assumed-role/jay-role/jay is not authorized to perform: secretsmanager:GetSecretValue on resource: test/lambda/jay because no identity-based policy allows the secretsmanager:GetSecretValue action",
    )])
    .await;
    let err = load(&provider(&server)).await.unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("secretsmanager:GetSecretValue on resource: test/lambda/jay"),
        "{text}"
    );
    assert!(
        text.ends_with(r#"{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "arn:aws:secretsmanager:*:*:secret:test/lambda/jay-??????"}"#),
        "{text}"
    );
}

#[tokio::test]
async fn secret_ids_are_percent_encoded_and_never_change_the_query() {
    let names = [
        "test/lambda/jay",
        "a+b=c@d.e_f-g",
        "weird & name ? with # and %",
        "a&versionStage=AWSPREVIOUS",
        "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prd/jay-AbCdEf",
    ];
    for name in names {
        let server = FaultServer::start(vec![Fault::secret(name, GOOD)]).await;
        let provider = Provider::builder()
            .source(Source::Extension)
            .extension_port(server.port())
            .var("NAME", name)
            .build();
        load(&provider).await.expect("loads");
        let target = &server.requests()[0].target;
        let query = target
            .strip_prefix("/secretsmanager/get?")
            .expect("the documented path");
        let params: Vec<_> = query.split('&').collect();
        assert_eq!(params.len(), 1, "{name}: only secretId in {target}");
        let value = params[0].strip_prefix("secretId=").expect("secretId");
        assert!(
            value
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)),
            "{name}: {value} is fully encoded"
        );
        let decoded = percent_encoding::percent_decode_str(value)
            .decode_utf8()
            .expect("utf-8");
        assert_eq!(decoded, name);
    }
}

#[tokio::test]
async fn version_stage_and_id_are_sent_as_parameters() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "jay", version_stage = "AWSPREVIOUS", version_id = "v 1")]
    struct Versioned {
        #[allow(dead_code)]
        db_host: String,
    }
    let server = FaultServer::start(vec![Fault::secret("jay", GOOD)]).await;
    Versioned::fetch(&provider(&server)).await.expect("loads");
    assert_eq!(
        server.requests()[0].target,
        "/secretsmanager/get?secretId=jay&versionStage=AWSPREVIOUS&versionId=v%201"
    );
}

#[tokio::test]
async fn the_token_comes_from_the_first_variable_set() {
    let server = FaultServer::start(vec![Fault::secret("test/lambda/jay", GOOD)]).await;
    let with_vars = |vars: &[(&str, &str)]| {
        let mut builder = Provider::builder()
            .source(Source::Extension)
            .extension_port(server.port());
        for (name, value) in vars {
            builder = builder.var(*name, *value);
        }
        builder.build()
    };
    load(&with_vars(&[
        ("AWS_TOKEN", "from-aws-token"),
        ("AWS_SESSION_TOKEN", "session"),
    ]))
    .await
    .expect("loads");
    load(&with_vars(&[
        ("AWS_TOKEN", ""),
        ("AWS_SESSION_TOKEN", "session"),
    ]))
    .await
    .expect("loads");
    let tokens: Vec<_> = server.requests().into_iter().map(|r| r.token).collect();
    // An empty AWS_TOKEN is "set", as the agent reads it: an empty header is sent.
    assert_eq!(
        tokens,
        [Some("from-aws-token".to_owned()), Some(String::new())]
    );
}

#[tokio::test]
async fn connections_are_kept_alive_across_loads() {
    let server = FaultServer::start(vec![Fault::secret("test/lambda/jay", GOOD)]).await;
    let provider = provider(&server);
    for _ in 0..3 {
        load(&provider).await.expect("loads");
    }
    assert_eq!(server.requests().len(), 3);
    assert_eq!(
        server.connections(),
        1,
        "one keep-alive connection serves every load"
    );
}

#[tokio::test]
async fn secret_values_from_the_extension_stay_out_of_debug() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "pw")]
    struct Pw {
        password: SecretString,
    }
    let server = FaultServer::start(vec![Fault::secret("pw", r#"{"password":"CANARY-pw"}"#)]).await;
    let pw = Pw::fetch(&provider(&server)).await.expect("loads");
    assert_eq!(pw.password.expose_secret(), "CANARY-pw");
    assert_no_canary(&format!("{pw:?}"), &["CANARY"]);
}

/// `Duration::MAX` as the deadline and the request timeout saturates instead of overflowing an
/// instant: a not-ready extension is retried, and the load succeeds.
#[tokio::test]
async fn huge_durations_saturate() {
    let server = FaultServer::start(vec![
        Fault::NotReady,
        Fault::secret("test/lambda/jay", GOOD),
    ])
    .await;
    let provider = Provider::builder()
        .source(Source::Extension)
        .extension_port(server.port())
        .extension_request_timeout(Duration::MAX)
        .extension_deadline(Duration::MAX)
        .build();
    let jay = load(&provider).await.expect("loads after one retry");
    assert_eq!(jay.db_host, "db.internal");
    assert_eq!(server.requests().len(), 2);
}
