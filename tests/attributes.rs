//! Every `#[secret(...)]` attribute, against the local source.

use std::net::IpAddr;

use secrets_runtime::{
    Error, ExposeSecret, FieldProblem, FromSecret, Provider, SecretString, Source,
};
use secrets_tests::assert_no_canary;

/// A local provider whose secret `name` holds `value`.
fn local(name: &str, value: &str) -> Provider {
    Provider::builder()
        .source(Source::Local)
        .var(secrets_runtime::local_secret_var(name), value)
        .build()
}

#[tokio::test]
async fn rename_all_follows_serde_and_key_wins() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "screaming", rename_all = "SCREAMING_SNAKE_CASE")]
    struct Screaming {
        db_host: String,
        #[secret(key = "port")]
        db_port: u16,
    }
    let s = Screaming::fetch(&local("screaming", r#"{"DB_HOST":"h","port":1}"#))
        .await
        .expect("loads");
    assert_eq!((s.db_host.as_str(), s.db_port), ("h", 1));

    #[derive(Debug, FromSecret)]
    #[secret(name = "camel", rename_all = "camelCase")]
    struct Camel {
        db_host: String,
        max_pool_size: u8,
    }
    let c = Camel::fetch(&local("camel", r#"{"dbHost":"h","maxPoolSize":"8"}"#))
        .await
        .expect("loads");
    assert_eq!((c.db_host.as_str(), c.max_pool_size), ("h", 8));

    #[derive(Debug, FromSecret)]
    #[secret(name = "kebab", rename_all = "kebab-case")]
    struct Kebab {
        #[allow(dead_code)]
        db_host: String,
    }
    let err = Kebab::fetch(&local("kebab", r#"{"db_host":"h"}"#))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::InvalidFields { fields, .. } if fields[0].key == "db-host"),
        "the renamed key is the one read and reported: {err:?}"
    );
}

#[tokio::test]
async fn name_env_overrides_the_template_when_set() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "{STAGE:-dev}/app", name_env = "APP_SECRET_ARN")]
    struct App {
        v: String,
    }
    let base = |arn: Option<&str>| {
        let builder = Provider::builder()
            .source(Source::Local)
            .var("SECRETS_LOCAL_DEV_APP", r#"{"v":"from template"}"#)
            .var(
                "SECRETS_LOCAL_ARN_AWS_SECRETSMANAGER_EU_WEST_1_1_SECRET_APP",
                r#"{"v":"from arn"}"#,
            );
        match arn {
            Some(arn) => builder.var("APP_SECRET_ARN", arn).build(),
            None => builder.build(),
        }
    };
    let from_arn = App::fetch(&base(Some("arn:aws:secretsmanager:eu-west-1:1:secret:app")))
        .await
        .expect("arn");
    assert_eq!(from_arn.v, "from arn");
    assert_eq!(
        App::fetch(&base(None)).await.expect("template").v,
        "from template"
    );
    assert_eq!(
        App::fetch(&base(Some(""))).await.expect("empty is unset").v,
        "from template"
    );

    #[derive(Debug, FromSecret)]
    #[secret(name_env = "ONLY_NAME_ENV_SECRET")]
    struct OnlyEnv {
        #[allow(dead_code)]
        v: String,
    }
    let err = OnlyEnv::fetch(&Provider::builder().source(Source::Local).build())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::MissingVar { var, .. } if var == "ONLY_NAME_ENV_SECRET"),
        "{err:?}"
    );
}

