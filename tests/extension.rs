//! The extension source against the real AWS Secrets Manager Agent (pointed at moto).

use std::sync::Arc;

use secrets_runtime::{
    Error, ExposeSecret, FromSecret, Item, Provider, SecretString, Snapshot, Source, SourceKind,
};
use secrets_tests::{
    CountingProxy, agent_port, assert_no_canary, create_binary_secret, create_secret, put_secret,
    unique_name,
};

#[tokio::test]
async fn loads_through_the_agent() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "{NAME}")]
    struct Db {
        host: String,
        port: u16,
        password: SecretString,
    }
    let name = unique_name("test/lambda/jay");
    create_secret(
        &name,
        r#"{"host":"db.internal","port":"5432","password":"CANARY-agent-pw"}"#,
    )
    .await;

    let provider = Provider::builder()
        .source(Source::Extension)
        .extension_port(agent_port())
        .var("NAME", &name)
        .build();
    let db = Db::fetch(&provider).await.expect("loads through the agent");
    assert_eq!((db.host.as_str(), db.port), ("db.internal", 5432));
    assert_eq!(db.password.expose_secret(), "CANARY-agent-pw");
    assert_no_canary(&format!("{db:?}"), &["CANARY"]);
}

#[tokio::test]
async fn names_with_reserved_characters_reach_the_agent_intact() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "{NAME}")]
    struct Value {
        v: String,
    }
    // `/ + = @ . _ -` are valid in secret names; `+` and `=` change a query if not encoded.
    let name = unique_name("test/a+b=c@d.e_f-g");
    create_secret(&name, r#"{"v":"ok"}"#).await;
    let provider = Provider::builder()
        .source(Source::Extension)
        .extension_port(agent_port())
        .var("NAME", &name)
        .build();
    assert_eq!(Value::fetch(&provider).await.expect("loads").v, "ok");
}

#[tokio::test]
async fn hundred_concurrent_cold_loads_make_one_request() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "{SECRETS_TESTS_CONCURRENT_NAME:-unset}")]
    struct Shared {
        value: String,
    }
    let name = unique_name("test/concurrent");
    create_secret(&name, r#"{"value":"shared"}"#).await;
    let proxy = CountingProxy::start(agent_port()).await;
    let provider = Arc::new(
        Provider::builder()
            .source(Source::Extension)
            .extension_port(proxy.port())
            .var("SECRETS_TESTS_CONCURRENT_NAME", &name)
            .build(),
    );

    let barrier = Arc::new(tokio::sync::Barrier::new(100));
    let loads: Vec<_> = (0..100)
        .map(|_| {
            let provider = Arc::clone(&provider);
            let barrier = Arc::clone(&barrier);
            tokio::spawn(async move {
                barrier.wait().await;
                Shared::load_with(provider).await.map(|s| s.value.clone())
            })
        })
        .collect();
    for load in loads {
        assert_eq!(load.await.expect("task").expect("load"), "shared");
    }
    assert_eq!(
        proxy.requests(),
        1,
        "100 concurrent cold loads must share one fetch"
    );
    assert_eq!(Snapshot::source(&Shared::get()), SourceKind::Extension);
    assert_eq!(proxy.requests(), 1, "hot-path reads make no request");
}

#[tokio::test]
async fn missing_secret_is_not_found() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "{NAME}")]
    struct Missing {
        #[allow(dead_code)]
        v: String,
    }
    let name = unique_name("test/missing");
    let provider = Provider::builder()
        .source(Source::Extension)
        .extension_port(agent_port())
        .var("NAME", &name)
        .build();
    let err = Missing::fetch(&provider).await.unwrap_err();
    assert!(
        matches!(&err, Error::NotFound { item: Item::Secret(secret), via: SourceKind::Extension } if *secret == name),
        "{err:?}"
    );
    assert!(!err.is_transient());
}

#[tokio::test]
async fn wrong_token_is_reported_without_retrying() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "any/secret")]
    struct Any {
        #[allow(dead_code)]
        v: String,
    }
    let proxy = CountingProxy::start(agent_port()).await;
    let provider = Provider::builder()
        .source(Source::Extension)
        .extension_port(proxy.port())
        .extension_token("not-the-token")
        .build();
    let err = Any::fetch(&provider).await.unwrap_err();
    assert!(matches!(&err, Error::BadToken { .. }), "{err:?}");
    assert_eq!(proxy.requests(), 1);
}

#[tokio::test]
async fn token_can_come_from_a_file() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "{NAME}")]
    struct FromFile {
        v: String,
    }
    let name = unique_name("test/token-file");
    create_secret(&name, r#"{"v":"file token works"}"#).await;
    let dir = secrets_tests::TempDir::new("token");
    let token_file = dir.path.join("token");
    std::fs::write(&token_file, format!("{}\n", secrets_tests::agent_token()))
        .expect("write token");
    let provider = Provider::builder()
        .source(Source::Extension)
        .extension_port(agent_port())
        .extension_token(format!("file://{}", token_file.display()))
        .var("NAME", &name)
        .build();
    assert_eq!(
        FromFile::fetch(&provider).await.expect("loads").v,
        "file token works"
    );
}

#[tokio::test]
async fn binary_secrets_and_version_stages_through_the_agent() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "{NAME}")]
    struct Cert {
        #[secret(binary)]
        der: Vec<u8>,
    }
    let name = unique_name("test/binary");
    create_binary_secret(&name, &[0xde, 0xad, 0xbe, 0xef]).await;
    let provider = Provider::builder()
        .source(Source::Extension)
        .extension_port(agent_port())
        .var("NAME", &name)
        .build();
    assert_eq!(
        Cert::fetch(&provider).await.expect("binary loads").der,
        [0xde, 0xad, 0xbe, 0xef]
    );

    #[derive(Debug, FromSecret)]
    #[secret(name = "{NAME}", version_stage = "AWSPREVIOUS")]
    struct Previous {
        v: String,
    }
    let name = unique_name("test/stages");
    create_secret(&name, r#"{"v":"old"}"#).await;
    put_secret(&name, r#"{"v":"new"}"#).await;
    let provider = Provider::builder()
        .source(Source::Extension)
        .extension_port(agent_port())
        .var("NAME", &name)
        .build();
    assert_eq!(Previous::fetch(&provider).await.expect("previous").v, "old");
}
