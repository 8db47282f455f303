//! Before deploy, from the same struct: the IAM policy (applied to a user of an IAM-enforcing
//! moto, `tests/support/moto_iam.py`), the check of the live secrets (against moto, through the
//! command line an application's example runs), and the template to create them.

use std::process::Stdio;

use secrets_runtime::deploy::{self, Described, Target};
use secrets_runtime::{Error, ExposeSecret, FromSecret, Provider, SecretString, Source};
use secrets_tests::{
    Fault, FaultServer, assert_no_canary, create_secret, put_parameter, unique_name,
};
use serde_json::Value;

/// Two secrets (so that the SDK batches them) and a `SecureString` parameter.
#[derive(Debug, FromSecret)]
#[secret(name = "{P}/app")]
struct Deployed {
    db_host: String,
    #[secret(from = "{P}/api", key = "token")]
    api_token: SecretString,
    #[secret(parameter = "/{P}/password")]
    password: SecretString,
}

const REGION: &str = "us-east-1";
/// moto's account.
const ACCOUNT: &str = "123456789012";

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: run the tests through ./scripts/test.sh, which starts the IAM-enforcing moto")
    })
}

/// The SDK config of the IAM-enforcing moto, as the user with this access key.
async fn iam_moto_config(key_id: &str, secret: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(env("SECRETS_TEST_MOTO_IAM_URL"))
        .region(aws_config::Region::new(REGION))
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            key_id, secret, None, None, "tests",
        ))
        .load()
        .await
}

/// A new user of the IAM-enforcing moto whose only policy is `policy`: its access key.
async fn user_with(policy: &str) -> (String, String) {
    let dir = std::env::temp_dir().join(unique_name("policy").replace('/', "-"));
    std::fs::write(&dir, policy).expect("writing the policy");
    let output = tokio::process::Command::new(env("SECRETS_TEST_PYTHON"))
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/support/iam_user.py"))
        .arg(&dir)
        .stderr(Stdio::inherit())
        .output()
        .await
        .expect("running iam_user.py");
    let _ = std::fs::remove_file(&dir);
    assert!(output.status.success(), "iam_user.py failed");
    let text = String::from_utf8(output.stdout).expect("UTF-8");
    let (id, secret) = text.trim().split_once(' ').expect("`KEY_ID SECRET`");
    (id.to_owned(), secret.to_owned())
}

