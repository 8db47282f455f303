use secrets_runtime::FromSecret;

#[derive(FromSecret)]
#[secret(name = "app")]
struct Config {
    #[secret(default = "eighty")]
    port: u16,
    #[secret(default = "yes")]
    debug: bool,
    #[secret(default = "1.5.0")]
    ratio: f64,
    #[secret(default = "-1")]
    workers: usize,
}

fn main() {}
