//! The function of the Lambda benchmark (`tests/benches/lambda.rs`): one handler per way of
//! getting the config, chosen by `BENCH_HANDLER`:
//!
//! - `constants`: hard-coded constants, where anyone migrating starts;
//! - `extension-get`: a raw GET to the extension in every invocation, parsed with serde;
//! - `sdk-get`: a `GetSecretValue` call in every invocation (client built at INIT), parsed
//!   with serde;
//! - `library`: this library's pattern, `Jay::load().await` at the top of the handler.
//!
//! Each invocation answers with `read_ns`, the time its handler took to get the config, so
//! that the benchmark compares the config's cost alone, not the Runtime API's.

use std::sync::LazyLock;
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt as _, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use lambda_runtime::{Error, LambdaEvent, service_fn};
use secrets_runtime::{ExposeSecret as _, FromSecret, SecretString};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::OnceCell;

/// The config, through this library.
#[derive(FromSecret)]
#[secret(name = "{STAGE}/lambda/jay", ttl = "5m")]
struct Jay {
    db_host: String,
    #[secret(key = "db_port")]
    port: u16,
    api_key: SecretString,
}

/// The config as users parse it by hand today (Secrets Manager's values are strings).
#[derive(Deserialize)]
struct Raw {
    db_host: String,
    db_port: String,
    api_key: String,
}

/// What each handler hands on: host, port, and the key's length (never the key).
struct Config {
    db_host: String,
    port: u16,
    key_len: usize,
}

const DB_HOST: &str = "db-v1";
const DB_PORT: u16 = 5432;
const API_KEY: &str = "key-v1";

static HTTP: LazyLock<Client<HttpConnector, Empty<Bytes>>> =
    LazyLock::new(|| Client::builder(TokioExecutor::new()).build_http());
static SDK: OnceCell<aws_sdk_secretsmanager::Client> = OnceCell::const_new();

fn var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} is set"))
}

fn secret_name() -> String {
    format!("{}/lambda/jay", var("STAGE"))
}

fn from_raw(text: &str) -> Result<Config, Error> {
    let raw: Raw = serde_json::from_str(text)?;
    Ok(Config {
        port: raw.db_port.parse()?,
        key_len: raw.api_key.len(),
        db_host: raw.db_host,
    })
}

async fn extension_get() -> Result<Config, Error> {
    let uri = format!(
        "http://127.0.0.1:{}/secretsmanager/get?secretId={}",
        var("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"),
        secret_name().replace('/', "%2F")
    );
    let request = http::Request::get(uri)
        .header("X-Aws-Parameters-Secrets-Token", var("AWS_SESSION_TOKEN"))
        .body(Empty::new())?;
    let response = HTTP.request(request).await?;
    let body = response.into_body().collect().await?.to_bytes();
    let output: Value = serde_json::from_slice(&body)?;
    from_raw(output["SecretString"].as_str().ok_or("no SecretString")?)
}

async fn sdk_get() -> Result<Config, Error> {
    let output = SDK
        .get()
        .ok_or("the SDK client is built at INIT")?
        .get_secret_value()
        .secret_id(secret_name())
        .send()
        .await?;
    from_raw(output.secret_string().ok_or("no SecretString")?)
}

/// `BENCH_HANDLER`, read once at INIT.
static HANDLER: LazyLock<String> = LazyLock::new(|| var("BENCH_HANDLER"));

async fn handler(_: LambdaEvent<Value>) -> Result<Value, Error> {
    let handler = HANDLER.as_str();
    let started = Instant::now();
    let config = match handler {
        "constants" => Config {
            db_host: DB_HOST.to_owned(),
            port: DB_PORT,
            key_len: API_KEY.len(),
        },
        "extension-get" => extension_get().await?,
        "sdk-get" => sdk_get().await?,
        "library" => {
            let jay = Jay::load().await?;
            Config {
                db_host: jay.db_host.clone(),
                port: jay.port,
                key_len: jay.api_key.expose_secret().len(),
            }
        }
        other => return Err(format!("BENCH_HANDLER `{other}` is unknown").into()),
    };
    let read_ns = started.elapsed().as_nanos();
    Ok(json!({
        "read_ns": read_ns,
        "database": format!("{}:{}", config.db_host, config.port),
        "key_len": config.key_len,
    }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    if HANDLER.as_str() == "sdk-get" {
        // As users do: the client is built once, at INIT.
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let _ = SDK.set(aws_sdk_secretsmanager::Client::new(&config));
    }
    lambda_runtime::run(service_fn(handler)).await
}
