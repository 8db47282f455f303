//! The config of the `jay` function, shared by the quickstart and the deploy tools' example.

use secrets_runtime::{FromSecret, SecretString};

/// The config of the `jay` function; `STAGE` (default `dev`) picks the secret.
#[derive(Debug, FromSecret)]
#[secret(name = "{STAGE:-dev}/lambda/jay", ttl = "5m")]
pub(crate) struct Jay {
    pub(crate) db_host: String,
    #[secret(key = "db_port")]
    pub(crate) port: u16,
    #[secret(default)]
    pub(crate) debug: bool,
    pub(crate) max_connections: Option<u32>,
    pub(crate) api_key: SecretString,
}
