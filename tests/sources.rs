//! Structs that read several secrets and parameters: one round trip per load (one
//! `BatchGetSecretValue` and one `GetParameters` through the SDK, concurrent requests within
//! the connection limit through the extension), one cache entry per struct, and errors that
//! name the secret or parameter at fault.

use std::sync::Arc;
use std::time::Duration;

use secrets_runtime::{
    Error, ExposeSecret, FieldProblem, FromSecret, Item, Provider, SecretString, Snapshot, Source,
    SourceKind,
};
use secrets_tests::{
    CountingProxy, Fault, FaultServer, TempDir, agent_port, create_secret, free_port, moto_url,
    put_parameter, put_secret, unique_name,
};

/// Two secrets (the struct's own and another) and two parameters (one `SecureString`, one
/// `StringList`).
#[derive(Debug, FromSecret)]
#[secret(name = "{P}/app")]
struct Mixed {
    db_host: String,
    #[secret(from = "{P}/api", key = "token")]
    api_token: SecretString,
    #[secret(parameter = "/{P}/password")]
    password: SecretString,
    #[secret(parameter = "/{P}/hosts")]
    hosts: Vec<String>,
}

/// Seeds moto with the values of [`Mixed`] under a fresh prefix, and returns the prefix.
async fn seed_mixed() -> String {
    let prefix = unique_name("test/mixed");
    create_secret(&format!("{prefix}/app"), r#"{"db_host":"db.internal"}"#).await;
    create_secret(&format!("{prefix}/api"), r#"{"token":"api-token-1"}"#).await;
    put_parameter(&format!("/{prefix}/password"), "SecureString", "pw-1").await;
    put_parameter(
        &format!("/{prefix}/hosts"),
        "StringList",
        "a.internal,b.internal",
    )
    .await;
    prefix
}

fn moto_port() -> u16 {
    let url = moto_url();
    url.rsplit(':')
        .next()
        .and_then(|port| port.trim_end_matches('/').parse().ok())
        .unwrap_or_else(|| panic!("no port in SECRETS_TEST_MOTO_URL {url}"))
}

/// A provider that reads through the SDK from `port` (moto, or a counting proxy before it).
async fn sdk_provider(port: u16, prefix: &str) -> Provider {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ssm::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .load()
        .await;
    Provider::builder()
        .source(Source::Sdk)
        .sdk_client(aws_sdk_secretsmanager::Client::new(&config))
        .ssm_client(aws_sdk_ssm::Client::new(&config))
        .var("P", prefix)
        .build()
}

/// A provider that reads through the extension API on `port` (the agent, or a counting proxy
/// before it).
fn extension_provider(port: u16, prefix: &str) -> Provider {
    Provider::builder()
        .source(Source::Extension)
        .extension_port(port)
        .var("P", prefix)
        .build()
}

#[tokio::test]
async fn sdk_loads_two_secrets_and_two_parameters_in_one_call_each() {
    let prefix = seed_mixed().await;
    let proxy = CountingProxy::start(moto_port()).await;
    let mixed = Mixed::fetch(&sdk_provider(proxy.port(), &prefix).await)
        .await
        .expect("loads");
    assert_eq!(mixed.db_host, "db.internal");
    assert_eq!(mixed.api_token.expose_secret(), "api-token-1");
    assert_eq!(
        mixed.password.expose_secret(),
        "pw-1",
        "SecureString is decrypted"
    );
    assert_eq!(mixed.hosts, ["a.internal", "b.internal"]);
    assert_eq!(
        (
            proxy.calls("BatchGetSecretValue"),
            proxy.calls("GetParameters")
        ),
        (1, 1),
        "one call per service: {:?}",
        proxy.operations()
    );
    assert_eq!(
        proxy.requests(),
        2,
        "nothing else: {:?}",
        proxy.operations()
    );
}

/// 25 secrets; the test reads a sample of the fields, and checks the rest through `Debug`.
#[derive(Debug, FromSecret)]
#[allow(dead_code)]
struct TwentyFive {
    #[secret(from = "{P}/s00", key = "v")]
    s00: u32,
    #[secret(from = "{P}/s01", key = "v")]
    s01: u32,
    #[secret(from = "{P}/s02", key = "v")]
    s02: u32,
    #[secret(from = "{P}/s03", key = "v")]
    s03: u32,
    #[secret(from = "{P}/s04", key = "v")]
    s04: u32,
    #[secret(from = "{P}/s05", key = "v")]
    s05: u32,
    #[secret(from = "{P}/s06", key = "v")]
    s06: u32,
    #[secret(from = "{P}/s07", key = "v")]
    s07: u32,
    #[secret(from = "{P}/s08", key = "v")]
    s08: u32,
    #[secret(from = "{P}/s09", key = "v")]
    s09: u32,
    #[secret(from = "{P}/s10", key = "v")]
    s10: u32,
    #[secret(from = "{P}/s11", key = "v")]
    s11: u32,
    #[secret(from = "{P}/s12", key = "v")]
    s12: u32,
    #[secret(from = "{P}/s13", key = "v")]
    s13: u32,
    #[secret(from = "{P}/s14", key = "v")]
    s14: u32,
    #[secret(from = "{P}/s15", key = "v")]
    s15: u32,
    #[secret(from = "{P}/s16", key = "v")]
    s16: u32,
    #[secret(from = "{P}/s17", key = "v")]
    s17: u32,
    #[secret(from = "{P}/s18", key = "v")]
    s18: u32,
    #[secret(from = "{P}/s19", key = "v")]
    s19: u32,
    #[secret(from = "{P}/s20", key = "v")]
    s20: u32,
    #[secret(from = "{P}/s21", key = "v")]
    s21: u32,
    #[secret(from = "{P}/s22", key = "v")]
    s22: u32,
    #[secret(from = "{P}/s23", key = "v")]
    s23: u32,
    #[secret(from = "{P}/s24", key = "v")]
    s24: u32,
}

#[tokio::test]
async fn sdk_splits_25_secrets_into_two_batches() {
    let prefix = unique_name("test/batch25");
    for i in 0..25 {
        create_secret(&format!("{prefix}/s{i:02}"), &format!(r#"{{"v":"{i}"}}"#)).await;
    }
    let proxy = CountingProxy::start(moto_port()).await;
    let all = TwentyFive::fetch(&sdk_provider(proxy.port(), &prefix).await)
        .await
        .expect("loads");
    assert_eq!(
        (all.s00, all.s13, all.s19, all.s20, all.s24),
        (0, 13, 19, 20, 24)
    );
    let debug = format!("{all:?}");
    for i in 0..25 {
        assert!(
            debug.contains(&format!("s{i:02}: {i},")) || debug.contains(&format!("s{i:02}: {i} ")),
            "{debug}"
        );
    }
    assert_eq!(
        proxy.calls("BatchGetSecretValue"),
        2,
        "20 + 5: {:?}",
        proxy.operations()
    );
    assert_eq!(proxy.requests(), 2, "{:?}", proxy.operations());
}

#[derive(Debug, FromSecret)]
struct ThreeSecrets {
    #[secret(from = "{P}/one", key = "v")]
    #[allow(dead_code)]
    one: String,
    #[secret(from = "{P}/two", key = "v")]
    #[allow(dead_code)]
    two: String,
    #[secret(from = "{P}/three", key = "v")]
    #[allow(dead_code)]
    three: String,
}

#[tokio::test]
async fn a_missing_secret_in_a_batch_is_named() {
    let prefix = unique_name("test/batch-missing");
    create_secret(&format!("{prefix}/one"), r#"{"v":"1"}"#).await;
    create_secret(&format!("{prefix}/three"), r#"{"v":"3"}"#).await;
    let proxy = CountingProxy::start(moto_port()).await;
    let err = ThreeSecrets::fetch(&sdk_provider(proxy.port(), &prefix).await)
        .await
        .unwrap_err();
    let missing = format!("{prefix}/two");
    assert!(
        matches!(&err, Error::NotFound { item: Item::Secret(name), via: SourceKind::Sdk } if *name == missing),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        format!("secret `{missing}` was not found (via sdk)")
    );
    assert_eq!(proxy.calls("BatchGetSecretValue"), 1);

    // Two missing: both are reported, not only the first.
    let prefix = unique_name("test/batch-missing");
    create_secret(&format!("{prefix}/two"), r#"{"v":"2"}"#).await;
    let err = ThreeSecrets::fetch(&sdk_provider(proxy.port(), &prefix).await)
        .await
        .unwrap_err();
    let Error::Several(errors) = &err else {
        panic!("expected Several, got {err:?}")
    };
    let named: Vec<_> = errors
        .iter()
        .map(|e| match e {
            Error::NotFound { item, .. } => item.clone(),
            other => panic!("expected NotFound, got {other:?}"),
        })
        .collect();
    assert_eq!(
        named,
        [
            Item::secret(format!("{prefix}/one")),
            Item::secret(format!("{prefix}/three"))
        ]
    );
    assert!(err.to_string().starts_with("2 errors: "), "{err}");
}

#[derive(Debug, FromSecret)]
struct Flags {
    #[secret(parameter = "/{P}/present")]
    present: bool,
    #[secret(parameter = "/{P}/absent-optional")]
    optional: Option<bool>,
    #[secret(parameter = "/{P}/absent-default", default = "7")]
    retries: u32,
}

#[derive(Debug, FromSecret)]
struct RequiredFlag {
    #[secret(parameter = "/{P}/absent")]
    #[allow(dead_code)]
    flag: bool,
}

#[tokio::test]
async fn a_missing_parameter_reads_as_a_missing_value() {
    let prefix = unique_name("test/flags");
    put_parameter(&format!("/{prefix}/present"), "String", "true").await;
    let provider = sdk_provider(moto_port(), &prefix).await;
    let flags = Flags::fetch(&provider).await.expect("loads");
    assert_eq!(
        (flags.present, flags.optional, flags.retries),
        (true, None, 7)
    );

    let err = RequiredFlag::fetch(&provider).await.unwrap_err();
    let absent = format!("/{prefix}/absent");
    let Error::InvalidFields { item, fields } = &err else {
        panic!("expected InvalidFields, got {err:?}")
    };
    assert_eq!(item, &Item::parameter(&absent));
    assert_eq!(fields[0].problem, FieldProblem::Missing);
    assert_eq!(
        err.to_string(),
        format!("parameter `{absent}`: the value is missing (expected bool)")
    );
}

#[tokio::test]
async fn one_cache_entry_one_refresh_one_snapshot() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "{P}/app")]
    struct Cached {
        db_host: String,
        #[secret(from = "{P}/api", key = "token")]
        api_token: SecretString,
        #[secret(parameter = "/{P}/password")]
        password: SecretString,
        #[secret(parameter = "/{P}/hosts")]
        hosts: Vec<String>,
    }
    let prefix = seed_mixed().await;
    let proxy = CountingProxy::start(moto_port()).await;
    let provider = Arc::new(sdk_provider(proxy.port(), &prefix).await);
    let first = Cached::load_with(provider).await.expect("loads");
    assert_eq!(first.api_token.expose_secret(), "api-token-1");

    // Rotate every source; one forced refresh fetches them all, in one call per service.
    put_secret(&format!("{prefix}/app"), r#"{"db_host":"db2.internal"}"#).await;
    put_secret(&format!("{prefix}/api"), r#"{"token":"api-token-2"}"#).await;
    put_parameter(&format!("/{prefix}/password"), "SecureString", "pw-2").await;
    put_parameter(&format!("/{prefix}/hosts"), "StringList", "c.internal").await;
    let second = Cached::refresh_now().await.expect("refreshes");
    assert_eq!(second.db_host, "db2.internal");
    assert_eq!(second.api_token.expose_secret(), "api-token-2");
    assert_eq!(second.password.expose_secret(), "pw-2");
    assert_eq!(second.hosts, ["c.internal"]);
    // The snapshot taken before the refresh still shows one consistent set of values.
    assert_eq!(
        (first.db_host.as_str(), first.password.expose_secret()),
        ("db.internal", "pw-1")
    );
    assert_eq!(
        (
            proxy.calls("BatchGetSecretValue"),
            proxy.calls("GetParameters")
        ),
        (2, 2),
        "{:?}",
        proxy.operations()
    );
    let stats = Cached::stats();
    assert_eq!((stats.loads, stats.forced_refreshes), (1, 1), "{stats:?}");
    assert_eq!(Snapshot::source(&Cached::get()), SourceKind::Sdk);
}

/// Polls `future` once: a load registers its fetches in its first poll.
fn poll_once<F: std::future::Future>(future: std::pin::Pin<&mut F>) -> std::task::Poll<F::Output> {
    future.poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
}

/// Reads two of [`Mixed`]'s four items, under other keys' names.
#[derive(Debug, FromSecret)]
#[secret(name = "{P}/api")]
struct ApiAndPassword {
    token: SecretString,
    #[secret(parameter = "/{P}/password")]
    password: SecretString,
}

/// Loads of two structs at once through one provider: the second joins the first's fetches of
/// the items they share, so each item is fetched once and both decode the same version.
async fn two_structs_at_once(
    provider: &Provider,
) -> (Result<Mixed, Error>, Result<ApiAndPassword, Error>) {
    let mut mixed = std::pin::pin!(Mixed::fetch(provider));
    let mut api = std::pin::pin!(ApiAndPassword::fetch(provider));
    assert!(poll_once(mixed.as_mut()).is_pending());
    assert!(poll_once(api.as_mut()).is_pending());
    tokio::join!(mixed, api)
}

#[tokio::test]
async fn structs_loading_at_once_share_fetches_through_the_sdk() {
    let prefix = seed_mixed().await;
    let proxy = CountingProxy::start(moto_port()).await;
    let (mixed, api) = two_structs_at_once(&sdk_provider(proxy.port(), &prefix).await).await;
    let (mixed, api) = (mixed.expect("Mixed loads"), api.expect("the other loads"));
    assert_eq!(mixed.api_token.expose_secret(), "api-token-1");
    assert_eq!(api.token.expose_secret(), "api-token-1");
    assert_eq!(mixed.password.expose_secret(), "pw-1");
    assert_eq!(api.password.expose_secret(), "pw-1");
    assert_eq!(
        proxy.requests(),
        2,
        "Mixed's batch of secrets and of parameters only: {:?}",
        proxy.operations()
    );
}

#[tokio::test]
async fn structs_loading_at_once_share_fetches_through_the_agent() {
    let prefix = seed_mixed().await;
    let proxy = CountingProxy::start(agent_port()).await;
    let provider = extension_provider(proxy.port(), &prefix);
    // The agent does not serve Parameter Store: both fail on the password, with one request.
    let (mixed, api) = two_structs_at_once(&provider).await;
    for err in [mixed.unwrap_err(), api.unwrap_err()] {
        assert!(
            err.to_string().contains("does not serve Parameter Store"),
            "{err}"
        );
    }
    assert_eq!(proxy.requests(), 4, "Mixed's four items, each once");
}

#[tokio::test]
async fn the_agent_serves_the_secrets_part() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "{P}/app")]
    struct Secrets {
        db_host: String,
        #[secret(from = "{P}/api", key = "token")]
        api_token: SecretString,
        #[secret(from = "{P}/api", key = "token")]
        same_token_again: SecretString,
    }
    let prefix = seed_mixed().await;
    let proxy = CountingProxy::start(agent_port()).await;
    let provider = extension_provider(proxy.port(), &prefix);
    let secrets = Secrets::fetch(&provider)
        .await
        .expect("loads through the agent");
    assert_eq!(secrets.db_host, "db.internal");
    assert_eq!(secrets.api_token.expose_secret(), "api-token-1");
    assert_eq!(secrets.same_token_again.expose_secret(), "api-token-1");
    assert_eq!(proxy.requests(), 2, "one request per distinct secret");
}

#[tokio::test]
async fn auto_mode_falls_back_to_the_sdk_for_every_source() {
    let prefix = seed_mixed().await;
    let provider = Provider::builder()
        .source(Source::Auto)
        .extension_port(free_port())
        .var("P", &prefix)
        .build();
    // The SDK finds moto through AWS_ENDPOINT_URL, set by scripts/test.sh.
    let mixed = Mixed::fetch(&provider)
        .await
        .expect("loads through the SDK");
    assert_eq!(mixed.password.expose_secret(), "pw-1");
    assert_eq!(mixed.hosts, ["a.internal", "b.internal"]);
}

/// The extension's Parameter Store endpoint (which the agent does not serve), played by the
/// fault server with the documented request and response shapes.
#[derive(Debug, FromSecret)]
#[secret(name = "app/{STAGE}")]
struct OverExtension {
    db_host: String,
    #[secret(parameter = "/app/{STAGE}/api key")]
    api_key: SecretString,
    #[secret(parameter = "/app/{STAGE}/hosts")]
    hosts: Vec<String>,
    #[secret(parameter = "/app/{STAGE}/limit", default = "10")]
    limit: u32,
}

fn extension(server: &FaultServer) -> Provider {
    Provider::builder()
        .source(Source::Extension)
        .extension_port(server.port())
        .extension_token("token-for-tests")
        .extension_deadline(Duration::from_millis(300))
        .var("STAGE", "prd")
        .build()
}

#[tokio::test]
async fn extension_parameter_endpoint() {
    let server = FaultServer::start(vec![Fault::Route(vec![
        (
            "/secretsmanager/get?secretId=app%2Fprd".into(),
            Fault::secret("app/prd", r#"{"db_host":"db"}"#),
        ),
        (
            "name=%2Fapp%2Fprd%2Fapi%20key&".into(),
            Fault::parameter("/app/prd/api key", "SecureString", "k-123"),
        ),
        (
            "name=%2Fapp%2Fprd%2Fhosts&".into(),
            Fault::parameter("/app/prd/hosts", "StringList", "a,b,c"),
        ),
        (
            "name=%2Fapp%2Fprd%2Flimit&".into(),
            Fault::aws(
                400,
                "ParameterNotFound",
                "Parameter /app/prd/limit not found.",
            ),
        ),
    ])])
    .await;
    let loaded = OverExtension::fetch(&extension(&server))
        .await
        .expect("loads");
    assert_eq!(loaded.db_host, "db");
    assert_eq!(loaded.api_key.expose_secret(), "k-123");
    assert_eq!(loaded.hosts, ["a", "b", "c"]);
    assert_eq!(
        loaded.limit, 10,
        "a parameter that does not exist takes the default"
    );

    let mut targets: Vec<_> = server
        .requests()
        .into_iter()
        .map(|r| {
            assert_eq!(r.token.as_deref(), Some("token-for-tests"), "{}", r.target);
            r.target
        })
        .collect();
    targets.sort();
    assert_eq!(
        targets,
        [
            "/secretsmanager/get?secretId=app%2Fprd",
            "/systemsmanager/parameters/get?name=%2Fapp%2Fprd%2Fapi%20key&withDecryption=true",
            "/systemsmanager/parameters/get?name=%2Fapp%2Fprd%2Fhosts&withDecryption=true",
            "/systemsmanager/parameters/get?name=%2Fapp%2Fprd%2Flimit&withDecryption=true",
        ]
    );
}

#[tokio::test]
async fn extension_parameter_errors_name_the_parameter() {
    let server = FaultServer::start(vec![Fault::Route(vec![
        (
            "/secretsmanager/get".into(),
            Fault::secret("app/prd", r#"{"db_host":"db"}"#),
        ),
        (
            "api%20key".into(),
            Fault::aws(
                400,
                "AccessDeniedException",
                "User is not authorized to perform ssm:GetParameter",
            ),
        ),
        (
            "hosts".into(),
            Fault::aws(400, "InvalidKeyId", "the KMS key is disabled"),
        ),
        (
            "limit".into(),
            Fault::parameter("/app/prd/limit", "String", "ten"),
        ),
    ])])
    .await;
    let err = OverExtension::fetch(&extension(&server)).await.unwrap_err();
    let Error::Several(errors) = &err else {
        panic!("expected Several, got {err:?}")
    };
    assert_eq!(errors.len(), 2, "{err}");
    let denied = &errors[0];
    assert!(
        matches!(denied, Error::AccessDenied { item: Item::Parameter(name), .. } if name == "/app/prd/api key"),
        "{denied:?}"
    );
    assert_eq!(
        denied.policy_statement().as_deref(),
        Some(
            r#"{"Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:GetParameters"], "Resource": "arn:aws:ssm:*:*:parameter/app/prd/api key"}"#
        )
    );
    assert!(
        matches!(&errors[1], Error::Decryption { item: Item::Parameter(name), .. } if name == "/app/prd/hosts"),
        "{:?}",
        errors[1]
    );
    assert!(
        errors[1].to_string().contains("kms:Decrypt"),
        "{}",
        errors[1]
    );

    // Once fetched, a value that does not decode names the parameter too.
    let server = FaultServer::start(vec![Fault::Route(vec![
        (
            "/secretsmanager/get".into(),
            Fault::secret("app/prd", r#"{"db_host":"db"}"#),
        ),
        (
            "api%20key".into(),
            Fault::parameter("/app/prd/api key", "SecureString", "k"),
        ),
        (
            "hosts".into(),
            Fault::parameter("/app/prd/hosts", "StringList", "a"),
        ),
        (
            "limit".into(),
            Fault::parameter("/app/prd/limit", "String", "ten"),
        ),
    ])])
    .await;
    let err = OverExtension::fetch(&extension(&server)).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "parameter `/app/prd/limit`: the value is not a valid u32 (invalid digit found in string)"
    );
}

#[derive(Debug, FromSecret)]
struct FiveParameters {
    #[secret(parameter = "/p/1")]
    one: u8,
    #[secret(parameter = "/p/2")]
    two: u8,
    #[secret(parameter = "/p/3")]
    three: u8,
    #[secret(parameter = "/p/4")]
    four: u8,
    #[secret(parameter = "/p/5")]
    five: u8,
}

#[tokio::test]
async fn extension_requests_run_at_once_within_the_connection_limit() {
    let slow = || {
        Fault::Delay(
            Duration::from_millis(200),
            Box::new(Fault::parameter("/p/n", "String", "1")),
        )
    };
    for (configure, limit) in [(None, 3), (Some("2"), 2), (Some("5"), 5)] {
        let server = FaultServer::start(vec![slow()]).await;
        let mut builder = Provider::builder()
            .source(Source::Extension)
            .extension_port(server.port());
        if let Some(max) = configure {
            builder = builder
                .var("PARAMETERS_SECRETS_EXTENSION_MAX_CONNECTIONS", max)
                .env()
                .expect("valid settings")
                .extension_port(server.port());
        }
        let five = FiveParameters::fetch(&builder.build())
            .await
            .expect("loads");
        assert_eq!(five.one + five.two + five.three + five.four + five.five, 5);
        assert_eq!(server.requests().len(), 5);
        let peak = server.peak_in_flight();
        assert!(
            peak > 1 && peak <= limit,
            "limit {limit}: {peak} requests at once"
        );
    }
}

/// A struct of five parameters of its own, for loads that share no item.
macro_rules! five_parameters {
    ($name:ident: $one:literal, $two:literal, $three:literal, $four:literal, $five:literal) => {
        #[derive(Debug, FromSecret)]
        struct $name {
            #[secret(parameter = $one)]
            one: u8,
            #[secret(parameter = $two)]
            two: u8,
            #[secret(parameter = $three)]
            three: u8,
            #[secret(parameter = $four)]
            four: u8,
            #[secret(parameter = $five)]
            five: u8,
        }
    };
}

five_parameters!(FiveMore: "/q/1", "/q/2", "/q/3", "/q/4", "/q/5");
five_parameters!(FiveOthers: "/r/1", "/r/2", "/r/3", "/r/4", "/r/5");

/// The connection limit holds across loads: three loads of 5 parameters each at once through
/// one provider send at most the limit's worth of requests at once.
#[tokio::test]
async fn the_connection_limit_is_per_provider_not_per_load() {
    let server = FaultServer::start(vec![Fault::Delay(
        Duration::from_millis(100),
        Box::new(Fault::parameter("/p/n", "String", "1")),
    )])
    .await;
    let provider = Provider::builder()
        .source(Source::Extension)
        .extension_port(server.port())
        .extension_max_connections(2)
        .build();
    let (a, b, c) = tokio::join!(
        FiveParameters::fetch(&provider),
        FiveMore::fetch(&provider),
        FiveOthers::fetch(&provider)
    );
    let sums = [
        a.map(|f| f.one + f.two + f.three + f.four + f.five),
        b.map(|f| f.one + f.two + f.three + f.four + f.five),
        c.map(|f| f.one + f.two + f.three + f.four + f.five),
    ];
    for sum in sums {
        assert_eq!(sum.expect("loads"), 5);
    }
    assert_eq!(server.requests().len(), 15);
    let peak = server.peak_in_flight();
    assert!(peak <= 2, "{peak} requests at once, limit 2");
}

#[tokio::test]
async fn sources_waiting_for_a_connection_share_the_load_deadline() {
    // The extension is not ready for the whole load, and takes 200 ms to say so. 5 sources
    // share 3 connections, one attempt at a time (a connection is not held while a source
    // pauses between retries), under one 1 s deadline: every source is tried, none gets a
    // deadline of its own, and never more than 3 requests are under way.
    let server = FaultServer::start(vec![Fault::Delay(
        Duration::from_millis(200),
        Box::new(Fault::NotReady),
    )])
    .await;
    let provider = Provider::builder()
        .source(Source::Extension)
        .extension_port(server.port())
        .extension_deadline(Duration::from_secs(1))
        .build();
    let err = FiveParameters::fetch(&provider).await.unwrap_err();
    let Error::Several(errors) = &err else {
        panic!("expected Several, got {err:?}")
    };
    assert_eq!(errors.len(), 5);
    assert!(
        errors.iter().all(|e| matches!(e, Error::NotReady { .. })),
        "{err}"
    );
    let attempts = |name: &str| {
        let target = format!("name=%2Fp%2F{name}&");
        server
            .requests()
            .iter()
            .filter(|r| r.target.contains(&target))
            .count()
    };
    for source in ["1", "2", "3", "4", "5"] {
        assert!(attempts(source) >= 1, "/p/{source} was tried");
    }
    assert!(server.peak_in_flight() <= 3, "{}", server.peak_in_flight());
}

#[tokio::test]
async fn the_agent_does_not_serve_parameters_and_auto_mode_falls_back() {
    #[derive(Debug, FromSecret)]
    struct Parameter {
        #[secret(parameter = "/{P}/password")]
        password: Option<SecretString>,
    }
    let prefix = seed_mixed().await;
    let through_agent = extension_provider(agent_port(), &prefix);
    // A bare 404 from the agent is not "the parameter does not exist".
    let err = Parameter::fetch(&through_agent).await.unwrap_err();
    assert!(
        matches!(&err, Error::Service { item: Item::Parameter(name), code, .. }
            if *name == format!("/{prefix}/password") && code == "HTTP 404"),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("does not serve Parameter Store"),
        "{err}"
    );
    let auto = Provider::builder()
        .source(Source::Auto)
        .extension_port(agent_port())
        .var("P", &prefix)
        .build();
    let loaded = Parameter::fetch(&auto).await.expect("the SDK reads it");
    assert_eq!(
        loaded.password.as_ref().map(|p| p.expose_secret()),
        Some("pw-1")
    );
}

#[tokio::test]
async fn local_parameters_from_variables_a_file_and_a_directory() {
    let dir = TempDir::new("local-parameters");
    let file = dir.path.join("secrets.local.json");
    std::fs::write(
        &file,
        r#"{"app/dev": {"db_host": "localhost"},
            "$parameters": {"/app/dev/hosts": ["a", "b"], "/app/dev/api key": "from-file"}}"#,
    )
    .expect("writing the file");
    let provider = Provider::builder()
        .source(Source::Local)
        .local_path(&file)
        .var("STAGE", "dev")
        .var("SECRETS_LOCAL_PARAMETER_APP_DEV_LIMIT", "3")
        .build();
    let loaded = OverExtension::fetch(&provider).await.expect("loads");
    assert_eq!(loaded.db_host, "localhost");
    assert_eq!(loaded.api_key.expose_secret(), "from-file");
    assert_eq!(loaded.hosts, ["a", "b"]);
    assert_eq!(loaded.limit, 3, "the variable wins");

    let root = dir.path.join("tree");
    std::fs::create_dir_all(root.join("app")).expect("mkdir");
    std::fs::create_dir_all(root.join("$parameters/app/dev")).expect("mkdir");
    std::fs::write(root.join("app/dev.json"), r#"{"db_host": "tree"}"#).expect("write");
    std::fs::write(root.join("$parameters/app/dev/api key"), "from-tree\n").expect("write");
    std::fs::write(root.join("$parameters/app/dev/hosts"), "x,y").expect("write");
    let provider = Provider::builder()
        .source(Source::Local)
        .local_path(&root)
        .var("STAGE", "dev")
        .build();
    let loaded = OverExtension::fetch(&provider).await.expect("loads");
    assert_eq!(loaded.db_host, "tree");
    assert_eq!(
        loaded.api_key.expose_secret(),
        "from-tree",
        "one trailing line break is dropped"
    );
    assert_eq!(loaded.hosts, ["x", "y"]);
    assert_eq!(loaded.limit, 10, "absent: the default");
}

#[derive(Debug, FromSecret)]
#[allow(dead_code)]
struct Pinned {
    #[secret(parameter = "/{P}/password:no-such-label", default)]
    password: String,
}

/// A version or label that does not exist is an error naming the selector, never the field's
/// default: through the SDK (moto) and through the extension.
#[tokio::test]
async fn a_selector_that_does_not_exist_is_an_error_not_a_default() {
    let prefix = seed_mixed().await;
    let err = Pinned::fetch(&sdk_provider(moto_port(), &prefix).await)
        .await
        .unwrap_err();
    let expected = format!("parameter `/{prefix}/password:no-such-label`");
    assert!(
        matches!(&err, Error::NotFound { item, .. } if item.to_string() == expected),
        "{err:?}"
    );

    let server = FaultServer::start(vec![Fault::aws(
        400,
        "ParameterVersionNotFound",
        "Systems Manager could not find version no-such-label of /prd/password.",
    )])
    .await;
    let provider = Provider::builder()
        .source(Source::Extension)
        .extension_port(server.port())
        .var("P", "prd")
        .build();
    let err = Pinned::fetch(&provider).await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("parameter `/prd/password:no-such-label` was not found"),
        "{err}"
    );
}
