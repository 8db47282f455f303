use secrets_runtime::FromSecret;

#[derive(FromSecret)]
struct NoName {
    #[secret(parameter = "/app/flag")]
    flag: bool,
    db_host: String,
}

#[derive(FromSecret)]
#[secret(name = "app")]
struct BothSources {
    #[secret(from = "other", parameter = "/app/flag")]
    flag: bool,
}

#[derive(FromSecret)]
#[secret(name = "app")]
struct ParameterShapes {
    #[secret(parameter = "/app/cert", binary)]
    cert: Vec<u8>,
    #[secret(parameter = "/app/token", whole)]
    token: String,
}

#[derive(FromSecret)]
#[secret(name = "app")]
struct BadTemplates {
    #[secret(from = "{STAGE/db")]
    host: String,
    #[secret(parameter = "/app/{1X}/flag")]
    flag: bool,
    #[secret(parameter = "")]
    empty: bool,
}

#[derive(FromSecret)]
#[secret(name = "app")]
struct WholeOtherSecret {
    #[secret(from = "certs", whole)]
    cert: String,
    #[secret(from = "certs", key = "chain")]
    chain: String,
    // Another secret: not in conflict.
    #[secret(from = "tokens", whole)]
    token: String,
}

fn main() {}