#[test]
fn container_attributes_set_the_spec_and_the_rest_is_the_runtime_default() {
    use secrets_runtime::__private::SecretSpec;
    use std::time::Duration;

    #[derive(FromSecret)]
    #[secret(name = "plain")]
    struct Plain {
        #[allow(dead_code)]
        v: String,
    }
    #[derive(FromSecret)]
    #[secret(
        name = "tuned",
        name_env = "TUNED_ARN",
        ttl = "90s",
        max_stale = "2h",
        refresh_window = "250ms",
        version_stage = "AWSPREVIOUS",
        version_id = "v1"
    )]
    struct Tuned {
        #[allow(dead_code)]
        v: String,
    }
    #[derive(FromSecret)]
    #[secret(name_env = "ONLY_ARN")]
    struct OnlyEnv {
        #[allow(dead_code)]
        v: String,
    }
    type Parts = (
        &'static str,
        Option<&'static str>,
        Duration,
        Duration,
        Duration,
        Option<&'static str>,
        Option<&'static str>,
    );
    let parts = |s: SecretSpec| -> Parts {
        (
            s.name,
            s.name_env,
            s.ttl,
            s.max_stale,
            s.refresh_window,
            s.version_stage,
            s.version_id,
        )
    };
    let default = SecretSpec::DEFAULT;
    assert_eq!(
        parts(default),
        (
            "",
            None,
            Duration::from_secs(300),
            Duration::from_secs(3600),
            Duration::from_secs(1),
            None,
            None
        )
    );
    assert_eq!(
        parts(Plain::SPEC),
        parts(SecretSpec {
            name: "plain",
            ..default
        })
    );
    assert_eq!(
        parts(Tuned::SPEC),
        (
            "tuned",
            Some("TUNED_ARN"),
            Duration::from_secs(90),
            Duration::from_secs(7200),
            Duration::from_millis(250),
            Some("AWSPREVIOUS"),
            Some("v1")
        )
    );
    assert_eq!(
        parts(OnlyEnv::SPEC),
        parts(SecretSpec {
            name: "{ONLY_ARN}",
            name_env: Some("ONLY_ARN"),
            ..default
        })
    );
}

fn default_port() -> u16 {
    8080
}

#[tokio::test]
async fn defaults_apply_only_to_missing_keys() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "defaults")]
    struct Defaults {
        #[secret(default)]
        debug: bool,
        #[secret(default = "30")]
        timeout_secs: u64,
        #[secret(default = "127.0.0.1")]
        bind: IpAddr,
        #[secret(default_with = default_port)]
        port: u16,
    }
    let d = Defaults::fetch(&local("defaults", "{}"))
        .await
        .expect("all defaults");
    assert_eq!(
        (d.debug, d.timeout_secs, d.bind, d.port),
        (false, 30, IpAddr::from([127, 0, 0, 1]), 8080)
    );

    let d = Defaults::fetch(&local(
        "defaults",
        r#"{"debug":true,"timeout_secs":5,"bind":"::1","port":"1"}"#,
    ))
    .await
    .expect("present keys win");
    assert_eq!((d.debug, d.timeout_secs, d.port), (true, 5, 1));
    assert_eq!(d.bind.to_string(), "::1");

    // A present but invalid value is an error, never silently defaulted.
    let err = Defaults::fetch(&local(
        "defaults",
        r#"{"timeout_secs":"CANARY-soon","port":null}"#,
    ))
    .await
    .unwrap_err();
    let Error::InvalidFields { fields, .. } = &err else {
        panic!("{err:?}")
    };
    let keys: Vec<_> = fields
        .iter()
        .map(|f| (f.key.as_str(), &f.problem))
        .collect();
    assert_eq!(keys[0].0, "timeout_secs");
    assert_eq!(keys[1], ("port", &FieldProblem::Null));
    assert_no_canary(&err.to_string(), &["CANARY"]);
}

