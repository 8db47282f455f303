//! A struct whose every field names its source needs no container `name`; one secret can be
//! read by several fields, and a parameter may be optional or defaulted.

use secrets_runtime::{FromSecret, SecretString};

#[derive(FromSecret)]
#[secret(ttl = "1m")]
struct Sourced {
    #[secret(from = "{STAGE}/db", key = "host")]
    db_host: String,
    #[secret(from = "{STAGE}/db", key = "password")]
    db_password: SecretString,
    #[secret(parameter = "/app/{STAGE}/hosts")]
    hosts: Vec<String>,
    #[secret(parameter = "/app/{STAGE}/limit", default = "10")]
    limit: u32,
    #[secret(parameter = "/app/{STAGE}/beta")]
    beta: Option<bool>,
    #[secret(parameter = "/app/{STAGE}/json", key = "level", default)]
    level: String,
    #[secret(skip)]
    started: Option<std::time::Instant>,
}

fn main() {
    let _ = Sourced::try_get().map(|s| (s.db_host.len(), s.limit, s.beta, s.level.len(), s.hosts.len(), s.started, s.db_password.clone()));
}