/// Seeds `Deployed`'s secrets and parameter on the IAM-enforcing moto, as its admin.
async fn seed_as_admin(prefix: &str) {
    let admin = iam_moto_config(
        &env("SECRETS_TEST_MOTO_IAM_ADMIN_KEY_ID"),
        &env("SECRETS_TEST_MOTO_IAM_ADMIN_SECRET"),
    )
    .await;
    let secrets = aws_sdk_secretsmanager::Client::new(&admin);
    for (name, value) in [
        (format!("{prefix}/app"), r#"{"db_host":"db.internal"}"#),
        (format!("{prefix}/api"), r#"{"token":"api-token-1"}"#),
    ] {
        secrets
            .create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await
            .expect("creating a secret as the admin");
    }
    aws_sdk_ssm::Client::new(&admin)
        .put_parameter()
        .name(format!("/{prefix}/password"))
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .value("pw-1")
        .send()
        .await
        .expect("putting a parameter as the admin");
}

/// Loads `Deployed` through the SDK as the user with this policy.
async fn load_with_policy(policy: &str, prefix: &str) -> Result<Deployed, Error> {
    let (key_id, secret) = user_with(policy).await;
    let config = iam_moto_config(&key_id, &secret).await;
    let provider = Provider::builder()
        .source(Source::Sdk)
        .sdk_client(aws_sdk_secretsmanager::Client::new(&config))
        .ssm_client(aws_sdk_ssm::Client::new(&config))
        .var("P", prefix)
        .build();
    Deployed::fetch(&provider).await
}

/// The statements of a policy document.
fn statements(policy: &str) -> Vec<Value> {
    let document: Value = serde_json::from_str(policy).expect("the policy is JSON");
    assert_eq!(document["Version"], "2012-10-17");
    document["Statement"]
        .as_array()
        .expect("a list of statements")
        .clone()
}

/// The access errors of a failed load.
fn denials(err: &Error) -> Vec<&Error> {
    match err {
        Error::Several(errors) => errors.iter().flat_map(denials).collect(),
        Error::AccessDenied { .. } => vec![err],
        _ => Vec::new(),
    }
}

#[tokio::test]
async fn the_generated_policy_allows_the_load_and_each_statement_is_needed() {
    let prefix = unique_name("deploy/iam");
    seed_as_admin(&prefix).await;
    let provider = Provider::builder().var("P", &prefix).build();
    let policy = deploy::policy(
        &[Described::of::<Deployed>()],
        &provider,
        &Target::new(REGION, ACCOUNT),
    )
    .expect("a policy");
    let all = statements(&policy);
    assert_eq!(
        all.len(),
        4,
        "two secrets, the batch, the parameter: {policy}"
    );

    let loaded = load_with_policy(&policy, &prefix)
        .await
        .expect("the generated policy allows the load");
    assert_eq!(loaded.db_host, "db.internal");
    assert_eq!(loaded.api_token.expose_secret(), "api-token-1");
    assert_eq!(loaded.password.expose_secret(), "pw-1");

    for (index, removed) in all.iter().enumerate() {
        let rest: Vec<&Value> = all.iter().filter(|s| *s != removed).collect();
        let reduced = serde_json::json!({"Version": "2012-10-17", "Statement": rest}).to_string();
        let result = load_with_policy(&reduced, &prefix).await;
        if removed["Action"] == "secretsmanager:BatchGetSecretValue" {
            // The library reads each secret with GetSecretValue instead (and warns).
            result.expect("without the batch statement, one call per secret");
            continue;
        }
        let err = result.expect_err(&format!("the load needs statement {index}: {removed}"));
        let denied = denials(&err);
        assert_eq!(denied.len(), 1, "one item is denied: {err}");
        // The error names the statement that was removed: the same text, with the region and
        // account it cannot know as wildcards.
        let named: Value =
            serde_json::from_str(&denied[0].policy_statement().expect("a statement"))
                .expect("the statement is JSON");
        let expected: Value = serde_json::from_str(
            &removed
                .to_string()
                .replace(&format!("{REGION}:{ACCOUNT}"), "*:*"),
        )
        .expect("JSON");
        assert_eq!(named, expected, "{}", denied[0]);
    }
}

#[tokio::test]
async fn a_policy_needs_every_variable_and_a_valid_target() {
    let unset = Provider::builder().build();
    let err = deploy::policy(
        &[Described::of::<Deployed>()],
        &unset,
        &Target::new(REGION, ACCOUNT),
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::MissingVar { var, .. } if var == "P")
            || matches!(&err, Error::Several(errors) if errors.iter().all(|e| matches!(e, Error::MissingVar { var, .. } if var == "P"))),
        "{err:?}"
    );
    let provider = Provider::builder().var("P", "x").build();
    let err = deploy::policy(
        &[Described::of::<Deployed>()],
        &provider,
        &Target::new(REGION, "1234"),
    )
    .unwrap_err();
    assert!(err.to_string().contains("12-digit"), "{err}");
    let with_key = deploy::policy(
        &[Described::of::<Deployed>()],
        &provider,
        &Target::new(REGION, ACCOUNT).kms_key("1234abcd-12ab-34cd-56ef-1234567890ab"),
    )
    .expect("a policy");
    assert!(
        with_key.contains(r#""Action": "kms:Decrypt", "Resource": "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab""#),
        "{with_key}"
    );
}

#[tokio::test]
async fn the_check_reports_every_problem_and_no_value() {
    let prefix = unique_name("deploy/check");
    create_secret(
        &format!("{prefix}/checked"),
        r#"{"host":"canary-host-7f3a","port":"canary-port-9b2c","prot":"canary-extra-4d1e"}"#,
    )
    .await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_deploy-check"))
        .args(["check", "--var", &format!("P={prefix}")])
        .env("SECRETS_SOURCE", "sdk")
        .output()
        .await
        .expect("running the check");
    let stdout = String::from_utf8(output.stdout).expect("UTF-8");
    let stderr = String::from_utf8(output.stderr).expect("UTF-8");
    let all = format!("{stdout}{stderr}");
    assert_eq!(output.status.code(), Some(1), "{all}");
    assert_no_canary(
        &all,
        &["canary-host-7f3a", "canary-port-9b2c", "canary-extra-4d1e"],
    );
    let line = |needles: &[&str]| {
        assert!(
            stdout
                .lines()
                .any(|line| needles.iter().all(|needle| line.contains(needle))),
            "no line with {needles:?} in:\n{all}"
        );
    };
    let checked = format!("secret `{prefix}/checked`");
    // A missing key and a key of the wrong type, in one line for the secret.
    line(&["error: Checked:", &checked, "`api_key`", "missing"]);
    line(&["error: Checked:", &checked, "`port`", "u16"]);
    // A parameter that does not exist, for a field without a default.
    line(&[
        "error: Checked:",
        &format!("parameter `/{prefix}/flag`"),
        "missing",
    ]);
    // A secret that does not exist.
    line(&[
        "error: Absent:",
        &format!("secret `{prefix}/absent`"),
        "not found",
    ]);
    // A binary one, reported once.
    line(&[
        "error: AbsentBinary:",
        &format!("secret `{prefix}/absent-binary`"),
        "not found",
    ]);
    assert_eq!(stdout.matches("absent-binary").count(), 1, "{all}");
    // A key no field reads.
    line(&["warning:", &checked, "key `prot` is read by no field"]);
    assert!(
        stdout
            .trim_end()
            .ends_with("check: 4 error(s), 1 warning(s)"),
        "{all}"
    );
}

/// Every kind of field the template shows.
#[derive(Debug, serde::Deserialize)]
struct Pool {
    size: u32,
}

#[derive(Debug, FromSecret)]
#[secret(name = "{P}/db", rename_all = "camelCase")]
struct Database {
    db_host: String,
    db_port: u16,
}

#[derive(Debug, FromSecret)]
#[secret(name = "{P}/db", rename_all = "camelCase")]
struct Templated {
    #[secret(flatten)]
    database: Database,
    max_connections: Option<u32>,
    #[secret(default)]
    debug: bool,
    #[secret(json)]
    pool: Pool,
    #[secret(parameter = "/{P}/limit")]
    limit: u32,
}

#[tokio::test]
async fn the_template_shows_every_key_and_a_filled_in_template_loads() {
    let fixed = Provider::builder().var("P", "app").build();
    let template = deploy::template(&[Described::of::<Templated>()], &fixed).expect("a template");
    assert_eq!(
        template,
        r#"{
  "$parameters": {
    "/app/limit": "<u32>"
  },
  "app/db": {
    "dbHost": "<String>",
    "dbPort": "<u16>",
    "debug": "<bool, default>",
    "maxConnections": "<u32, optional>",
    "pool": "<Pool as JSON>"
  }
}
"#
    );

    // Fill it in, create what it describes, and load.
    let prefix = unique_name("deploy/template");
    let provider = Provider::builder().var("P", &prefix).build();
    let template =
        deploy::template(&[Described::of::<Templated>()], &provider).expect("a template");
    let mut filled: Value = serde_json::from_str(&template).expect("the template is JSON");
    let value_of = |placeholder: &Value| match placeholder.as_str().expect("a placeholder") {
        "<String>" => Value::from("db.internal"),
        "<u16>" => Value::from("5432"),
        "<bool, default>" => Value::from("true"),
        "<u32, optional>" => Value::from(50),
        "<Pool as JSON>" => serde_json::json!({"size": 4}),
        "<u32>" => Value::from("7"),
        other => panic!("no value for {other}"),
    };
    let object = filled.as_object_mut().expect("an object");
    let parameters = object.remove("$parameters").expect("parameters");
    for (name, placeholder) in parameters.as_object().expect("an object") {
        let value = value_of(placeholder);
        put_parameter(name, "String", value.as_str().expect("text")).await;
    }
    for (name, keys) in object.iter_mut() {
        for value in keys.as_object_mut().expect("keys").values_mut() {
            *value = value_of(value);
        }
        create_secret(name, &keys.to_string()).await;
    }
    let through_sdk = Provider::builder()
        .source(Source::Sdk)
        .var("P", &prefix)
        .build();
    let loaded = Templated::fetch(&through_sdk)
        .await
        .expect("the filled-in template loads");
    assert_eq!(loaded.database.db_host, "db.internal");
    assert_eq!(loaded.database.db_port, 5432);
    assert_eq!(loaded.max_connections, Some(50));
    assert!(loaded.debug);
    assert_eq!(loaded.pool.size, 4);
    assert_eq!(loaded.limit, 7);
}

/// A parameter read by key is a JSON object in the template, like a secret.
#[derive(Debug, FromSecret)]
#[allow(dead_code)] // only described, never loaded
struct KeyedParameter {
    #[secret(parameter = "/app/db", key = "host")]
    host: String,
    #[secret(parameter = "/app/db", key = "port")]
    port: u16,
    #[secret(parameter = "/app/flag")]
    flag: bool,
}

#[test]
fn parameters_read_by_key_are_objects_in_the_template() {
    let template = deploy::template(
        &[Described::of::<KeyedParameter>()],
        &Provider::builder().build(),
    )
    .expect("a template");
    assert_eq!(
        template,
        r#"{
  "$parameters": {
    "/app/db": {
      "host": "<String>",
      "port": "<u16>"
    },
    "/app/flag": "<bool>"
  }
}
"#
    );
}

