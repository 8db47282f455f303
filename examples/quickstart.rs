//! The offline quickstart: `cargo run --example quickstart` (add `STAGE=prd` to load the
//! production secret). No AWS account, no network: the local source reads
//! `examples/secrets.local.json`. With `SECRETS_SOURCE=extension` the same code loads the same
//! struct through the Lambda extension or the Secrets Manager Agent.

use std::sync::Arc;

use secrets_runtime::{ExposeSecret, FromSecret, Provider, Source};

mod jay;

use jay::Jay;

#[tokio::main]
async fn main() -> Result<(), secrets_runtime::Error> {
    // Offline by default: the local source reads the example file. With SECRETS_SOURCE set
    // (`extension`, `sdk`, `auto`), the same code reads AWS instead.
    let provider = if std::env::var_os("SECRETS_SOURCE").is_some() {
        Provider::from_env()?
    } else {
        Provider::builder()
            .source(Source::Local)
            .local_path(concat!(env!("CARGO_MANIFEST_DIR"), "/secrets.local.json"))
            .build()
    };
    // Cold start: one fetch, shared by every concurrent caller.
    Jay::load_with(Arc::new(provider)).await?;

    // Hot path: synchronous, lock-free, no I/O.
    let jay = Jay::get();
    println!("db_host         = {}", jay.db_host);
    println!("port            = {}", jay.port);
    println!("debug           = {}", jay.debug);
    println!("max_connections = {:?}", jay.max_connections);
    println!(
        "api_key         = {:?} ({} characters)",
        jay.api_key,
        jay.api_key.expose_secret().len()
    );
    println!("{jay:#?}");
    Ok(())
}
