//! The SDK source against service errors that moto cannot produce (throttling, access denied,
//! decryption failure), played by the fault-injecting server as the Secrets Manager endpoint:
//! each maps to the same `Error` variant as through the extension.

use std::time::Duration;

use aws_sdk_secretsmanager::config::retry::RetryConfig;
use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use secrets_runtime::{Error, FromSecret, Provider, Source, SourceKind};
use secrets_tests::{Fault, FaultServer, assert_no_canary};

#[derive(Debug, FromSecret)]
#[secret(name = "test/lambda/jay")]
struct Jay {
    db_host: String,
}

/// Which error a case expects.
type Expect = fn(&Error) -> bool;

/// An SDK client for the fault server, with one retry so that retried errors stay quick.
fn client(server: &FaultServer) -> aws_sdk_secretsmanager::Client {
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(format!("http://127.0.0.1:{}", server.port()))
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("testing", "testing", None, None, "tests"))
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(2)
                .with_initial_backoff(Duration::from_millis(10)),
        )
        .build();
    aws_sdk_secretsmanager::Client::from_conf(config)
}

async fn load(server: &FaultServer) -> Result<Jay, Error> {
    let provider = Provider::builder()
        .source(Source::Sdk)
        .sdk_client(client(server))
        .build();
    tokio::time::timeout(Duration::from_secs(30), Jay::fetch(&provider))
        .await
        .expect("no hang")
}

