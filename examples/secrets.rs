//! The deploy tools for `Jay`: the IAM policy its role needs, a check of the live secret, and
//! the skeleton to create it, per stage.
//!
//! ```text
//! cargo run --example secrets -- template --stage prd
//! cargo run --example secrets --features sdk -- check --stage prd
//! cargo run --example secrets -- policy --stage prd --region eu-west-1 --account 123456789012
//! ```

// Its fields are read by the quickstart, not here.
#[allow(dead_code)]
mod jay;

use std::process::ExitCode;

use secrets_runtime::deploy::{self, Described};

fn main() -> ExitCode {
    deploy::main(&[Described::of::<jay::Jay>()])
}
