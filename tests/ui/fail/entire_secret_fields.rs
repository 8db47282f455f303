use secrets_runtime::FromSecret;

#[derive(FromSecret)]
#[secret(name = "app")]
struct OptionalWhole {
    #[secret(whole)]
    text: Option<String>,
}

#[derive(FromSecret)]
#[secret(name = "app")]
struct BinaryWithKeyAndJson {
    #[secret(binary, key = "cert", json)]
    der: Vec<u8>,
}

#[derive(FromSecret)]
#[secret(name = "app")]
struct BinaryAndOthers {
    #[secret(binary)]
    der: Vec<u8>,
    label: String,
}

fn main() {}
