//! The SDK source against moto, and TTL expiry making a rotation visible.

use std::sync::Arc;
use std::time::Duration;

use secrets_runtime::{Error, FromSecret, Item, Provider, Snapshot, Source, SourceKind};
use secrets_runtime::{ExposeSecret, SecretSlice, SecretString};
use secrets_tests::{create_binary_secret, create_secret, moto_url, put_secret, unique_name};

fn sdk_with_name(name: &str) -> Provider {
    // The SDK finds moto through AWS_ENDPOINT_URL, set by scripts/test.sh, as a user's
    // deployment would set its region and endpoint.
    assert!(
        std::env::var("AWS_ENDPOINT_URL").is_ok_and(|url| url == moto_url()),
        "AWS_ENDPOINT_URL must point at moto; run ./scripts/test.sh"
    );
    Provider::builder()
        .source(Source::Sdk)
        .var("NAME", name)
        .build()
}

#[tokio::test]
async fn loads_through_the_sdk() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "{NAME}")]
    struct Db {
        host: String,
        port: u16,
        tls: bool,
        ratio: f64,
    }
    let name = unique_name("test/sdk/jay");
    create_secret(
        &name,
        r#"{"host":"db","port":5432,"tls":"true","ratio":0.25}"#,
    )
    .await;
    let db = Db::fetch(&sdk_with_name(&name))
        .await
        .expect("loads through the SDK");
    assert_eq!(
        (db.host.as_str(), db.port, db.tls, db.ratio),
        ("db", 5432, true, 0.25)
    );
}

#[tokio::test]
async fn missing_secret_is_not_found() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "{NAME}")]
    struct Missing {
        #[allow(dead_code)]
        v: String,
    }
    let name = unique_name("test/sdk/missing");
    let err = Missing::fetch(&sdk_with_name(&name)).await.unwrap_err();
    assert!(
        matches!(&err, Error::NotFound { item: Item::Secret(secret), via: SourceKind::Sdk } if *secret == name),
        "{err:?}"
    );
}

#[tokio::test]
async fn rotation_is_visible_after_the_ttl_and_not_before() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "{SECRETS_TESTS_ROTATION_NAME:-unset}", ttl = "1s")]
    struct Rotating {
        password: String,
    }
    let name = unique_name("test/sdk/rotating");
    create_secret(&name, r#"{"password":"v1"}"#).await;
    let provider = Arc::new(
        Provider::builder()
            .source(Source::Sdk)
            .var("SECRETS_TESTS_ROTATION_NAME", &name)
            .build(),
    );
    let first = Rotating::load_with(provider).await.expect("first load");
    assert_eq!(first.password, "v1");
    assert_eq!(Snapshot::source(&first), SourceKind::Sdk);

    put_secret(&name, r#"{"password":"v2"}"#).await;
    // Within the TTL the cached value is served, by both paths.
    assert_eq!(Rotating::get().password, "v1");
    assert_eq!(Rotating::load().await.expect("cached").password, "v1");

    // The TTL is 1 s minus up to 10 % jitter: after 1.2 s the value has expired and the
    // expiry timer has refreshed it.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    assert!(
        Snapshot::is_expired(&first),
        "the first value is expired or replaced"
    );
    let refreshed = Rotating::load().await.expect("refresh");
    assert_eq!(
        refreshed.password, "v2",
        "the rotated value is visible after the TTL"
    );
    assert!(!Snapshot::is_expired(&refreshed));
}

#[tokio::test]
async fn expired_values_refresh_in_the_background_without_a_load() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "{SECRETS_TESTS_BACKGROUND_NAME:-unset}", ttl = "1s")]
    struct Background {
        value: String,
    }
    let name = unique_name("test/sdk/background");
    create_secret(&name, r#"{"value":"old"}"#).await;
    let provider = Arc::new(
        Provider::builder()
            .source(Source::Sdk)
            .var("SECRETS_TESTS_BACKGROUND_NAME", &name)
            .build(),
    );
    Background::load_with(provider).await.expect("first load");
    put_secret(&name, r#"{"value":"new"}"#).await;
    // Only synchronous reads from here on: the expiry timer refreshes in the background.
    let mut seen = String::new();
    for _ in 0..400 {
        tokio::time::sleep(Duration::from_millis(10)).await;
        seen.clone_from(&Background::get().value);
        if seen == "new" {
            break;
        }
    }
    assert_eq!(seen, "new", "the background refresh stored the new value");
    assert_eq!(Background::stats().refreshes, 1);
}

#[derive(Debug, PartialEq, serde::Deserialize)]
struct Pool {
    size: u32,
}

#[derive(Debug, FromSecret)]
#[secret(name = "unused", rename_all = "SCREAMING_SNAKE_CASE")]
struct Database {
    db_host: String,
    db_port: u16,
}

#[tokio::test]
async fn rename_all_flatten_and_json_through_the_sdk() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "{NAME}", rename_all = "camelCase")]
    struct Service {
        #[secret(flatten)]
        database: Database,
        api_url: String,
        #[secret(json)]
        pool: Pool,
    }
    let name = unique_name("test/sdk/attrs");
    create_secret(
        &name,
        r#"{"DB_HOST":"db","DB_PORT":"5432","apiUrl":"https://api","pool":{"size":4}}"#,
    )
    .await;
    let s = Service::fetch(&sdk_with_name(&name)).await.expect("loads");
    assert_eq!(
        (s.database.db_host.as_str(), s.database.db_port),
        ("db", 5432)
    );
    assert_eq!(s.api_url, "https://api");
    assert_eq!(s.pool, Pool { size: 4 });
}

