use secrets_runtime::FromSecret;

#[derive(FromSecret)]
#[secret(name = "app", max_stale = "forever")]
struct BadMaxStale {
    a: String,
}

#[derive(FromSecret)]
#[secret(name = "app", refresh_window = "1 fortnight")]
struct BadRefreshWindow {
    a: String,
}

fn main() {}
