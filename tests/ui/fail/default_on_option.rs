use secrets_runtime::FromSecret;

#[derive(FromSecret)]
#[secret(name = "app")]
struct Config {
    #[secret(default)]
    timeout: Option<u64>,
}

fn main() {}
