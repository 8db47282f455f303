use secrets_runtime::FromSecret;

#[derive(FromSecret)]
#[secret(name = "app")]
enum Stage {
    Dev,
    Prd,
}

#[derive(FromSecret)]
#[secret(name = "app")]
union Bits {
    a: u32,
    b: f32,
}

#[derive(FromSecret)]
#[secret(name = "app")]
struct Tuple(String, u16);

#[derive(FromSecret)]
#[secret(name = "app")]
struct Unit;

fn main() {}
