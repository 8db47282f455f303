use secrets_runtime::FromSecret;

#[derive(FromSecret)]
#[secret(name = "app")]
struct Config {
    #[secret(binary)]
    certificate: String,
}

fn main() {}
