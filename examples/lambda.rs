//! A real `lambda_runtime` handler: the config loads once at cold start (through the
//! extension, or the SDK when the extension is absent) and every invocation reads it on the
//! hot path. Build it with `cargo build --example lambda --features lambda -p secrets-examples`;
//! deploy with `cargo lambda` and the Parameters and Secrets extension layer, with `STAGE` set.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use secrets_runtime::{ExposeSecret as _, FromSecret, SecretString};
use serde_json::{Value, json};

/// The function's config: `STAGE=dev|stg|prd` picks the secret.
#[derive(Debug, FromSecret)]
#[secret(name = "{STAGE}/lambda/jay")]
struct Jay {
    db_host: String,
    #[secret(key = "db_port")]
    port: u16,
    #[secret(default)]
    debug: bool,
    api_key: SecretString,
}

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    // Hot path: no lock, no I/O. An expired value is refreshed in the background while this
    // invocation runs; Lambda freezes the process between invocations.
    let jay = Jay::get();
    if jay.debug {
        tracing::info!(request_id = %event.context.request_id, "handling with {jay:?}");
    }
    let name = event
        .payload
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("world");
    Ok(json!({
        "greeting": format!("hello, {name}"),
        "database": format!("{}:{}", jay.db_host, jay.port),
        "api_key_configured": !jay.api_key.expose_secret().is_empty(),
    }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    // Cold start: one fetch, retried while the extension starts, before the first event.
    Jay::load().await?;
    lambda_runtime::run(service_fn(handler)).await
}
