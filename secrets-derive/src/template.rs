//! Compile-time checks of secret name templates (`{VAR}`, `{VAR:-default}`, `{{`, `}}`).
//! The runtime resolves them with the same scanner (`shared::template`); this only rejects
//! templates that could never resolve, with messages for the derive's user.

use crate::shared::template::{SyntaxError, pieces};

/// Why `template` is malformed, if it is.
pub(crate) fn problem(template: &str) -> Option<String> {
    if template.trim().is_empty() {
        return Some("the secret name is empty".into());
    }
    let error = pieces(template).find_map(Result::err)?;
    Some(match error {
        SyntaxError::Unopened => {
            "this `}` has no opening `{` (write `}}` for a literal brace)".into()
        }
        SyntaxError::Unclosed => "this `{` is never closed (write `{{` for a literal brace)".into(),
        SyntaxError::NotAPlaceholder(inside) => format!(
            "`{{{inside}}}` is not a placeholder: expected `{{VAR}}` or `{{VAR:-default}}` with an environment variable name"
        ),
    })
}
