use secrets_runtime::FromSecret;

#[derive(FromSecret)]
#[secret(name = "app")]
struct Config {
    #[secret(key = "")]
    host: String,
}

fn main() {}
