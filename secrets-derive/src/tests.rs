//! Snapshot tests of the expansion: the generated code for representative structs, formatted,
//! so that a change to code generation shows as a reviewable diff in `src/snapshots/`.

use syn::{DeriveInput, parse_quote};

fn expand(input: &DeriveInput) -> String {
    let tokens = crate::expand::derive(input);
    let file: syn::File = syn::parse2(tokens).expect("the expansion is valid Rust");
    prettyplease::unparse(&file)
}

#[test]
fn keyed_fields() {
    let input: DeriveInput = parse_quote! {
        #[secret(name = "{STAGE}/lambda/jay", ttl = "90s")]
        struct Jay {
            db_host: String,
            #[secret(key = "db_port")]
            port: u16,
            #[secret(default)]
            debug: bool,
            max_connections: Option<u32>,
            api_key: SecretString,
        }
    };
    insta::assert_snapshot!(expand(&input));
}

#[test]
fn every_field_attribute() {
    let input: DeriveInput = parse_quote! {
        #[secret(
            name = "app",
            name_env = "APP_SECRET_ARN",
            version_stage = "AWSPREVIOUS",
            rename_all = "SCREAMING_SNAKE_CASE",
            crate = "::my::secrets"
        )]
        struct App {
            #[secret(flatten)]
            database: Database,
            #[secret(default = "30")]
            timeout_secs: u64,
            #[secret(default_with = zero)]
            retries: u16,
            #[secret(json)]
            pool: Pool,
            #[secret(with = parse_rate)]
            sample_rate: Option<u8>,
            #[secret(skip)]
            started: Option<Instant>,
        }
    };
    insta::assert_snapshot!(expand(&input));
}

#[test]
fn whole_secret() {
    let input: DeriveInput = parse_quote! {
        #[secret(name = "token", version_id = "v1")]
        struct Token {
            #[secret(whole)]
            token: SecretString,
        }
    };
    insta::assert_snapshot!(expand(&input));
}

#[test]
fn errors_come_with_a_placeholder_impl() {
    let input: DeriveInput = parse_quote! {
        #[secret(nmae = "x")]
        struct Broken {
            #[secret(default)]
            value: Option<u8>,
        }
    };
    insta::assert_snapshot!(expand(&input));
}

#[test]
fn fields_from_several_sources() {
    let input: DeriveInput = parse_quote! {
        #[secret(name = "{STAGE}/lambda/jay")]
        struct Mixed {
            db_host: String,
            #[secret(from = "{STAGE}/shared/api", key = "token")]
            api_token: SecretString,
            #[secret(from = "{STAGE}/shared/api")]
            region: String,
            #[secret(parameter = "/app/{STAGE}/flags")]
            flags: Vec<String>,
            #[secret(parameter = "/app/{STAGE}/limit", default = "10")]
            limit: u32,
            #[secret(parameter = "/app/{STAGE}/beta")]
            beta: Option<bool>,
        }
    };
    insta::assert_snapshot!(expand(&input));
}

#[test]
fn no_name_when_every_field_names_its_source() {
    let input: DeriveInput = parse_quote! {
        struct Sourced {
            #[secret(from = "shared/db", key = "host")]
            db_host: String,
            #[secret(parameter = "/app/level", default)]
            level: String,
        }
    };
    insta::assert_snapshot!(expand(&input));
}

#[test]
fn allowed_deprecated_uses_stay_allowed() {
    let input: DeriveInput = parse_quote! {
        #[deprecated]
        #[secret(name = "new")]
        struct New {
            #[allow(deprecated)]
            #[secret(flatten)]
            old: Old,
            #[expect(unused, deprecated, reason = "the user's")]
            level: Level,
            port: u16,
        }
    };
    insta::assert_snapshot!(expand(&input));
}
