use secrets_runtime::FromSecret;

#[derive(FromSecret)]
#[secret(name = "app", rename_all = "Camel")]
struct Config {
    db_host: String,
}

fn main() {}