/// Two structs that read one secret: the template shows each key once, as strictly as any of
/// them reads it, and refuses keys they read as different types.
#[derive(Debug, FromSecret)]
#[secret(name = "shared/db")]
#[allow(dead_code)] // only described, never loaded
struct Reader {
    host: String,
    #[secret(default)]
    port: u16,
    timeout: Option<u32>,
}

#[derive(Debug, FromSecret)]
#[secret(name = "shared/db")]
#[allow(dead_code)]
struct Writer {
    host: String,
    port: u16,
    #[secret(default)]
    timeout: u32,
}

#[derive(Debug, FromSecret)]
#[secret(name = "shared/db")]
#[allow(dead_code)]
struct OtherSpelling {
    port: String,
}

#[derive(Debug, serde::Deserialize)]
#[allow(dead_code)]
struct Port {
    number: u16,
}

#[derive(Debug, FromSecret)]
#[secret(name = "shared/db")]
#[allow(dead_code)]
struct Conflicting {
    #[secret(json)]
    port: Port,
}

#[test]
fn a_key_two_structs_read_is_shown_once_and_strictly() {
    let provider = Provider::builder().build();
    let template = deploy::template(
        &[Described::of::<Reader>(), Described::of::<Writer>()],
        &provider,
    )
    .expect("a template");
    assert_eq!(
        template,
        r#"{
  "shared/db": {
    "host": "<String>",
    "port": "<u16>",
    "timeout": "<u32, default>"
  }
}
"#
    );
    // Types written differently (the value may suit both): each is shown.
    let template = deploy::template(
        &[Described::of::<Reader>(), Described::of::<OtherSpelling>()],
        &provider,
    )
    .expect("a template");
    assert!(
        template.contains(r#""port": "<u16 or String>""#),
        "{template}"
    );
    // A JSON value and a plain one cannot be one value.
    let err = deploy::template(
        &[Described::of::<Reader>(), Described::of::<Conflicting>()],
        &provider,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "secrets configuration: secret `shared/db`: key `port` is read as u16 by Reader and as \
         Port as JSON by Conflicting: one template cannot show both"
    );
}

