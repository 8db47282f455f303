//! Generated code is lint-clean: this file derives structs with every attribute under strict
//! lints, and `cargo clippy --all-targets -- -D warnings` (CI) checks it with clippy's own.
#![deny(warnings, unused_qualifications, clippy::all, clippy::pedantic)]

use secrets_runtime::{FromSecret, Provider, SecretString, Source};

fn zero() -> u16 {
    0
}

fn parse_rate(text: &str) -> Result<u8, std::num::ParseIntError> {
    text.trim_end_matches('%').parse()
}

#[derive(Debug, serde::Deserialize)]
struct Pool {
    size: u32,
}

/// A nested struct for `flatten`.
#[derive(Debug, FromSecret)]
#[secret(
    name = "{STAGE:-dev}/db",
    rename_all = "SCREAMING_SNAKE_CASE",
    ttl = "10m"
)]
struct Database {
    db_host: String,
    db_port: u16,
}

/// Every keyed attribute.
#[derive(Debug, FromSecret)]
#[secret(
    name = "{STAGE:-dev}/lambda/jay",
    name_env = "JAY_SECRET_ARN",
    ttl = "90s",
    version_stage = "AWSCURRENT",
    rename_all = "camelCase"
)]
struct Jay {
    #[secret(flatten)]
    database: Database,
    #[secret(key = "api_url")]
    url: String,
    #[secret(default)]
    debug: bool,
    #[secret(default = "30")]
    timeout_secs: u64,
    #[secret(default_with = zero)]
    retries: u16,
    max_connections: Option<u32>,
    #[secret(json)]
    pool: Pool,
    #[secret(with = parse_rate)]
    sample_rate: u8,
    api_key: SecretString,
    #[secret(skip)]
    started: Option<std::time::Duration>,
}

/// `whole` with `version_id`.
#[derive(Debug, FromSecret)]
#[secret(name = "token", version_id = "00000000-0000-0000-0000-000000000000")]
struct Token {
    #[secret(whole)]
    token: SecretString,
}

/// `binary`.
#[derive(Debug, FromSecret)]
#[secret(name = "cert")]
struct Cert {
    #[secret(binary)]
    der: Vec<u8>,
}

/// Every source: other secrets (keyed, `whole`) and parameters (text, list, optional,
/// defaulted, keyed), with no container `name`.
#[derive(Debug, FromSecret)]
#[secret(ttl = "1m")]
struct Sourced {
    #[secret(from = "{STAGE:-dev}/shared", key = "region")]
    region: String,
    #[secret(from = "{STAGE:-dev}/token", whole)]
    token: SecretString,
    #[secret(parameter = "/app/{STAGE:-dev}/hosts")]
    hosts: Vec<String>,
    #[secret(parameter = "/app/{STAGE:-dev}/beta")]
    beta: Option<bool>,
    #[secret(parameter = "/app/{STAGE:-dev}/limit", default = "10")]
    limit: u32,
    #[secret(parameter = "/app/{STAGE:-dev}/retries", default_with = zero)]
    retries: u16,
    #[secret(parameter = "/app/{STAGE:-dev}/json", key = "level", default)]
    level: String,
}

/// A deprecated config: its derive must not warn about the struct's own deprecation (the
/// generated impl names the struct with the derive's hygiene, as thiserror does). Only the
/// user's own uses of deprecated items below carry `#[allow(deprecated)]`.
#[deprecated = "read `Jay` instead"]
#[derive(Debug, FromSecret)]
#[secret(name = "{STAGE:-dev}/old")]
struct Old {
    host: String,
}

/// A deprecated field type of the user's.
#[deprecated = "a plain `u8` will do"]
#[derive(Debug, PartialEq)]
struct Level(u8);

#[allow(deprecated)]
impl std::str::FromStr for Level {
    type Err = std::num::ParseIntError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.parse().map(Level)
    }
}

