use secrets_runtime::FromSecret;

#[derive(FromSecret)]
struct Config {
    db_host: String,
}

fn main() {}
