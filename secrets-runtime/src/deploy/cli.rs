//! The command line of the deploy tools, for an application's own binary or example.

use std::io::Write;
use std::process::ExitCode;

use super::{Described, Target, check, policy, template};
use crate::{Error, Provider};

const USAGE: &str = "\
usage: <program> <policy|check|template> [options]

commands:
  policy     print the IAM policy document that loading needs (needs --region and --account)
  check      fetch and decode every secret and parameter now; exit status 1 on any error
  template   print the JSON skeleton of each secret and parameter, values as type placeholders

options:
  --stage NAME        the stage: sets the variable STAGE of the name templates
  --var NAME=VALUE    sets a variable, as the environment would: of the name templates, or
                      one the provider reads (SECRETS_SOURCE, ...) (repeatable)
  --region REGION     policy: the region of the secrets and parameters
  --account ID        policy: their 12-digit account id
  --kms-key KEY       policy: also allow kms:Decrypt on this customer managed key (ARN or id)

The provider is configured from the environment as at run time (SECRETS_SOURCE, AWS_REGION,
credentials, ...), with --stage and --var over it.";

/// Runs `policy`, `check` or `template` for `structs`, from the process's arguments, and
/// returns the exit status: 0, 1 when the check finds an error or a command fails, 2 for a
/// usage error. It runs the check on a runtime of its own, so call it from a plain `main`, not
/// from inside a tokio runtime. Call it from a binary or an example of your application:
///
/// ```no_run
/// # use secrets_runtime::FromSecret;
/// # #[derive(FromSecret)] #[secret(name = "{STAGE}/lambda/jay")] struct Jay { db_host: String }
/// // examples/secrets.rs: `cargo run --example secrets -- check --stage prd`
/// fn main() -> std::process::ExitCode {
///     secrets_runtime::deploy::main(&[secrets_runtime::deploy::Described::of::<Jay>()])
/// }
/// ```
#[must_use]
pub fn main(structs: &[Described]) -> ExitCode {
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|arg| arg.to_string_lossy().into_owned())
        .collect();
    let code = run(
        &args,
        structs,
        &mut std::io::stdout().lock(),
        &mut std::io::stderr().lock(),
    );
    ExitCode::from(code)
}

/// The command line `args` (without the program), parsed.
#[derive(Debug, Default, PartialEq, Eq)]
struct Args {
    command: String,
    vars: Vec<(String, String)>,
    region: Option<String>,
    account: Option<String>,
    kms_key: Option<String>,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut parsed = Args::default();
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        // `--option value` or `--option=value`; a value never starts with `--`.
        let (option, inline) = match arg.split_once('=') {
            Some((option, value)) if option.starts_with("--") => (option, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };
        let mut value = |name: &str| match inline.clone() {
            Some(value) => Ok(value),
            None => args
                .next()
                .filter(|value| !value.starts_with("--"))
                .cloned()
                .ok_or_else(|| format!("{name} needs a value")),
        };
        match option {
            "--stage" => parsed.vars.push(("STAGE".into(), value("--stage")?)),
            "--var" => {
                let pair = value("--var")?;
                let Some((name, val)) = pair.split_once('=') else {
                    return Err(format!("--var takes NAME=VALUE, not `{pair}`"));
                };
                parsed.vars.push((name.into(), val.into()));
            }
            "--region" => parsed.region = Some(value("--region")?),
            "--account" => parsed.account = Some(value("--account")?),
            "--kms-key" => parsed.kms_key = Some(value("--kms-key")?),
            "-h" | "--help" => return Err(String::new()),
            command @ ("policy" | "check" | "template") if parsed.command.is_empty() => {
                command.clone_into(&mut parsed.command);
            }
            _ => return Err(format!("unexpected argument `{arg}`")),
        }
    }
    if parsed.command.is_empty() {
        return Err("which command: policy, check or template?".into());
    }
    if parsed.command != "policy" {
        let policy_only = [
            ("--region", parsed.region.is_some()),
            ("--account", parsed.account.is_some()),
            ("--kms-key", parsed.kms_key.is_some()),
        ];
        if let Some((option, _)) = policy_only.iter().find(|(_, given)| *given) {
            return Err(format!(
                "{option} is an option of policy, not of {}",
                parsed.command
            ));
        }
    }
    Ok(parsed)
}

