use secrets_runtime::FromSecret;

struct Pool {
    size: u32,
}

#[derive(FromSecret)]
#[secret(name = "app")]
struct Config {
    #[secret(json)]
    pool: Pool,
}

fn main() {}
