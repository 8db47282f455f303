use secrets_runtime::FromSecret;

#[derive(FromSecret)]
#[secret(name = "{STAGE/lambda/jay")]
struct Unclosed {
    a: String,
}

#[derive(FromSecret)]
#[secret(name = "prd}/lambda")]
struct Unopened {
    a: String,
}

#[derive(FromSecret)]
#[secret(name = "{1STAGE}/lambda")]
struct NotAVariable {
    a: String,
}

#[derive(FromSecret)]
#[secret(name = "")]
struct Empty {
    a: String,
}

fn main() {}
