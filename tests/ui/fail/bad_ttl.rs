use secrets_runtime::FromSecret;

#[derive(FromSecret)]
#[secret(name = "app", ttl = "5 parsecs")]
struct Invalid {
    a: String,
}

#[derive(FromSecret)]
#[secret(name = "app", ttl = "0s")]
struct Zero {
    a: String,
}

#[derive(FromSecret)]
#[secret(name = "app", ttl = 300)]
struct NotAString {
    a: String,
}

fn main() {}
