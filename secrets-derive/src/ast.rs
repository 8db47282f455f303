//! The struct being derived, read into a model the later stages can trust.

use syn::{Attribute, Data, DeriveInput, Fields, GenericArgument, Ident, PathArguments, Type};

use crate::attr;
use crate::case::RenameRule;
use crate::ctxt::Ctxt;

/// A struct with named fields.
pub(crate) struct Input<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) attrs: attr::Container,
    pub(crate) fields: Vec<Field<'a>>,
    /// The struct carries `#[allow(deprecated)]` (or `expect`): so does the generated impl.
    pub(crate) allows_deprecated: bool,
}

/// One named field.
pub(crate) struct Field<'a> {
    pub(crate) ident: &'a Ident,
    pub(crate) ty: &'a Type,
    pub(crate) attrs: attr::Field,
    /// `T` when the field is `Option<T>`.
    pub(crate) option_of: Option<&'a Type>,
    /// The field carries `#[allow(deprecated)]` (or `expect`): so does the code generated for
    /// it, which repeats the field's type.
    pub(crate) allows_deprecated: bool,
}

impl<'a> Input<'a> {
    /// Reads `input`; shapes that cannot be derived are reported in `cx` and give `None`.
    pub(crate) fn from_syn(cx: &Ctxt, input: &'a DeriveInput) -> Option<Self> {
        let attrs = attr::Container::from_attrs(cx, &input.attrs);
        if !input.generics.params.is_empty() {
            cx.error_spanned_by(
                &input.generics,
                "`FromSecret` cannot be derived for a generic struct: each struct has one static cache, so its type must be concrete",
            );
        }
        let named = match &input.data {
            Data::Struct(data) => match &data.fields {
                Fields::Named(named) => named,
                Fields::Unnamed(_) => {
                    cx.error_spanned_by(&input.ident, "`FromSecret` needs named fields: each field reads the secret key of its name");
                    return None;
                }
                Fields::Unit => {
                    cx.error_spanned_by(
                        &input.ident,
                        "`FromSecret` needs a struct with named fields, not a unit struct",
                    );
                    return None;
                }
            },
            Data::Enum(data) => {
                cx.error_spanned_by(
                    data.enum_token,
                    "`FromSecret` can only be derived for structs with named fields, not enums",
                );
                return None;
            }
            Data::Union(data) => {
                cx.error_spanned_by(
                    data.union_token,
                    "`FromSecret` can only be derived for structs with named fields, not unions",
                );
                return None;
            }
        };
        let fields = named
            .named
            .iter()
            .filter_map(|field| {
                let ident = field.ident.as_ref()?;
                Some(Field {
                    ident,
                    ty: &field.ty,
                    attrs: attr::Field::from_attrs(cx, &field.attrs),
                    option_of: option_inner(&field.ty),
                    allows_deprecated: allows_deprecated(&field.attrs),
                })
            })
            .collect();
        Some(Input {
            ident: &input.ident,
            attrs,
            fields,
            allows_deprecated: allows_deprecated(&input.attrs),
        })
    }
}

/// Where a field reads from.
#[derive(Clone, Copy)]
pub(crate) enum Origin<'a> {
    /// The struct's own secret.
    Container,
    /// `from = "..."`.
    Secret(&'a syn::LitStr),
    /// `parameter = "..."`.
    Parameter(&'a syn::LitStr),
}

impl Origin<'_> {
    /// Whether two origins are the same (by template).
    pub(crate) fn same(&self, other: &Origin<'_>) -> bool {
        match (self, other) {
            (Origin::Container, Origin::Container) => true,
            (Origin::Secret(a), Origin::Secret(b))
            | (Origin::Parameter(a), Origin::Parameter(b)) => a.value() == b.value(),
            _ => false,
        }
    }
}

