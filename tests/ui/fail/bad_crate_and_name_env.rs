use secrets_runtime::FromSecret;

#[derive(FromSecret)]
#[secret(name = "app", crate = "not a path!")]
struct BadCrate {
    a: String,
}

#[derive(FromSecret)]
#[secret(name_env = "1SECRET-ARN")]
struct BadNameEnv {
    a: String,
}

#[derive(FromSecret)]
#[secret(name = "app", version_stage = "")]
struct EmptyStage {
    a: String,
}

fn main() {}