#[tokio::test]
async fn service_errors_map_to_the_same_variants_as_the_extension() {
    let cases: [(Fault, Expect); 5] = [
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
                        via: SourceKind::Sdk,
                        ..
                    }
                )
            },
        ),
        (
            Fault::aws(
                400,
                "AccessDeniedException",
                "User: arn:aws:sts::1:assumed-role/jay is not authorized to perform: secretsmanager:GetSecretValue on resource: test/lambda/jay",
            ),
            |e| {
                matches!(
                    e,
                    Error::AccessDenied {
                        via: SourceKind::Sdk,
                        ..
                    }
                ) && e
                    .to_string()
                    .contains("secretsmanager:GetSecretValue on resource: test/lambda/jay")
                    && e.to_string().ends_with(
                        r#""Resource": "arn:aws:secretsmanager:*:*:secret:test/lambda/jay-??????"}"#,
                    )
            },
        ),
        (
            Fault::aws(
                400,
                "DecryptionFailure",
                "Secrets Manager can't decrypt the protected secret text.",
            ),
            |e| {
                matches!(
                    e,
                    Error::Decryption {
                        via: SourceKind::Sdk,
                        ..
                    }
                ) && e.to_string().contains("kms:Decrypt")
            },
        ),
        (
            Fault::aws(400, "ThrottlingException", "Rate exceeded"),
            |e| {
                matches!(
                    e,
                    Error::Throttled {
                        via: SourceKind::Sdk,
                        ..
                    }
                )
            },
        ),
        (
            Fault::aws(500, "InternalServiceError", "oops"),
            |e| matches!(e, Error::Service { via: SourceKind::Sdk, code, .. } if code == "InternalServiceError"),
        ),
    ];
    for (fault, expected) in cases {
        let server = FaultServer::start(vec![fault.clone()]).await;
        let err = load(&server).await.unwrap_err();
        assert!(expected(&err), "{fault:?}: {err:?}");
        assert_eq!(
            err.is_transient(),
            matches!(
                err,
                Error::Throttled { .. }
                    | Error::Service {
                        status: Some(500),
                        ..
                    }
            ),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn throttling_is_retried_by_the_sdk_before_it_is_reported() {
    let server = FaultServer::start(vec![
        Fault::aws(400, "ThrottlingException", "Rate exceeded"),
        Fault::Respond(
            200,
            r#"{"Name":"test/lambda/jay","VersionId":"v1","SecretString":"{\"db_host\":\"db\"}"}"#
                .into(),
        ),
    ])
    .await;
    let jay = load(&server).await.expect("the second attempt succeeds");
    assert_eq!(jay.db_host, "db");
    assert_eq!(server.requests().len(), 2);
}

/// Answers without a readable AWS error code (a proxy or an endpoint answering with XML or an
/// empty body): the HTTP status decides. 403 is access refused, other 4xx are final, 5xx may
/// pass; the status is kept in the error.
#[tokio::test]
async fn answers_without_an_error_code_are_classified_by_their_status() {
    let cases: [(Fault, Expect, bool); 3] = [
        (
            Fault::Respond(403, "<AccessDenied>proxy says no</AccessDenied>".into()),
            |e| {
                matches!(
                    e,
                    Error::AccessDenied {
                        via: SourceKind::Sdk,
                        ..
                    }
                )
            },
            false,
        ),
        (
            Fault::Respond(418, String::new()),
            |e| {
                matches!(e, Error::Service { status: Some(418), code, .. } if code == "HTTP 418")
                    && !e.to_string().contains("Unknown")
            },
            false,
        ),
        (
            Fault::Respond(503, String::new()),
            |e| {
                matches!(
                    e,
                    Error::Service {
                        status: Some(503),
                        ..
                    }
                )
            },
            true,
        ),
    ];
    for (fault, expected, transient) in cases {
        let server = FaultServer::start(vec![fault.clone()]).await;
        let err = load(&server).await.unwrap_err();
        assert!(expected(&err), "{fault:?}: {err:?}");
        assert_eq!(err.is_transient(), transient, "{err:?}");
    }
}

/// A final 4xx answer with a code this crate has no variant for is not transient.
#[tokio::test]
async fn final_service_errors_are_not_transient() {
    for code in ["InvalidRequestException", "ValidationException"] {
        let server = FaultServer::start(vec![Fault::aws(400, code, "no")]).await;
        let err = load(&server).await.unwrap_err();
        assert!(
            matches!(&err, Error::Service { status: Some(400), code: c, .. } if c == code),
            "{err:?}"
        );
        assert!(!err.is_transient(), "{err:?}");
    }
}

/// An endpoint that accepts and never answers, through a client with no timeouts of its own:
/// the load's own bound ends it with `TimedOut`, never a hang.
#[tokio::test]
async fn a_hanging_endpoint_is_bounded_by_the_load() {
    let server = FaultServer::start(vec![Fault::Hang]).await;
    let err = load(&server).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::TimedOut {
                via: SourceKind::Sdk,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_transient());
}

/// An answer cut short is `InvalidResponse` (the SDK's `ResponseError`), which keeps the
/// SDK's error as its `source()`, without the raw response.
#[tokio::test]
async fn an_answer_cut_short_keeps_its_cause() {
    let server = FaultServer::start(vec![Fault::Truncate]).await;
    let err = load(&server).await.unwrap_err();
    let Error::InvalidResponse {
        via: SourceKind::Sdk,
        reason,
        cause: Some(_),
        ..
    } = &err
    else {
        panic!("expected InvalidResponse with a cause, got {err:?}")
    };
    // The message spells out the chain under the SDK's own layer, which `source()` starts.
    let source = std::error::Error::source(&err).expect("the SDK's error");
    let chain: Vec<String> = std::iter::successors(Some(source), |e| e.source())
        .map(ToString::to_string)
        .collect();
    assert_eq!(*reason, format!("response error: {}", chain.join(": ")));
    assert_no_canary(&format!("{err:?}"), &["SecretStr"]);
}

/// A 200 body that the SDK cannot parse reads as the SDK reports it (an unhandled error of the
/// operation): a `Service` error named by its status, holding nothing of the body.
#[tokio::test]
async fn an_unparsable_answer_holds_nothing_of_the_body() {
    let cut = r#"{"Name":"test/lambda/jay","SecretString":"{\"db_host\":\"CANARY-cut"#;
    let server = FaultServer::start(vec![Fault::Respond(200, cut.into())]).await;
    let err = load(&server).await.unwrap_err();
    assert!(
        matches!(&err, Error::Service { status: Some(200), code, .. } if code == "HTTP 200"),
        "{err:?}"
    );
    assert_no_canary(&format!("{err} {err:?}"), &["CANARY"]);
}

/// A struct of two secrets: the SDK reads them in one `BatchGetSecretValue`.
#[derive(Debug, FromSecret)]
struct Pair {
    #[secret(from = "test/pair/a", key = "value")]
    a: String,
    #[secret(from = "test/pair/b", key = "value")]
    b: String,
}

/// A `BatchGetSecretValue` answer with these `(name, secret string)` values.
fn batch_page(entries: &[(&str, &str)], next_token: Option<&str>) -> Fault {
    let values: Vec<_> = entries
        .iter()
        .map(|(name, value)| {
            serde_json::json!({
                "Name": name,
                "ARN": format!("arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-AbCdEf"),
                "VersionId": "v1",
                "SecretString": value,
                "VersionStages": ["AWSCURRENT"],
                "CreatedDate": 1_700_000_000,
            })
        })
        .collect();
    let mut body = serde_json::json!({ "SecretValues": values, "Errors": [] });
    if let Some(token) = next_token {
        body["NextToken"] = serde_json::json!(token);
    }
    Fault::Respond(200, body.to_string())
}

async fn load_pair(server: &FaultServer) -> Pair {
    let provider = Provider::builder()
        .source(Source::Sdk)
        .sdk_client(client(server))
        .build();
    tokio::time::timeout(Duration::from_secs(30), Pair::fetch(&provider))
        .await
        .expect("no hang")
        .expect("loads")
}

#[tokio::test]
async fn a_paged_batch_answer_is_followed_to_its_last_page() {
    let server = FaultServer::start(vec![
        batch_page(&[("test/pair/a", r#"{"value":"one"}"#)], Some("page-2")),
        batch_page(&[("test/pair/b", r#"{"value":"two"}"#)], None),
    ])
    .await;
    let pair = load_pair(&server).await;
    assert_eq!((pair.a.as_str(), pair.b.as_str()), ("one", "two"));
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "two pages, no GetSecretValue");
    assert!(
        !requests[0].body.contains("NextToken"),
        "{}",
        requests[0].body
    );
    assert!(
        requests[1].body.contains(r#""NextToken":"page-2""#),
        "{}",
        requests[1].body
    );
}

#[tokio::test]
async fn secrets_that_a_batch_answer_does_not_name_are_fetched_at_once() {
    // The batch names neither secret: each is asked with GetSecretValue, whose answers take a
    // second each, so two calls made together overlap and two made in turn do not.
    let server = FaultServer::start(vec![
        batch_page(&[], None),
        Fault::Delay(
            Duration::from_secs(1),
            Box::new(Fault::Respond(
                200,
                serde_json::json!({
                    "Name": "test/pair",
                    "VersionId": "v1",
                    "SecretString": r#"{"value":"same"}"#,
                    "CreatedDate": 1_700_000_000,
                })
                .to_string(),
            )),
        ),
    ])
    .await;
    let pair = load_pair(&server).await;
    assert_eq!((pair.a.as_str(), pair.b.as_str()), ("same", "same"));
    assert_eq!(server.requests().len(), 3, "one batch, two GetSecretValue");
    assert_eq!(
        server.peak_in_flight(),
        2,
        "the two calls were made together"
    );
}
