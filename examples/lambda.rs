//! A real `lambda_runtime` function, written the way this library recommends on Lambda:
//!
//! - **nothing at INIT**: the Parameters and Secrets extension answers only in the INVOKE
//!   phase, so INIT does not wait for it;
//! - **`Jay::load().await` at the top of the handler**: the first invocation loads the config
//!   in one round trip to the extension; while the value is fresh the call costs nanoseconds
//!   (a clock read, no I/O); once the TTL has passed, the invocation that finds it expired
//!   awaits the refresh, which therefore runs while Lambda lets the process run, and a freeze
//!   between invocations cannot starve it.
//!
//! It runs on classic Lambda and on Lambda Managed Instances (several invocations at once
//! with `AWS_LAMBDA_MAX_CONCURRENCY`), and through the extension, the Secrets Manager Agent
//! or (with the `sdk` feature) the AWS SDK, chosen by `SECRETS_SOURCE` (default `auto`).
//!
//! Build: `cargo build -p secrets-examples --example lambda --features lambda,sdk`; deploy
//! with `cargo lambda` and the Parameters and Secrets extension layer, with `STAGE` set. The
//! Lambda lifecycle tests (`tests/lambda.rs`) run this binary on a simulated Lambda.

use lambda_runtime::{Error, LambdaEvent, service_fn};
use secrets_runtime::{ExposeSecret as _, FromSecret, SecretString, Snapshot};
use serde_json::{Value, json};

/// The function's config: `STAGE=dev|stg|prd` picks the secret.
#[derive(Debug, FromSecret)]
#[secret(name = "{STAGE}/lambda/jay")]
#[cfg_attr(not(feature = "short-ttl"), secret(ttl = "5m"))]
// The lifecycle tests' build: a TTL short enough to cross many times in one test.
#[cfg_attr(feature = "short-ttl", secret(ttl = "2s"))]
struct Jay {
    db_host: String,
    #[secret(key = "db_port")]
    port: u16,
    #[secret(default)]
    debug: bool,
    api_key: SecretString,
}

impl Jay {
    /// Whether a caller presented this config's API key.
    fn accepts(&self, presented: &str) -> bool {
        let expected = self.api_key.expose_secret().as_bytes();
        // The same time for every key of one length: a timing channel leaks no prefix.
        expected.len() == presented.len()
            && expected
                .iter()
                .zip(presented.as_bytes())
                .fold(0u8, |diff, (a, b)| diff | (a ^ b))
                == 0
    }
}

async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
    // Nanoseconds while fresh. The first invocation loads; an expired value is refreshed here,
    // inside the invocation (a failed refresh keeps serving the last value, up to max_stale).
    let mut jay = Jay::load().await?;

    // A caller (a webhook, a partner) presenting an API key: after a rotation it may have the
    // new key before this cache does. One forced refresh, then decide; refresh_now() makes at
    // most one fetch per refresh_window (1 s), however many callers present a wrong key. If
    // it fails, the cached key still decides: the caller is refused, the function goes on.
    let presented = event.payload.get("api_key").and_then(Value::as_str);
    let mut authorized = presented.map(|key| jay.accepts(key));
    if authorized == Some(false) {
        match Jay::refresh_now().await {
            Ok(fresh) => {
                jay = fresh;
                authorized = presented.map(|key| jay.accepts(key));
            }
            Err(err) => tracing::warn!(error = %err, "could not refresh the config"),
        }
    }

    if jay.debug {
        tracing::info!(request_id = %event.context.request_id, "handling with {jay:?}");
    }
    let name = event
        .payload
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("world");
    let stats = Jay::stats();
    Ok(json!({
        "greeting": format!("hello, {name}"),
        "database": format!("{}:{}", jay.db_host, jay.port),
        "authorized": authorized,
        // Where the config came from, never what it holds.
        "config": {
            "version_id": Snapshot::version_id(&jay),
            "source": Snapshot::source(&jay).to_string(),
            "age_ms": Snapshot::age(&jay).as_millis(),
            "loads": stats.loads,
            "refreshes": stats.refreshes,
            "forced_refreshes": stats.forced_refreshes,
            "failures": stats.failures,
        },
    }))
}

/// Logs as `lambda_runtime::tracing::init_default_subscriber` does (the level of
/// `AWS_LAMBDA_LOG_LEVEL`, else the directives of `RUST_LOG`, else INFO), but never the AWS SDK's
/// request signing: at TRACE, `aws_sigv4` logs the canonical request, session token included.
fn init_logs() {
    use lambda_runtime::tracing::subscriber::{EnvFilter, filter::LevelFilter};
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .ok()
        .and_then(|level| level.parse().ok())
        .unwrap_or(LevelFilter::INFO);
    let filter = EnvFilter::builder()
        .with_default_directive(level.into())
        .from_env_lossy()
        .add_directive("aws_sigv4=off".parse().expect("a valid directive"));
    lambda_runtime::tracing::subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_env_filter(filter)
        .init();
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    init_logs();
    // INIT ends here: no secret is read before the first invocation. Sequential on classic
    // Lambda; AWS_LAMBDA_MAX_CONCURRENCY invocations at once on Lambda Managed Instances.
    lambda_runtime::run_concurrent(service_fn(handler)).await
}
