use secrets_runtime::FromSecret;

#[derive(FromSecret)]
#[secret(name = 42)]
struct NameNotAString {
    a: String,
}

#[derive(FromSecret)]
#[secret(name = "app")]
struct KeyWithoutValue {
    #[secret(key)]
    a: String,
}

#[derive(FromSecret)]
#[secret(name = "app")]
struct WithNotAPath {
    #[secret(with = "not a path")]
    a: u8,
}

fn main() {}
