//! The local source, decoding, placeholders and the errors of a load: no peers needed.

use std::sync::Arc;

use secrets_runtime::{
    Error, ExposeSecret, FieldProblem, FromSecret, Item, Provider, SecretString, Snapshot, Source,
    SourceKind,
};
use secrets_tests::{TempDir, assert_no_canary};

#[derive(Debug, FromSecret)]
#[secret(name = "{STAGE}/lambda/jay")]
struct Jay {
    db_host: String,
    #[secret(key = "db_port")]
    port: u16,
    #[secret(default)]
    debug: bool,
    max_connections: Option<u32>,
    api_key: SecretString,
}

const SECRETS_FILE: &str = r#"{
  "dev/lambda/jay": {"db_host": "dev-db", "db_port": "5432", "api_key": "CANARY-dev-api-key"},
  "prd/lambda/jay": {"db_host": "prd-db", "db_port": 6543, "debug": true, "max_connections": "50",
                     "api_key": "CANARY-prd-api-key"}
}"#;

fn local(stage: &str, file: &TempDir) -> Provider {
    let path = file.path.join("secrets.json");
    std::fs::write(&path, SECRETS_FILE).expect("writing the secrets file");
    Provider::builder()
        .source(Source::Local)
        .local_path(path)
        .var("STAGE", stage)
        .build()
}

#[tokio::test]
async fn stage_placeholder_picks_the_secret_from_the_same_code() {
    let dir = TempDir::new("stage");
    let dev = Jay::fetch(&local("dev", &dir)).await.expect("dev loads");
    let prd = Jay::fetch(&local("prd", &dir)).await.expect("prd loads");

    assert_eq!(
        (dev.db_host.as_str(), dev.port, dev.debug),
        ("dev-db", 5432, false)
    );
    assert_eq!(dev.max_connections, None);
    assert_eq!(dev.api_key.expose_secret(), "CANARY-dev-api-key");

    assert_eq!(
        (prd.db_host.as_str(), prd.port, prd.debug),
        ("prd-db", 6543, true)
    );
    assert_eq!(prd.max_connections, Some(50));
    assert_eq!(prd.api_key.expose_secret(), "CANARY-prd-api-key");
}

#[tokio::test]
async fn debug_output_redacts_secret_fields() {
    let dir = TempDir::new("debug");
    let jay = Jay::fetch(&local("prd", &dir)).await.expect("loads");
    let debug = format!("{jay:?}");
    assert!(debug.contains("prd-db"), "{debug}");
    assert_no_canary(&debug, &["CANARY"]);
}

#[tokio::test]
async fn missing_placeholder_variable_names_variable_and_template() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "{SECRETS_TESTS_UNSET_VARIABLE}/lambda/jay")]
    struct Unset {
        #[allow(dead_code)]
        db_host: String,
    }
    let provider = Provider::builder().source(Source::Local).build();
    let err = Unset::fetch(&provider).await.unwrap_err();
    assert!(
        matches!(&err, Error::MissingVar { var, template }
            if var == "SECRETS_TESTS_UNSET_VARIABLE" && template == "{SECRETS_TESTS_UNSET_VARIABLE}/lambda/jay"),
        "{err:?}"
    );
}

#[tokio::test]
async fn every_bad_field_is_reported_at_once_without_values() {
    let provider = Provider::builder()
        .source(Source::Local)
        .var("STAGE", "bad")
        .var(
            "SECRETS_LOCAL_BAD_LAMBDA_JAY",
            r#"{"db_host": null, "db_port": "CANARY-port", "debug": "CANARY-flag", "max_connections": "CANARY-max"}"#,
        )
        .build();
    let err = Jay::fetch(&provider).await.unwrap_err();
    let Error::InvalidFields { item, fields } = &err else {
        panic!("expected InvalidFields, got {err:?}")
    };
    assert_eq!(item, &Item::secret("bad/lambda/jay"));
    let summary: Vec<_> = fields
        .iter()
        .map(|f| (f.key.as_str(), f.expected, f.problem.clone()))
        .collect();
    assert_eq!(
        summary,
        [
            ("db_host", "String", FieldProblem::Null),
            (
                "db_port",
                "u16",
                FieldProblem::Invalid {
                    reason: "invalid digit found in string".into()
                }
            ),
            (
                "debug",
                "bool",
                FieldProblem::Invalid {
                    reason: "provided string was not `true` or `false`".into()
                }
            ),
            (
                "max_connections",
                "u32",
                FieldProblem::Invalid {
                    reason: "invalid digit found in string".into()
                }
            ),
            ("api_key", "SecretString", FieldProblem::Missing),
        ]
    );
    let text = err.to_string();
    assert!(text.starts_with("secret `bad/lambda/jay`: key `db_host` is null (expected String); key `db_port` is not a valid u16"), "{text}");
    assert_no_canary(&text, &["CANARY"]);
    assert_no_canary(&format!("{err:?}"), &["CANARY"]);
}