#[tokio::test]
async fn a_default_literal_that_does_not_parse_is_an_error_when_used() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "bad-default")]
    struct BadDefault {
        // IpAddr literals are only checked at run time.
        #[secret(default = "not-an-address")]
        #[allow(dead_code)]
        bind: IpAddr,
    }
    let err = BadDefault::fetch(&local("bad-default", "{}"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "secret `bad-default`: key `bind` is missing and its default is not a valid IpAddr (invalid IP address syntax)"
    );
    assert!(
        BadDefault::fetch(&local("bad-default", r#"{"bind":"10.0.0.1"}"#))
            .await
            .is_ok()
    );
}

#[derive(Debug, PartialEq, serde::Deserialize)]
struct Pool {
    size: u32,
    hosts: Vec<String>,
}

#[tokio::test]
async fn json_fields_take_objects_arrays_and_strings_holding_them() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "json")]
    struct WithJson {
        #[secret(json)]
        pool: Pool,
        #[secret(json)]
        weights: Vec<f64>,
        #[secret(json)]
        extra: Option<Pool>,
    }
    let j = WithJson::fetch(&local(
        "json",
        r#"{"pool":{"size":2,"hosts":["a","b"]},"weights":"[0.5, 1.5]","extra":"{\"size\":1,\"hosts\":[]}"}"#,
    ))
    .await
    .expect("loads");
    assert_eq!(
        j.pool,
        Pool {
            size: 2,
            hosts: vec!["a".into(), "b".into()]
        }
    );
    assert_eq!(j.weights, [0.5, 1.5]);
    assert_eq!(
        j.extra,
        Some(Pool {
            size: 1,
            hosts: vec![]
        })
    );

    let err = WithJson::fetch(&local(
        "json",
        r#"{"pool":{"size":"CANARY-big","hosts":[]},"weights":[]}"#,
    ))
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "secret `json`: key `pool` is not a valid Pool (at `*` (key names withheld): invalid type, expected u32)"
    );
}

fn parse_percent(text: &str) -> Result<u8, String> {
    let n: u8 = text
        .trim_end_matches('%')
        .parse()
        .map_err(|_| format!("`{text}` is not a percentage"))?;
    if n > 100 {
        Err("above 100%".into())
    } else {
        Ok(n)
    }
}