#[tokio::test]
async fn the_command_line_warns_of_variables_no_template_uses() {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_deploy-check"))
        .args([
            "template", "--var", "P=app", "--stage", "prd", "--var", "TEAM=jay",
        ])
        .output()
        .await
        .expect("running the command");
    let stderr = String::from_utf8(output.stderr).expect("UTF-8");
    assert_eq!(output.status.code(), Some(0), "{stderr}");
    assert_eq!(
        stderr,
        "warning: --stage: no name template of these structs uses STAGE\n\
         warning: --var TEAM: no name template of these structs uses TEAM\n"
    );
    let stdout = String::from_utf8(output.stdout).expect("UTF-8");
    assert!(stdout.contains(r#""app/checked": {"#), "{stdout}");
}

#[tokio::test]
async fn the_check_asks_the_extension_for_a_live_value() {
    let server = FaultServer::start(vec![Fault::secret("live/app", r#"{"host":"h"}"#)]).await;
    let provider = Provider::builder()
        .source(Source::Extension)
        .extension_port(server.port())
        .extension_token("token-for-tests")
        .build();
    #[derive(Debug, FromSecret)]
    #[secret(name = "live/app")]
    #[allow(dead_code)]
    struct Live {
        host: String,
    }
    let report = deploy::check(&[Described::of::<Live>()], &provider).await;
    assert!(!report.has_errors(), "{report}");
    let requests = server.requests();
    assert_eq!(requests.len(), 1);
    assert!(
        requests[0].target.contains("refreshNow=true"),
        "{:?}",
        requests[0].target
    );
}
