use secrets_runtime::FromSecret;

#[derive(FromSecret)]
#[secret(nmae = "app", key = "x", colour = "blue")]
struct Config {
    #[secret(defualt)]
    db_host: String,
    #[secret(ttl = "5m")]
    port: u16,
}

fn main() {}