#[tokio::test]
async fn whole_and_binary_secrets_through_the_sdk() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "{NAME}")]
    struct Token {
        #[secret(whole)]
        token: SecretString,
    }
    let name = unique_name("test/sdk/whole");
    create_secret(&name, "plain-text-token").await;
    let t = Token::fetch(&sdk_with_name(&name)).await.expect("loads");
    assert_eq!(t.token.expose_secret(), "plain-text-token");

    #[derive(Debug, FromSecret)]
    #[secret(name = "{NAME}")]
    struct Cert {
        #[secret(binary)]
        der: Vec<u8>,
    }
    let name = unique_name("test/sdk/binary");
    create_binary_secret(&name, &[0, 1, 2, 255]).await;
    let c = Cert::fetch(&sdk_with_name(&name)).await.expect("loads");
    assert_eq!(c.der, [0, 1, 2, 255]);

    // The same bytes into a type that zeroizes them on drop, and whose `Debug` hides them.
    #[derive(Debug, FromSecret)]
    #[secret(name = "{NAME}")]
    struct SecretCert {
        #[secret(binary)]
        der: SecretSlice<u8>,
    }
    let c = SecretCert::fetch(&sdk_with_name(&name))
        .await
        .expect("loads");
    assert_eq!(c.der.expose_secret(), [0, 1, 2, 255]);
    assert!(format!("{c:?}").contains("REDACTED"), "{c:?}");
}

#[tokio::test]
async fn version_stage_reads_the_previous_version_after_a_rotation() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "{NAME}", version_stage = "AWSPREVIOUS")]
    struct Previous {
        password: String,
    }
    #[derive(Debug, FromSecret)]
    #[secret(name = "{NAME}")]
    struct Current {
        password: String,
    }
    let name = unique_name("test/sdk/stages");
    create_secret(&name, r#"{"password":"old"}"#).await;
    put_secret(&name, r#"{"password":"new"}"#).await;
    let provider = sdk_with_name(&name);
    assert_eq!(
        Current::fetch(&provider).await.expect("current").password,
        "new"
    );
    assert_eq!(
        Previous::fetch(&provider).await.expect("previous").password,
        "old"
    );
}

#[tokio::test]
async fn version_id_reads_that_exact_version() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "{NAME}", version_id = "00000000-0000-4000-8000-000000000001")]
    struct Pinned {
        password: String,
    }
    let name = unique_name("test/sdk/version-id");
    create_secret(&name, r#"{"password":"first"}"#).await;
    secrets_tests::moto()
        .await
        .put_secret_value()
        .secret_id(&name)
        .secret_string(r#"{"password":"pinned"}"#)
        .client_request_token("00000000-0000-4000-8000-000000000001")
        .send()
        .await
        .expect("a version with a known id");
    put_secret(&name, r#"{"password":"latest"}"#).await;
    assert_eq!(
        Pinned::fetch(&sdk_with_name(&name))
            .await
            .expect("pinned")
            .password,
        "pinned"
    );
}

/// Set in the child process of [`a_missing_region_is_a_configuration_error_naming_it`].
const NO_REGION_CHILD: &str = "SECRETS_TEST_NO_REGION_CHILD";

/// Without a region, the SDK source fails with an error that says what to set, and is not
/// transient (retrying cannot help). The region variables are process-wide, so the test runs
/// its check in a child process of this test binary started without them, and asserts that
/// the child passed.
#[test]
fn a_missing_region_is_a_configuration_error_naming_it() {
    if std::env::var_os(NO_REGION_CHILD).is_some() {
        return missing_region_child();
    }
    let output = std::process::Command::new(std::env::current_exe().expect("test binary"))
        .args([
            "--exact",
            "a_missing_region_is_a_configuration_error_naming_it",
            "--nocapture",
        ])
        .env(NO_REGION_CHILD, "1")
        .env_remove("AWS_REGION")
        .env_remove("AWS_DEFAULT_REGION")
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/nonexistent/aws/config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/aws/credentials",
        )
        .output()
        .expect("runs the child");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("1 passed"),
        "the child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn missing_region_child() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "test/sdk/no-region")]
    struct Regionless {
        #[allow(dead_code)]
        value: String,
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let provider = Provider::builder().source(Source::Sdk).build();
    let err = runtime
        .block_on(Regionless::fetch(&provider))
        .expect_err("no region");
    let message = err.to_string();
    println!("no region: {message} ({err:?})");
    assert!(message.contains("AWS_REGION"), "{message}");
    assert!(!err.is_transient(), "{err:?}");
}
