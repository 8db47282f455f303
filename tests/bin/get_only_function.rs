//! A Lambda function that reads its config with `get()` alone after the first load, for the
//! lifecycle tests: its refreshes run in the background and are cut by every freeze (the
//! pattern the README warns against, which must still not starve).

use lambda_runtime::{Error, LambdaEvent, service_fn};
use secrets_runtime::{FromSecret, Snapshot};
use serde_json::{Value, json};

#[derive(Debug, FromSecret)]
#[secret(name = "{STAGE}/lambda/jay", ttl = "2s")]
struct Jay {
    db_host: String,
}

async fn handler(_: LambdaEvent<Value>) -> Result<Value, Error> {
    let jay = match Jay::try_get() {
        Some(jay) => jay,
        None => Jay::load().await?,
    };
    let stats = Jay::stats();
    Ok(json!({
        "database": jay.db_host,
        "version_id": Snapshot::version_id(&jay),
        "source": Snapshot::source(&jay).to_string(),
        "refreshes": stats.refreshes,
        "failures": stats.failures,
    }))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::tracing::init_default_subscriber();
    lambda_runtime::run(service_fn(handler)).await
}
