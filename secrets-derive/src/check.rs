//! Checks of attribute combinations, after parsing.

use crate::ast::Input;
use crate::ctxt::Ctxt;
use crate::template;

/// Reports every invalid combination in `input`.
pub(crate) fn check(cx: &Ctxt, input: &Input<'_>) {
    match &input.attrs.name {
        None => cx.error_spanned_by(
            input.ident,
            "missing `#[secret(name = \"...\")]`: which secret does this struct read? e.g. #[secret(name = \"{STAGE}/lambda/app\")]",
        ),
        Some(name) => {
            if let Some(problem) = template::problem(&name.value()) {
                cx.error_spanned_by(name, format!("invalid secret name: {problem}"));
            }
        }
    }
    for field in &input.fields {
        if let (Some(span), Some(_)) = (field.attrs.default, field.option_of) {
            cx.syn_error(syn::Error::new(
                span,
                "`default` has no effect on an `Option` field: a missing key is already `None`",
            ));
        }
    }
}
