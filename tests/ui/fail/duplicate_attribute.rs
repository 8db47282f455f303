use secrets_runtime::FromSecret;

#[derive(FromSecret)]
#[secret(name = "a", name = "b")]
#[secret(ttl = "1m")]
#[secret(ttl = "2m")]
struct Config {
    #[secret(key = "x", key = "y")]
    #[secret(default, default)]
    db_host: String,
}

fn main() {}
