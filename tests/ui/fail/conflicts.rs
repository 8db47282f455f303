use secrets_runtime::FromSecret;

fn zero() -> u16 {
    0
}

fn parse(text: &str) -> Result<u16, std::num::ParseIntError> {
    text.parse()
}

#[derive(FromSecret)]
#[secret(name = "app")]
struct Config {
    #[secret(skip, key = "a")]
    skipped: String,
    #[secret(flatten, key = "b")]
    flattened: String,
    #[secret(json, with = parse)]
    both_parsers: u16,
    #[secret(default, default_with = zero)]
    two_defaults: u16,
    #[secret(default_with = zero)]
    optional_with_default: Option<u16>,
}

#[derive(FromSecret)]
#[secret(name = "app")]
struct WholeAndBinary {
    #[secret(whole, binary)]
    both: Vec<u8>,
}

#[derive(FromSecret)]
#[secret(name = "app")]
struct WholeWithKey {
    #[secret(whole, key = "k", default)]
    text: String,
}

#[derive(FromSecret)]
#[secret(name = "app")]
struct WholeAndOthers {
    #[secret(whole)]
    text: String,
    also_read: u16,
    #[secret(skip)]
    fine: u16,
}

#[derive(FromSecret)]
#[secret(name = "app")]
struct FlattenOption {
    #[secret(flatten)]
    nested: Option<WholeAndOthers>,
}

fn main() {}
