//! Compile-time checks of secret name templates (`{VAR}`, `{VAR:-default}`, `{{`, `}}`).
//! The runtime resolves them; this only rejects templates that could never resolve.

/// Why `template` is malformed, if it is.
pub(crate) fn problem(template: &str) -> Option<String> {
    if template.trim().is_empty() {
        return Some("the secret name is empty".into());
    }
    let mut rest = template;
    while let Some(pos) = rest.find(['{', '}']) {
        let brace = rest.as_bytes()[pos];
        let after = &rest[pos + 1..];
        if after.as_bytes().first() == Some(&brace) {
            rest = &after[1..];
            continue;
        }
        if brace == b'}' {
            return Some("this `}` has no opening `{` (write `}}` for a literal brace)".into());
        }
        let Some(end) = after.find('}') else {
            return Some("this `{` is never closed (write `{{` for a literal brace)".into());
        };
        let placeholder = &after[..end];
        let var = placeholder
            .split_once(":-")
            .map_or(placeholder, |(var, _)| var);
        if !is_var_name(var) {
            return Some(format!(
                "`{{{placeholder}}}` is not a placeholder: expected `{{VAR}}` or `{{VAR:-default}}` with an environment variable name"
            ));
        }
        rest = &after[end + 1..];
    }
    None
}

/// Whether `name` can be an environment variable's name (`[A-Za-z_][A-Za-z0-9_]*`).
pub(crate) fn is_var_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}
