//! Generated code is lint-clean under strict lints, and hygienic: it works when the user's
//! scope shadows `Result`, `Option`, `String`, `Ok`, `Some` and `secrets_runtime`.
#![deny(warnings, unused_qualifications, clippy::all, clippy::pedantic)]
#![allow(dead_code)]

mod secrets_runtime {}
type Result<T> = core::result::Result<T, ()>;
type Option = ();
struct String;
#[allow(non_snake_case)]
fn Ok() {}
#[allow(non_snake_case)]
fn Some() {}

/// A config with every kind of field.
#[derive(::secrets_runtime::FromSecret)]
#[secret(name = "{STAGE:-dev}/lambda/jay", ttl = "90s")]
struct Jay {
    db_host: std::string::String,
    #[secret(key = "db_port")]
    port: u16,
    #[secret(default)]
    debug: bool,
    max_connections: core::option::Option<u32>,
    api_key: ::secrets_runtime::SecretString,
    addr: std::net::IpAddr,
    r#type: std::string::String,
}

/// Other secrets and parameters, with no container `name`.
#[derive(::secrets_runtime::FromSecret)]
struct Sourced {
    #[secret(from = "{STAGE:-dev}/shared", key = "region")]
    region: std::string::String,
    #[secret(parameter = "/app/{STAGE:-dev}/hosts")]
    hosts: Vec<std::string::String>,
    #[secret(parameter = "/app/{STAGE:-dev}/beta")]
    beta: core::option::Option<bool>,
    #[secret(parameter = "/app/{STAGE:-dev}/limit", default = "10")]
    limit: u32,
}

/// No fields at all.
#[derive(::secrets_runtime::FromSecret)]
#[secret(name = "empty")]
struct Empty {}

/// A deprecated config: deriving does not warn about the struct's own deprecation.
#[deprecated = "use Jay"]
#[derive(::secrets_runtime::FromSecret)]
#[secret(name = "old")]
struct Old {
    host: std::string::String,
}

/// A trait of the user's with a `decode` method for every type, in scope: the generated code
/// does not call it by mistake, nor is it ambiguous.
trait Decode {
    fn decode(&self, _: &::secrets_runtime::__private::Value) -> u8 {
        0
    }
    fn decode_str(&self, _: &str) -> u8 {
        0
    }
}
impl<T: ?Sized> Decode for T {}

#[derive(::secrets_runtime::FromSecret)]
#[secret(name = "decoded")]
struct Decoded {
    port: u16,
    #[secret(from = "cert", whole)]
    cert: std::string::String,
}

fn main() {}