/// Deprecated items used by fields: each field that uses one allows it, and so does the code
/// generated for that field (a flattened struct, a field type); a deprecated field is
/// initialised without a warning.
#[derive(Debug, FromSecret)]
#[secret(name = "{STAGE:-dev}/new")]
struct New {
    #[allow(deprecated)]
    #[secret(flatten)]
    old: Old,
    #[allow(deprecated)]
    level: Level,
    #[deprecated = "read `level`"]
    port: u16,
}

/// The same uses, allowed for the whole struct.
#[allow(deprecated)]
#[derive(Debug, FromSecret)]
#[secret(name = "{STAGE:-dev}/newer")]
struct Newer {
    #[secret(flatten)]
    old: Old,
    level: Option<Level>,
}

#[tokio::test]
#[allow(deprecated)]
async fn deprecated_items_derive_without_warnings() {
    let provider = Provider::builder()
        .source(Source::Local)
        .var("SECRETS_LOCAL_DEV_OLD", r#"{"host":"h"}"#)
        .var(
            "SECRETS_LOCAL_DEV_NEW",
            r#"{"host":"n","level":2,"port":1}"#,
        )
        .var("SECRETS_LOCAL_DEV_NEWER", r#"{"host":"r"}"#)
        .build();
    let old = Old::fetch(&provider).await.expect("loads");
    assert_eq!(old.host, "h");
    let new = New::fetch(&provider).await.expect("loads");
    assert_eq!(
        (new.old.host.as_str(), &new.level, new.port),
        ("n", &Level(2), 1)
    );
    let newer = Newer::fetch(&provider).await.expect("loads");
    assert_eq!((newer.old.host.as_str(), newer.level), ("r", None));
}

#[tokio::test]
async fn strictly_linted_structs_load() {
    let provider = Provider::builder()
        .source(Source::Local)
        .var(
            "SECRETS_LOCAL_DEV_LAMBDA_JAY",
            r#"{"DB_HOST":"h","DB_PORT":1,"api_url":"u","pool":{"size":1},"sampleRate":"5%","apiKey":"k"}"#,
        )
        .build();
    let jay = Jay::fetch(&provider).await.expect("loads");
    assert_eq!(jay.database.db_host, "h");
    assert_eq!(jay.database.db_port, 1);
    assert_eq!(jay.url, "u");
    assert!(!jay.debug);
    assert_eq!(
        (jay.timeout_secs, jay.retries, jay.max_connections),
        (30, 0, None)
    );
    assert_eq!((jay.pool.size, jay.sample_rate), (1, 5));
    assert!(jay.started.is_none());
    assert!(format!("{:?}", jay.api_key).contains("REDACTED"));
    let provider = Provider::builder()
        .source(Source::Local)
        .var("SECRETS_LOCAL_TOKEN", "t")
        .build();
    assert!(
        format!("{:?}", Token::fetch(&provider).await.expect("loads").token).contains("REDACTED")
    );
    let provider = Provider::builder()
        .source(Source::Local)
        .var("SECRETS_LOCAL_CERT", "t")
        .build();
    assert!(
        Cert::fetch(&provider).await.is_err(),
        "local secrets are strings, not binary"
    );
    let _: fn(&Cert) -> &Vec<u8> = |c| &c.der;

    let provider = Provider::builder()
        .source(Source::Local)
        .var("SECRETS_LOCAL_DEV_SHARED", r#"{"region":"eu-west-1"}"#)
        .var("SECRETS_LOCAL_DEV_TOKEN", "t")
        .var("SECRETS_LOCAL_PARAMETER_APP_DEV_HOSTS", "a,b")
        .var(
            "SECRETS_LOCAL_PARAMETER_APP_DEV_JSON",
            r#"{"level":"debug"}"#,
        )
        .build();
    let sourced = Sourced::fetch(&provider).await.expect("loads");
    assert_eq!(
        (sourced.region.as_str(), sourced.hosts.len()),
        ("eu-west-1", 2)
    );
    assert_eq!(
        (
            sourced.beta,
            sourced.limit,
            sourced.retries,
            sourced.level.as_str()
        ),
        (None, 10, 0, "debug")
    );
    assert!(format!("{:?}", sourced.token).contains("REDACTED"));
}