/// Runs a command line; output to `out`, diagnostics to `err`.
fn run(args: &[String], structs: &[Described], out: &mut dyn Write, err: &mut dyn Write) -> u8 {
    let args = match parse(args) {
        Ok(args) => args,
        // `--help`: the usage, as asked.
        Err(problem) if problem.is_empty() => {
            let _ = writeln!(out, "{USAGE}");
            return 0;
        }
        Err(problem) => {
            let _ = writeln!(err, "error: {problem}\n\n{USAGE}");
            return 2;
        }
    };
    if args.command == "policy" && (args.region.is_none() || args.account.is_none()) {
        let _ = writeln!(
            err,
            "error: policy needs --region and --account (the ARNs name them)\n\n{USAGE}"
        );
        return 2;
    }
    warn_about_variables(&args.vars, structs, err);
    let provider = match provider(&args.vars) {
        Ok(provider) => provider,
        Err(problem) => {
            let _ = writeln!(err, "error: {problem}");
            return 1;
        }
    };
    let printed = match args.command.as_str() {
        "policy" => {
            // Both present: checked before anything is printed.
            let region = args.region.as_deref().unwrap_or_default();
            let account = args.account.as_deref().unwrap_or_default();
            let mut target = Target::new(region, account);
            if let Some(key) = &args.kms_key {
                target = target.kms_key(key);
            }
            policy(structs, &provider, &target)
        }
        "template" => template(structs, &provider),
        _ => {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            let report = match runtime {
                Ok(runtime) => runtime.block_on(check(structs, &provider)),
                Err(problem) => {
                    let _ = writeln!(err, "error: could not start a tokio runtime: {problem}");
                    return 1;
                }
            };
            let _ = writeln!(out, "{report}");
            return u8::from(report.has_errors());
        }
    };
    match printed {
        Ok(text) => {
            let _ = write!(out, "{text}");
            0
        }
        Err(problem) => {
            let _ = writeln!(err, "error: {problem}");
            1
        }
    }
}

/// Warns of a `--var` (or `--stage`) that no name template uses (a typo would otherwise go
/// unnoticed, the templates falling back to their defaults), and of a `name_env` variable that
/// is unset (the name template is used then, as at run time).
fn warn_about_variables(vars: &[(String, String)], structs: &[Described], err: &mut dyn Write) {
    // The provider's own settings and the AWS variables are not name variables.
    let setting = |name: &str| {
        ["SECRETS_", "PARAMETERS_SECRETS_", "AWS_"]
            .iter()
            .any(|prefix| name.starts_with(prefix))
    };
    for (name, _) in vars {
        if !setting(name) && !structs.iter().any(|s| s.variables.contains(&name.as_str())) {
            let option = if name == "STAGE" {
                "--stage".to_owned()
            } else {
                format!("--var {name}")
            };
            let _ = writeln!(
                err,
                "warning: {option}: no name template of these structs uses {name}"
            );
        }
    }
    for described in structs {
        let Some(var) = described.name_env else {
            continue;
        };
        let set = vars
            .iter()
            .any(|(name, value)| name == var && !value.is_empty())
            || std::env::var_os(var).is_some_and(|value| !value.is_empty());
        if !set {
            let _ = writeln!(
                err,
                "note: {} takes its secret name from {var} when it is set; it is not set here, \
                 so its name template is used",
                described.short_name()
            );
        }
    }
}

/// The provider configured from the environment, with `vars` set.
fn provider(vars: &[(String, String)]) -> Result<Provider, Error> {
    let mut builder = Provider::builder();
    for (name, value) in vars {
        builder = builder.var(name, value);
    }
    Ok(builder.env()?.build())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(line: &str) -> Vec<String> {
        line.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn parses_a_policy_line() {
        let parsed = parse(&args(
            "policy --stage prd --var TEAM=jay --region eu-west-1 --account 123456789012",
        ))
        .unwrap();
        assert_eq!(
            parsed,
            Args {
                command: "policy".into(),
                vars: vec![
                    ("STAGE".into(), "prd".into()),
                    ("TEAM".into(), "jay".into())
                ],
                region: Some("eu-west-1".into()),
                account: Some("123456789012".into()),
                kms_key: None,
            }
        );
    }

    #[test]
    fn options_take_their_value_after_an_equals_sign_too() {
        let parsed = parse(&args("template --stage=prd --var=TEAM=jay")).unwrap();
        assert_eq!(
            parsed.vars,
            [
                ("STAGE".into(), "prd".into()),
                ("TEAM".into(), "jay".into())
            ]
        );
    }

    #[test]
    fn usage_errors_say_what_is_wrong() {
        assert_eq!(
            parse(&args("")).unwrap_err(),
            "which command: policy, check or template?"
        );
        assert_eq!(
            parse(&args("check --stage")).unwrap_err(),
            "--stage needs a value"
        );
        assert_eq!(
            parse(&args("check --var STAGE")).unwrap_err(),
            "--var takes NAME=VALUE, not `STAGE`"
        );
        assert_eq!(
            parse(&args("check template")).unwrap_err(),
            "unexpected argument `template`"
        );
        let mut out = Vec::new();
        let mut err = Vec::new();
        assert_eq!(run(&args("policy --stage prd"), &[], &mut out, &mut err), 2);
        let err = String::from_utf8(err).unwrap();
        assert!(
            err.starts_with("error: policy needs --region and --account"),
            "{err}"
        );
    }
}