#[tokio::test]
async fn with_calls_the_users_parser_and_hides_echoed_values() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "with")]
    struct WithFn {
        #[secret(with = parse_percent)]
        sample_rate: u8,
        #[secret(with = "parse_percent")]
        error_rate: Option<u8>,
    }
    let w = WithFn::fetch(&local("with", r#"{"sample_rate":"25%","error_rate":5}"#))
        .await
        .expect("loads");
    assert_eq!((w.sample_rate, w.error_rate), (25, Some(5)));

    let err = WithFn::fetch(&local(
        "with",
        r#"{"sample_rate":"CANARY%%","error_rate":"101"}"#,
    ))
    .await
    .unwrap_err();
    let text = err.to_string();
    // A parser's message is withheld whether or not it repeats the value: no filter on its
    // text could be trusted (a `SecretValue` impl's own messages are shown).
    for key in ["sample_rate", "error_rate"] {
        assert!(
            text.contains(&format!(
                "key `{key}` is not a valid u8 (the parser's message is withheld"
            )),
            "{text}"
        );
    }
    assert_no_canary(&text, &["CANARY"]);
}

#[tokio::test]
async fn whole_reads_a_plain_text_secret() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "api-key")]
    struct ApiKey {
        #[secret(whole)]
        key: SecretString,
        #[secret(skip)]
        label: String,
    }
    let a = ApiKey::fetch(&local("api-key", "CANARY-plain-key"))
        .await
        .expect("loads");
    assert_eq!(a.key.expose_secret(), "CANARY-plain-key");
    assert_eq!(a.label, "");
    assert_no_canary(&format!("{a:?}"), &["CANARY"]);

    // A plain-text secret that starts like JSON is still plain text to a `whole` field.
    let a = ApiKey::fetch(&local("api-key", "{CANARY-not-json"))
        .await
        .expect("loads");
    assert_eq!(a.key.expose_secret(), "{CANARY-not-json");

    #[derive(Debug, FromSecret)]
    #[secret(name = "port-only")]
    struct Port {
        #[secret(whole)]
        port: u16,
    }
    assert_eq!(
        Port::fetch(&local("port-only", "5432"))
            .await
            .expect("loads")
            .port,
        5432
    );
    let err = Port::fetch(&local("port-only", "CANARY"))
        .await
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "secret `port-only`: the value is not a valid u16 (invalid digit found in string)"
    );

    #[derive(Debug, FromSecret)]
    #[secret(name = "whole-json")]
    struct WholeJson {
        #[secret(whole, json)]
        pool: Pool,
    }
    let w = WholeJson::fetch(&local("whole-json", r#"{"size":3,"hosts":["x"]}"#))
        .await
        .expect("loads");
    assert_eq!(w.pool.size, 3);

    #[derive(Debug, FromSecret)]
    #[secret(name = "whole-with")]
    struct WholeWith {
        #[secret(whole, with = parse_percent)]
        rate: u8,
    }
    assert_eq!(
        WholeWith::fetch(&local("whole-with", "40%"))
            .await
            .expect("loads")
            .rate,
        40
    );
}

#[derive(Debug, FromSecret)]
#[secret(name = "db", rename_all = "SCREAMING_SNAKE_CASE")]
struct Database {
    db_host: String,
    db_port: u16,
}

#[tokio::test]
async fn flatten_reads_a_nested_struct_from_the_same_object() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "service")]
    struct Service {
        #[secret(flatten)]
        database: Database,
        api_url: String,
    }
    let s = Service::fetch(&local(
        "service",
        r#"{"DB_HOST":"h","DB_PORT":"5","api_url":"https://x"}"#,
    ))
    .await
    .expect("loads");
    assert_eq!(
        (
            s.database.db_host.as_str(),
            s.database.db_port,
            s.api_url.as_str()
        ),
        ("h", 5, "https://x")
    );

    // Errors of nested and outer fields come in one list.
    let err = Service::fetch(&local("service", r#"{"DB_PORT":"x"}"#))
        .await
        .unwrap_err();
    let Error::InvalidFields { fields, .. } = &err else {
        panic!("{err:?}")
    };
    let keys: Vec<_> = fields.iter().map(|f| f.key.as_str()).collect();
    assert_eq!(keys, ["DB_HOST", "DB_PORT", "api_url"]);
}

#[tokio::test]
async fn skip_is_default_and_ignores_the_key() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "skip")]
    struct Skip {
        v: String,
        #[secret(skip)]
        runtime_only: Vec<String>,
    }
    let s = Skip::fetch(&local("skip", r#"{"v":"x","runtime_only":"not read"}"#))
        .await
        .expect("loads");
    assert!(s.runtime_only.is_empty());
    assert_eq!(s.v, "x");
}

mod renamed {
    //! A user who re-exports the runtime under another name.
    pub(crate) use secrets_runtime as my_secrets;
}

#[tokio::test]
async fn crate_attribute_names_a_re_exported_runtime() {
    #[derive(Debug, renamed::my_secrets::FromSecret)]
    #[secret(name = "renamed", crate = "renamed::my_secrets")]
    struct Renamed {
        v: u8,
    }
    use renamed::my_secrets::FromSecret as _;
    assert_eq!(
        Renamed::fetch(&local("renamed", r#"{"v":7}"#))
            .await
            .expect("loads")
            .v,
        7
    );
}

#[tokio::test]
async fn binary_secrets_are_not_strings() {
    #[derive(Debug, FromSecret)]
    #[secret(name = "cert")]
    struct Cert {
        #[secret(binary)]
        #[allow(dead_code)]
        der: Vec<u8>,
    }
    // The local source holds strings only: a binary field reports the mismatch.
    let err = Cert::fetch(&local("cert", "text")).await.unwrap_err();
    assert_eq!(
        err.to_string(),
        "secret `cert` holds a string, but a binary secret (`SecretBinary`) was expected"
    );
}

macro_rules! generated {
    ($name:ident { $($field:ident: $ty:ty $(= $attr:tt)?),* $(,)? }) => {
        #[derive(Debug, FromSecret)]
        #[secret(name = "generated")]
        struct $name {
            $($(#[secret $attr])? $field: $ty,)*
        }
    };
}

generated!(Generated {
    host: String,
    replicas: Option<u32>,
    port: u16 = (default = "5432"),
});

/// A struct whose field types come through a `macro_rules!` `$t:ty`: `Option` and a checked
/// default literal work as they do when written out.
#[tokio::test]
async fn field_types_from_a_macro_work_as_written_out() {
    let g = Generated::fetch(&local("generated", r#"{"host":"h"}"#))
        .await
        .expect("loads");
    assert_eq!((g.host.as_str(), g.replicas, g.port), ("h", None, 5432));
    let g = Generated::fetch(&local(
        "generated",
        r#"{"host":"h","replicas":"3","port":1}"#,
    ))
    .await
    .expect("loads");
    assert_eq!((g.replicas, g.port), (Some(3), 1));
}
