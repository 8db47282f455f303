use secrets_runtime::FromSecret;

struct Endpoint {
    host: String,
}

#[derive(FromSecret)]
#[secret(name = "app")]
struct Config {
    endpoint: Endpoint,
    fallback: Option<Endpoint>,
}

fn main() {}
