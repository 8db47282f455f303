//! The deploy tools' command line for the structs of `tests/deploy.rs`: the check, as an
//! application's own example would run it (`deploy::main`).

use std::process::ExitCode;

use secrets_runtime::deploy::{self, Described};
use secrets_runtime::{FromSecret, SecretString};

/// A secret with a missing key, a key of the wrong type and an extra key, and a parameter that
/// does not exist (the test seeds them so).
#[derive(Debug, FromSecret)]
#[secret(name = "{P}/checked")]
#[allow(dead_code)]
struct Checked {
    host: String,
    port: u16,
    api_key: SecretString,
    #[secret(parameter = "/{P}/flag")]
    flag: bool,
}

/// A secret that does not exist.
#[derive(Debug, FromSecret)]
#[secret(name = "{P}/absent")]
#[allow(dead_code)]
struct Absent {
    token: SecretString,
}

/// A binary secret that does not exist: one error, not a second about its shape.
#[derive(Debug, FromSecret)]
#[secret(name = "{P}/absent-binary")]
#[allow(dead_code)]
struct AbsentBinary {
    #[secret(binary)]
    certificate: Vec<u8>,
}

fn main() -> ExitCode {
    deploy::main(&[
        Described::of::<Checked>(),
        Described::of::<Absent>(),
        Described::of::<AbsentBinary>(),
    ])
}