impl Field<'_> {
    /// Where the field reads from: `parameter` before `from` (both is an error).
    pub(crate) fn origin(&self) -> Origin<'_> {
        match (&self.attrs.parameter, &self.attrs.from) {
            (Some(parameter), _) => Origin::Parameter(parameter),
            (None, Some(from)) => Origin::Secret(from),
            (None, None) => Origin::Container,
        }
    }

    /// Whether the field reads its source's entire value: `whole`, `binary`, or a `parameter`
    /// without `key`.
    pub(crate) fn reads_whole_value(&self) -> bool {
        let a = &self.attrs;
        a.whole.is_some() || a.binary.is_some() || (a.parameter.is_some() && a.key.is_none())
    }

    /// The JSON key this field reads: `key = "..."`, or the field's name (without `r#`)
    /// under the struct's `rename_all` rule.
    pub(crate) fn key(&self, rename_all: Option<RenameRule>) -> String {
        if let Some(key) = &self.attrs.key {
            return key.value();
        }
        let name = self.ident.to_string();
        let name = name.trim_start_matches("r#");
        rename_all.map_or_else(|| name.to_owned(), |rule| rule.apply(name))
    }

    /// The type values are decoded into: `T` for `Option<T>`, else the field's type.
    pub(crate) fn value_ty(&self) -> &Type {
        self.option_of.unwrap_or(self.ty)
    }
}

/// Whether `attrs` hold `#[allow(deprecated)]` or `#[expect(deprecated)]` (among other lints).
/// The user's allowance for their own use of a deprecated item extends to the generated code
/// that repeats that use (as serde_derive does).
fn allows_deprecated(attrs: &[Attribute]) -> bool {
    attrs
        .iter()
        .filter(|attr| attr.path().is_ident("allow") || attr.path().is_ident("expect"))
        .any(|attr| {
            let mut found = false;
            // A list that does not parse is the compiler's to report, not ours.
            let _ = attr.parse_nested_meta(|meta| {
                found |= meta.path.is_ident("deprecated");
                if meta.input.peek(syn::Token![=]) {
                    let _: syn::Expr = meta.value()?.parse()?;
                }
                Ok(())
            });
            found
        })
}

/// `ty` without the invisible groups a `macro_rules!` `$t:ty` wraps it in (and parentheses).
pub(crate) fn ungroup(ty: &Type) -> &Type {
    match ty {
        Type::Group(group) => ungroup(&group.elem),
        Type::Paren(paren) => ungroup(&paren.elem),
        ty => ty,
    }
}

/// Whether `ty` is written `Vec<u8>`, `SecretSlice<u8>` or `SecretBox<[u8]>` (as
/// `#[secret(binary)]` needs).
pub(crate) fn is_binary(ty: &Type) -> bool {
    let Type::Path(path) = ungroup(ty) else {
        return false;
    };
    let Some(last) = path.path.segments.last() else {
        return false;
    };
    let PathArguments::AngleBracketed(args) = &last.arguments else {
        return false;
    };
    let Some(GenericArgument::Type(inner)) = args.args.first().filter(|_| args.args.len() == 1)
    else {
        return false;
    };
    let is_u8 = |ty: &Type| matches!(ungroup(ty), Type::Path(path) if path.path.is_ident("u8"));
    match last.ident.to_string().as_str() {
        "Vec" | "SecretSlice" => is_u8(inner),
        "SecretBox" => matches!(ungroup(inner), Type::Slice(slice) if is_u8(&slice.elem)),
        _ => false,
    }
}

/// The name of `ty` when it is written as one identifier (`u16`, `Endpoint`).
pub(crate) fn single_ident(ty: &Type) -> Option<&Ident> {
    match ungroup(ty) {
        Type::Path(path) if path.qself.is_none() => path.path.get_ident(),
        _ => None,
    }
}

/// `T` if `ty` is written `Option<T>` (or `std::option::Option<T>`, `core::option::Option<T>`).
fn option_inner(ty: &Type) -> Option<&Type> {
    let Type::Path(path) = ungroup(ty) else {
        return None;
    };
    if path.qself.is_some() {
        return None;
    }
    let segments: Vec<_> = path.path.segments.iter().collect();
    let names: Vec<String> = segments.iter().map(|s| s.ident.to_string()).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    if !matches!(
        names.as_slice(),
        ["Option"] | ["std" | "core", "option", "Option"]
    ) {
        return None;
    }
    let PathArguments::AngleBracketed(args) = &segments.last()?.arguments else {
        return None;
    };
    match args.args.first() {
        Some(GenericArgument::Type(inner)) if args.args.len() == 1 => Some(inner),
        _ => None,
    }
}
