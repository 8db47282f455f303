//! Checks of attribute combinations, after parsing. Each error goes on the span at fault.

use proc_macro2::Span;

use crate::ast::{self, Field, Input};
use crate::attr::Default;
use crate::ctxt::Ctxt;
use crate::template;

/// Reports every invalid combination in `input`.
pub(crate) fn check(cx: &Ctxt, input: &Input<'_>) {
    check_container(cx, input);
    for field in &input.fields {
        check_field(cx, field);
    }
    check_whole_secret_fields(cx, input);
}

fn check_container(cx: &Ctxt, input: &Input<'_>) {
    let attrs = &input.attrs;
    // A field without `from` or `parameter` (or a flattened struct) reads the struct's secret.
    let reads_own_secret = input
        .fields
        .iter()
        .find(|f| f.attrs.skip.is_none() && matches!(f.origin(), ast::Origin::Container));
    match (&attrs.name, &attrs.name_env) {
        (None, None) if attrs.name_written => {}
        (None, None) => match reads_own_secret {
            None if input.fields.iter().any(|f| f.attrs.skip.is_none()) => {}
            None => cx.error_spanned_by(
                input.ident,
                "missing `#[secret(name = \"...\")]`: which secret does this struct read? e.g. #[secret(name = \"{STAGE}/lambda/app\")]",
            ),
            Some(field) => cx.error_spanned_by(
                input.ident,
                format!(
                    "missing `#[secret(name = \"...\")]`: field `{}` reads the struct's own secret; name it (e.g. #[secret(name = \"{{STAGE}}/lambda/app\")]), or give every field `from = \"...\"` or `parameter = \"...\"`",
                    field.ident
                ),
            ),
        },
        (Some(name), _) => {
            if let Some(problem) = template::problem(&name.value()) {
                cx.error_spanned_by(name, format!("invalid secret name: {problem}"));
            }
        }
        (None, Some(_)) => {}
    }
}

fn check_field(cx: &Ctxt, field: &Field<'_>) {
    let a = &field.attrs;
    let error = |span: Span, message: &str| cx.syn_error(syn::Error::new(span, message));

    if let Some(skip) = a.skip {
        if a.has_reading_attribute() || a.flatten.is_some() {
            error(
                skip,
                "`skip` takes no other attribute: a skipped field is not read from the secret and is `Default::default()`",
            );
        }
        return;
    }
    if let Some(flatten) = a.flatten {
        if a.has_reading_attribute() {
            error(
                flatten,
                "`flatten` takes no other attribute: the nested struct's own attributes say how its fields are read",
            );
        } else if field.option_of.is_some() {
            error(
                flatten,
                "`flatten` needs a struct that derives `FromSecret`, not an `Option`",
            );
        }
        return;
    }
    if let (Some(parameter), Some(_)) = (&a.parameter, &a.from) {
        error(
            parameter.span(),
            "`from` and `parameter` conflict: a field reads one secret or one parameter",
        );
    }
    for (lit, what) in [(&a.from, "secret"), (&a.parameter, "parameter")] {
        // An empty one is reported where it is parsed.
        let lit = lit.as_ref().filter(|l| !l.value().is_empty());
        if let Some(problem) = lit.and_then(|l| template::problem(&l.value())) {
            error(
                lit.map_or_else(Span::call_site, syn::LitStr::span),
                &format!("invalid {what} name: {problem}"),
            );
        }
    }
    if a.parameter.is_some() {
        if let Some(binary) = a.binary {
            error(
                binary,
                "a parameter holds text: `binary` reads a secret's `SecretBinary`",
            );
        }
        if let Some(whole) = a.whole {
            error(
                whole,
                "a `parameter` field already reads the parameter's whole value: remove `whole`",
            );
        }
    }
    if let (Some(whole), Some(_)) = (a.whole, a.binary) {
        error(
            whole,
            "`whole` and `binary` conflict: a secret is either a string or binary",
        );
    }
    for (span, what) in [(a.whole, "whole"), (a.binary, "binary")] {
        let Some(span) = span else { continue };
        if a.key.is_some() {
            error(
                span,
                &format!("`{what}` reads the entire secret, so it takes no `key`"),
            );
        }
        if a.default.is_some() || a.default_with.is_some() {
            error(
                span,
                &format!(
                    "`{what}` reads the entire secret, which is never missing: remove the default"
                ),
            );
        }
        if field.option_of.is_some() {
            error(
                span,
                &format!(
                    "`{what}` reads the entire secret, which is never missing: use the type without `Option`"
                ),
            );
        }
    }
    if let Some(binary) = a.binary {
        if a.json.is_some() || a.with.is_some() {
            error(
                binary,
                "`binary` gives the raw bytes: it takes no `json` or `with`",
            );
        }
        if !ast::is_binary(field.ty) {
            cx.error_spanned_by(
                field.ty,
                "`binary` needs a field of type `Vec<u8>`, or `SecretSlice<u8>` to have the bytes \
                 zeroized on drop",
            );
        }
    }
    if let (Some(json), Some(_)) = (a.json, &a.with) {
        error(
            json,
            "`json` and `with` conflict: choose serde or your own parse function",
        );
    }
    if let (Some(default), Some(_)) = (&a.default, &a.default_with) {
        error(
            default.span,
            "`default` and `default_with` conflict: choose one",
        );
    }
    if field.option_of.is_some() {
        if let Some(default) = &a.default {
            error(
                default.span,
                "`default` has no effect on an `Option` field: a missing key is already `None`",
            );
        }
        if let Some(default) = &a.default_with {
            error(
                default.span,
                "`default_with` has no effect on an `Option` field: a missing key is already `None`",
            );
        }
    }
    if let Some(attr_default) = &a.default
        && let (Default::Literal(literal), None, None) = (&attr_default.value, &a.json, &a.with)
    {
        check_literal(cx, field, literal);
    }
}

