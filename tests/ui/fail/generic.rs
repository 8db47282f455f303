use secrets_runtime::FromSecret;

#[derive(FromSecret)]
#[secret(name = "app")]
struct Config<T> {
    value: T,
}

#[derive(FromSecret)]
#[secret(name = "app")]
struct Borrowed<'a> {
    value: &'a str,
}

fn main() {}
