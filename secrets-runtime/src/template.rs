//! Secret name templates: `"{STAGE}/lambda/jay"` filled from the environment at load time.
//!
//! A placeholder is `{VAR}` or `{VAR:-default}` (the default is used when `VAR` is unset or
//! empty). `{{` and `}}` stand for literal braces. The derive checks templates at compile time,
//! so the errors here are for names built at run time.

use crate::Error;
use crate::vars::Vars;

/// Fills every placeholder of `template` from `vars`.
pub(crate) fn resolve(template: &str, vars: &Vars) -> Result<String, Error> {
    let mut out = String::with_capacity(template.len() + 8);
    let mut rest = template;
    while let Some(pos) = rest.find(['{', '}']) {
        out.push_str(&rest[..pos]);
        let brace = rest.as_bytes()[pos];
        let after = &rest[pos + 1..];
        if after.as_bytes().first() == Some(&brace) {
            out.push(char::from(brace));
            rest = &after[1..];
            continue;
        }
        if brace == b'}' {
            return Err(bad_template(
                template,
                "a `}` without its `{` (write `}}` for a brace)",
            ));
        }
        let Some(end) = after.find('}') else {
            return Err(bad_template(template, "a `{` that is never closed"));
        };
        let placeholder = &after[..end];
        let (var, default) = match placeholder.split_once(":-") {
            Some((var, default)) => (var, Some(default)),
            None => (placeholder, None),
        };
        if !is_var_name(var) {
            return Err(bad_template(
                template,
                "a placeholder that is not an environment variable name",
            ));
        }
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
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

fn is_var_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
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