/// `default = "..."` on a primitive is parsed now, so a typo fails the build.
fn check_literal(cx: &Ctxt, field: &Field<'_>, literal: &syn::LitStr) {
    let Some(ident) = ast::single_ident(field.ty) else {
        return;
    };
    let primitive = ident.to_string();
    let text = literal.value();
    if parses_as_primitive(&primitive, &text) == Some(false) {
        cx.error_spanned_by(
            literal,
            format!("`default = \"{text}\"` is not a valid {primitive}"),
        );
    }
}

/// Defines `parses_as_primitive` from the primitives of the shared list of std types.
macro_rules! parses_as_primitive {
    (primitives: [$($primitive:ident),* $(,)?], others: [$($others:tt)*] $(,)?) => {
        /// Whether `text` parses as the primitive type named `name`, with that type's own
        /// `FromStr` as the runtime will parse it; `None` when `name` is not one of the
        /// primitives of `shared::std_types`. (`usize` and `isize` have the width of the
        /// machine that compiles, which is the target's unless cross-compiling.)
        fn parses_as_primitive(name: &str, text: &str) -> Option<bool> {
            match name {
                $(stringify!($primitive) => Some(text.parse::<$primitive>().is_ok()),)*
                _ => None,
            }
        }
    };
}

crate::shared::std_types::std_from_str_types!(parses_as_primitive);

/// A `whole` or `binary` field reads an entire secret: no other field may read that secret.
fn check_whole_secret_fields(cx: &Ctxt, input: &Input<'_>) {
    let mut reported = Vec::new();
    for entire in input.fields.iter().filter(|f| {
        f.attrs.skip.is_none()
            && f.attrs.parameter.is_none()
            && (f.attrs.whole.is_some() || f.attrs.binary.is_some())
    }) {
        let origin = entire.origin();
        if reported.iter().any(|s: &ast::Origin<'_>| s.same(&origin)) {
            continue;
        }
        reported.push(origin);
        check_whole_secret_field(cx, input, entire);
    }
}

fn check_whole_secret_field(cx: &Ctxt, input: &Input<'_>, entire: &Field<'_>) {
    let origin = entire.origin();
    let what = if entire.attrs.whole.is_some() {
        "whole"
    } else {
        "binary"
    };
    let secret = match origin {
        ast::Origin::Secret(from) => format!("the entire secret `{}`", from.value()),
        ast::Origin::Container | ast::Origin::Parameter(_) => "the entire secret".to_owned(),
    };
    for other in &input.fields {
        let same = other.origin().same(&origin);
        if std::ptr::eq(other, entire) || other.attrs.skip.is_some() || !same {
            continue;
        }
        cx.error_spanned_by(
            other.ident,
            format!(
                "field `{}` reads {secret} (`{what}`), so `{}` cannot read it too: mark it `#[secret(skip)]` or move it to another struct",
                entire.ident, other.ident
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::parses_as_primitive;

    #[test]
    fn default_literals_parse_as_their_own_primitive() {
        assert_eq!(parses_as_primitive("u8", "255"), Some(true));
        assert_eq!(parses_as_primitive("u8", "256"), Some(false));
        assert_eq!(parses_as_primitive("bool", "true"), Some(true));
        assert_eq!(parses_as_primitive("bool", "yes"), Some(false));
        assert_eq!(parses_as_primitive("char", "ab"), Some(false));
        assert_eq!(parses_as_primitive("f32", "1.5"), Some(true));
        // `usize` and `isize` parse as themselves, not as `u64` and `i64`.
        let max = usize::MAX.to_string();
        let beyond = (u128::from(u64::try_from(usize::MAX).unwrap()) + 1).to_string();
        assert_eq!(parses_as_primitive("usize", &max), Some(true));
        assert_eq!(parses_as_primitive("usize", &beyond), Some(false));
        assert_eq!(parses_as_primitive("usize", "-1"), Some(false));
        assert_eq!(parses_as_primitive("isize", "-1"), Some(true));
        // Not primitives: nothing to check at compile time.
        assert_eq!(parses_as_primitive("String", "x"), None);
        assert_eq!(parses_as_primitive("IpAddr", "x"), None);
        assert_eq!(parses_as_primitive("Percent", "x"), None);
    }
}
