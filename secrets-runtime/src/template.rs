//! Secret name templates: `"{STAGE}/lambda/jay"` filled from the environment at load time.
//!
//! A placeholder is `{VAR}` or `{VAR:-default}` (the default is used when `VAR` is unset or
//! empty). `{{` and `}}` stand for literal braces. The derive checks templates at compile time,
//! so the errors here are for names built at run time.

use crate::Error;
use crate::shared::template::{Piece, SyntaxError, pieces};
use crate::vars::Vars;

/// Fills every placeholder of `template` from `vars`.
pub(crate) fn resolve(template: &str, vars: &Vars) -> Result<String, Error> {
    let mut out = String::with_capacity(template.len() + 8);
    for piece in pieces(template) {
        match piece.map_err(|err| syntax_error(template, err))? {
            Piece::Literal(text) => out.push_str(text),
            Piece::Placeholder { var, default } => {
                match (vars.get(var).filter(|v| !v.is_empty()), default) {
                    (Some(value), _) => out.push_str(&value),
                    (None, Some(default)) => out.push_str(default),
                    (None, None) => {
                        return Err(Error::MissingVar {
                            var: var.to_owned(),
                            template: template.to_owned(),
                        });
                    }
                }
            }
        }
    }
    Ok(out)
}

/// The run-time error of a malformed template (the derive rejects those it sees at compile
/// time; these are names built at run time).
fn syntax_error(template: &str, err: SyntaxError<'_>) -> Error {
    bad_template(
        template,
        match err {
            SyntaxError::Unopened => "a `}` without its `{` (write `}}` for a brace)",
            SyntaxError::Unclosed => "a `{` that is never closed",
            SyntaxError::NotAPlaceholder(_) => {
                "a placeholder that is not an environment variable name"
            }
        },
    )
}

fn bad_template(template: &str, what: &str) -> Error {
    Error::Config(format!("secret name template `{template}` has {what}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vars {
        let mut vars = Vars::isolated();
        for (k, v) in pairs {
            vars.set(*k, *v);
        }
        vars
    }

    #[test]
    fn fills_placeholders() {
        let v = vars(&[("STAGE", "prd"), ("APP", "jay")]);
        assert_eq!(
            resolve("{STAGE}/lambda/{APP}", &v).unwrap(),
            "prd/lambda/jay"
        );
        assert_eq!(resolve("plain/name", &v).unwrap(), "plain/name");
    }

    #[test]
    fn default_applies_when_unset_or_empty() {
        assert_eq!(resolve("{STAGE:-dev}/x", &vars(&[])).unwrap(), "dev/x");
        assert_eq!(
            resolve("{STAGE:-dev}/x", &vars(&[("STAGE", "")])).unwrap(),
            "dev/x"
        );
        assert_eq!(
            resolve("{STAGE:-dev}/x", &vars(&[("STAGE", "stg")])).unwrap(),
            "stg/x"
        );
    }

    #[test]
    fn escaped_braces_are_literal() {
        assert_eq!(resolve("a{{b}}c", &vars(&[])).unwrap(), "a{b}c");
    }

    #[test]
    fn missing_variable_names_variable_and_template() {
        let err = resolve("{STAGE}/lambda/jay", &vars(&[])).unwrap_err();
        assert!(matches!(&err, Error::MissingVar { var, template }
            if var == "STAGE" && template == "{STAGE}/lambda/jay"));
        assert_eq!(
            err.to_string(),
            "environment variable `STAGE` is not set; the name `{STAGE}/lambda/jay` needs it"
        );
    }

    #[test]
    fn malformed_templates_are_errors() {
        for bad in ["{STAGE/x", "x}", "{}", "{1A}", "{A B}"] {
            assert!(
                matches!(
                    resolve(bad, &vars(&[("STAGE", "x")])),
                    Err(Error::Config(_))
                ),
                "{bad}"
            );
        }
    }
}