#[tokio::test]
async fn plain_text_secret_is_not_read_as_keys() {
    let provider = Provider::builder()
        .source(Source::Local)
        .var("STAGE", "txt")
        .var("SECRETS_LOCAL_TXT_LAMBDA_JAY", "CANARY-plain-text")
        .build();
    let err = Jay::fetch(&provider).await.unwrap_err();
    assert!(
        matches!(
            &err,
            Error::WrongShape {
                found: "plain text",
                ..
            }
        ),
        "{err:?}"
    );
    assert_no_canary(&err.to_string(), &["CANARY"]);
}

#[tokio::test]
async fn malformed_json_reports_line_and_column_only() {
    let provider = Provider::builder()
        .source(Source::Local)
        .var("STAGE", "broken")
        .var(
            "SECRETS_LOCAL_BROKEN_LAMBDA_JAY",
            "{\"api_key\": \"CANARY-broken\",\n \"db_port\": }",
        )
        .build();
    let err = Jay::fetch(&provider).await.unwrap_err();
    assert!(
        matches!(&err, Error::InvalidJson { line: 2, .. }),
        "{err:?}"
    );
    assert_no_canary(&err.to_string(), &["CANARY"]);
}

#[tokio::test]
async fn directory_layout_and_not_found() {
    let dir = TempDir::new("dir");
    std::fs::create_dir_all(dir.path.join("dev/lambda")).expect("mkdir");
    std::fs::write(
        dir.path.join("dev/lambda/jay.json"),
        r#"{"db_host": "from-dir", "db_port": 1, "api_key": "k"}"#,
    )
    .expect("write");
    let provider = |stage: &str| {
        Provider::builder()
            .source(Source::Local)
            .local_path(&dir.path)
            .var("STAGE", stage)
            .build()
    };
    let jay = Jay::fetch(&provider("dev"))
        .await
        .expect("loads from the directory");
    assert_eq!(jay.db_host, "from-dir");
    let err = Jay::fetch(&provider("stg")).await.unwrap_err();
    assert!(
        matches!(&err, Error::NotFound { item: Item::Secret(secret), via: SourceKind::Local } if secret == "stg/lambda/jay"),
        "{err:?}"
    );
}

#[tokio::test]
async fn cached_load_and_hot_path_read() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "cached/app")]
    struct Cached {
        region: String,
    }
    assert!(Cached::try_get().is_none(), "nothing before the first load");
    let provider = Provider::builder()
        .source(Source::Local)
        .var("SECRETS_LOCAL_CACHED_APP", r#"{"region": "eu-west-1"}"#)
        .build();
    let loaded = Cached::load_with(Arc::new(provider)).await.expect("loads");
    assert_eq!(loaded.region, "eu-west-1");
    let read = Cached::get();
    assert_eq!(read.region, "eu-west-1");
    assert_eq!(Snapshot::source(&read), SourceKind::Local);
    assert!(!Snapshot::is_expired(&read));
    // A second load while fresh is served from the cache.
    assert_eq!(Cached::load().await.expect("cached").region, "eu-west-1");
}

#[tokio::test]
async fn a_failed_first_load_poisons_nothing() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "retry/app")]
    struct Retried {
        region: String,
    }
    let dir = TempDir::new("retry");
    let path = dir.path.join("secrets.json");
    let provider = Arc::new(
        Provider::builder()
            .source(Source::Local)
            .local_path(&path)
            .build(),
    );
    let err = Retried::load_with(Arc::clone(&provider)).await.unwrap_err();
    assert!(matches!(err, Error::Local { .. }), "{err:?}");
    assert!(Retried::try_get().is_none());

    std::fs::write(&path, r#"{"retry/app": {"region": "us-east-2"}}"#).expect("write");
    // A forced refresh tries at once (a plain load waits out the backoff after a failure).
    let loaded = Retried::refresh_now()
        .await
        .expect("a forced refresh tries again");
    assert_eq!(loaded.region, "us-east-2");
}

#[test]
#[should_panic(expected = "was read before it was loaded")]
fn get_before_load_panics_with_a_hint() {
    #[derive(FromSecret)]
    #[secret(name = "never/loaded")]
    struct Never {
        #[allow(dead_code)]
        x: String,
    }
    let _ = Never::get();
}
