//! Code generation. Every path is absolute and goes through the runtime's hidden
//! `__private` module (`::secrets_runtime::__private`, or the `crate = "..."` path), so the
//! expansion works whatever the user has in scope.

use proc_macro2::{Span, TokenStream};
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned as _;
use syn::{DeriveInput, Type};

use crate::ast::{Field, Input, Origin};
use crate::attr::Default;
use crate::check;
use crate::ctxt::Ctxt;

/// The whole derive: the impl, or every error plus a placeholder impl.
pub(crate) fn derive(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::new();
    let parsed = Input::from_syn(&cx, input);
    if let Some(parsed) = &parsed {
        check::check(&cx, parsed);
    }
    match (cx.check(), parsed) {
        (Ok(()), Some(parsed)) => impl_from_secret(&parsed),
        (Err(errors), parsed) => {
            let mut out = errors.to_compile_error();
            let krate = parsed.as_ref().and_then(|p| p.attrs.krate.clone());
            out.extend(placeholder_impl(input, krate.as_ref()));
            out
        }
        (Ok(()), None) => unreachable!("a struct that could not be read without an error"),
    }
}

/// The runtime crate's path, spanned at `span` when it is the default one, so that errors
/// in generated expressions point where `span` points.
fn krate(input: &Input<'_>, span: Span) -> TokenStream {
    match &input.attrs.krate {
        Some(path) => path.to_token_stream(),
        None => quote_spanned!(span=> ::secrets_runtime),
    }
}

fn impl_from_secret(input: &Input<'_>) -> TokenStream {
    let ident = call_site_ident(input.ident);
    let krate = krate(input, Span::call_site());
    let private = quote!(#krate::__private);
    let spec = spec(input, &private);
    let locals: Vec<_> = (0..input.fields.len())
        .map(|i| format_ident!("__field{}", i))
        .collect();
    let reads = input.fields.iter().zip(&locals).map(|(field, local)| {
        let read = read_field(input, field);
        let allow = allow_deprecated(field.allows_deprecated);
        quote!(#allow let #local = #read;)
    });
    let idents = input.fields.iter().map(|f| f.ident);
    let origins = origins(input);
    let field_specs = field_specs(input);
    let allow = allow_deprecated(input.allows_deprecated);
    quote! {
        #[automatically_derived]
        #allow
        impl #krate::FromSecret for #ident {
            // `..DEFAULT` stays when every field is set (`spec`).
            #[allow(clippy::needless_update)]
            const SPEC: #private::SecretSpec = #spec;

            fn read_fields(
                __fields: &mut #private::Fields<'_>,
            ) -> #private::Option<Self> {
                #(#reads)*
                #private::Some(Self { #(#idents: #locals?,)* })
            }

            fn origins(__origins: &mut #private::Origins) {
                #origins
            }

            fn field_specs(__specs: &mut #private::FieldSpecs) {
                #field_specs
            }

            #[inline]
            fn cache() -> &'static #private::Cache<Self> {
                static CACHE: #private::Cache<#ident> = #private::Cache::new();
                &CACHE
            }
        }
    }
}

/// The struct's `SecretSpec`: what its attributes set, and the runtime's
/// `SecretSpec::DEFAULT` for the rest, so that the defaults are written once, in the runtime.
fn spec(input: &Input<'_>, private: &TokenStream) -> TokenStream {
    let attrs = &input.attrs;
    let mut set = Vec::new();
    match (&attrs.name, &attrs.name_env) {
        (Some(name), _) => {
            let name = name.value();
            set.push(quote!(name: #name));
        }
        // `name_env = "VAR"` alone means the secret name is the variable's value.
        (None, Some(var)) => {
            let name = format!("{{{}}}", var.value());
            set.push(quote!(name: #name));
        }
        (None, None) => {}
    }
    if let Some(var) = &attrs.name_env {
        set.push(quote!(name_env: #private::Some(#var)));
    }
    let durations = [
        (quote!(ttl), attrs.ttl),
        (quote!(max_stale), attrs.max_stale),
        (quote!(refresh_window), attrs.refresh_window),
    ];
    for (field, value) in durations {
        if let Some(duration) = value {
            let millis = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
            set.push(quote!(#field: #private::Duration::from_millis(#millis)));
        }
    }
    let versions = [
        (quote!(version_stage), &attrs.version_stage),
        (quote!(version_id), &attrs.version_id),
    ];
    for (field, value) in versions {
        if let Some(lit) = value {
            set.push(quote!(#field: #private::Some(#lit)));
        }
    }
    // `..DEFAULT` even when every field is set (hence the generated `allow`): a field the
    // runtime adds then takes its default.
    quote!(#private::SecretSpec { #(#set,)* ..#private::SecretSpec::DEFAULT })
}

/// The body of `origins`: each distinct origin of the fields, in order; a flattened struct
/// adds its own.
fn origins(input: &Input<'_>) -> TokenStream {
    let krate = krate(input, Span::call_site());
    let private = quote!(#krate::__private);
    let mut seen: Vec<Origin<'_>> = Vec::new();
    let mut out = TokenStream::new();
    // Generated names keep the call-site span inside tokens spanned by a field's type: a type
    // from a `macro_rules!` `$t:ty` carries that macro's hygiene, and would not see them.
    let origins_arg = local("__origins");
    for field in input.fields.iter().filter(|f| f.attrs.skip.is_none()) {
        if field.attrs.flatten.is_some() {
            let ty = field.ty;
            let allow = allow_deprecated(field.allows_deprecated);
            out.extend(allow);
            out.extend(
                quote_spanned!(ty.span()=> <#ty as #krate::FromSecret>::origins(#origins_arg);),
            );
            continue;
        }
        let origin = field.origin();
        if seen.iter().any(|s| s.same(&origin)) {
            continue;
        }
        seen.push(origin);
        let origin = origin_tokens(&private, origin);
        out.extend(quote!(__origins.add(#origin);));
    }
    out
}

/// The body of `field_specs`: each field read, as the deploy tools see it (its origin, key,
/// type and whether it may be absent); a flattened struct adds its own.
fn field_specs(input: &Input<'_>) -> TokenStream {
    let krate = krate(input, Span::call_site());
    let private = quote!(#krate::__private);
    let specs_arg = local("__specs");
    let mut out = TokenStream::new();
    for field in input.fields.iter().filter(|f| f.attrs.skip.is_none()) {
        let attrs = &field.attrs;
        if attrs.flatten.is_some() {
            let ty = field.ty;
            out.extend(allow_deprecated(field.allows_deprecated));
            out.extend(
                quote_spanned!(ty.span()=> <#ty as #krate::FromSecret>::field_specs(#specs_arg);),
            );
            continue;
        }
        let origin = origin_tokens(&private, field.origin());
        let key = if field.reads_whole_value() {
            quote!(#private::None)
        } else {
            let key = field.key(input.attrs.rename_all);
            quote!(#private::Some(#key))
        };
        let expected = type_name(field.value_ty());
        let optional = field.option_of.is_some();
        let default = attrs.default.is_some() || attrs.default_with.is_some();
        let json = attrs.json.is_some();
        let binary = attrs.binary.is_some();
        out.extend(quote! {
            __specs.add(#private::FieldSpec {
                origin: #origin,
                key: #key,
                expected: #expected,
                optional: #optional,
                default: #default,
                json: #json,
                binary: #binary,
            });
        });
    }
    out
}

/// The `Origin` tokens of a field's origin.
fn origin_tokens(private: &TokenStream, origin: Origin<'_>) -> TokenStream {
    match origin {
        Origin::Container => quote!(#private::Origin::Container),
        Origin::Secret(template) => quote!(#private::Origin::Secret(#template)),
        Origin::Parameter(template) => quote!(#private::Origin::Parameter(#template)),
    }
}

/// The expression that reads one field into an `Option<FieldType>` (`None` on error).
fn read_field(input: &Input<'_>, field: &Field<'_>) -> TokenStream {
    let ty = field.ty;
    let krate = krate(input, ty.span());
    let private = quote_spanned!(ty.span()=> #krate::__private);
    let attrs = &field.attrs;
    if attrs.skip.is_some() {
        return quote_spanned!(ty.span()=> #private::Some(<#ty as #private::Default>::default()));
    }
    if attrs.flatten.is_some() {
        let fields = local("__fields");
        return quote_spanned!(ty.span()=> <#ty as #krate::FromSecret>::read_fields(#fields));
    }
    let origin = origin_tokens(&quote!(#krate::__private), field.origin());
    if attrs.binary.is_some() {
        // `Vec<u8>` as is, or into a `SecretSlice<u8>` (no reallocation: the `Vec` is exact).
        return quote!(#private::Option::map(__fields.binary(#origin), ::core::convert::Into::into));
    }
    let expected = type_name(field.value_ty());
    // A `whole` field, or a parameter without `key`: the entire value, as text.
    let (shape, args) = if field.reads_whole_value() {
        let decode = decode_str_closure(input, field);
        (Shape::Whole, quote!(#origin, #expected, #decode))
    } else {
        let key = field.key(input.attrs.rename_all);
        let decode = decode_closure(input, field);
        (Shape::Keyed, quote!(#origin, #key, #expected, #decode))
    };
    let (missing, default_arg) = if field.option_of.is_some() {
        (Missing::Optional, None)
    } else {
        match (&attrs.default, &attrs.default_with) {
            (Some(default), _) => match &default.value {
                Default::Trait => (
                    Missing::OrElse,
                    Some(quote_spanned!(ty.span()=> <#ty as #private::Default>::default)),
                ),
                Default::Literal(literal) => (Missing::OrLiteral, Some(literal.to_token_stream())),
            },
            (None, Some(default_with)) => {
                (Missing::OrElse, Some(default_with.value.to_token_stream()))
            }
            (None, None) => (Missing::Required, None),
        }
    };
    let reader = reader(shape, missing);
    match default_arg {
        Some(default) => quote!(__fields.#reader(#args, #default)),
        None => quote!(__fields.#reader(#args)),
    }
}

/// What a field reads of its source.
#[derive(Clone, Copy)]
enum Shape {
    /// A key of the source's JSON object.
    Keyed,
    /// The source's entire value (`whole`, or a `parameter` without `key`).
    Whole,
}

/// What a field is when its value is missing.
#[derive(Clone, Copy)]
enum Missing {
    /// An error: the field is required.
    Required,
    /// `None`: the field is an `Option`.
    Optional,
    /// A function's value: `default` (`Default::default`) or `default_with = path`.
    OrElse,
    /// `default = "literal"`, decoded like a value.
    OrLiteral,
}

/// The `Fields` method that reads a field of `shape`, one per pair: the runtime's
/// `__private::Fields` has exactly these.
fn reader(shape: Shape, missing: Missing) -> TokenStream {
    match (shape, missing) {
        (Shape::Keyed, Missing::Required) => quote!(required),
        (Shape::Keyed, Missing::Optional) => quote!(optional),
        (Shape::Keyed, Missing::OrElse) => quote!(or_else),
        (Shape::Keyed, Missing::OrLiteral) => quote!(or_literal),
        (Shape::Whole, Missing::Required) => quote!(whole),
        (Shape::Whole, Missing::Optional) => quote!(whole_optional),
        (Shape::Whole, Missing::OrElse) => quote!(whole_or_else),
        (Shape::Whole, Missing::OrLiteral) => quote!(whole_or_literal),
    }
}

/// `|value| -> Result<T, ValueError>` for a keyed field: serde with `json`, the user's
/// function with `with`, otherwise `SecretValue` or `FromStr` chosen at compile time.
fn decode_closure(input: &Input<'_>, field: &Field<'_>) -> TokenStream {
    let ty = field.value_ty();
    let krate = krate(input, ty.span());
    let private = quote_spanned!(ty.span()=> #krate::__private);
    let value = local("__value");
    let body = if field.attrs.json.is_some() {
        quote_spanned!(ty.span()=> #private::decode_json::<#ty>(#value))
    } else if let Some(with) = &field.attrs.with {
        let path = &with.value;
        quote_spanned!(ty.span()=> #private::decode_with::<#ty, _>(#value, #path))
    } else {
        // Every token carries the type's span: a type that cannot be decoded is reported there.
        quote_spanned! {ty.span()=> {
            #[allow(unused_imports)]
            use #private::{ViaFallback as _, ViaFromStr as _, ViaSecretValue as _};
            (&&&#private::Decoder::<#ty>::new()).__decode_secret(#value)
        }}
    };
    quote!(|#value: &#private::Value| #body)
}

/// `|text| -> Result<T, ValueError>` for a `whole` field.
fn decode_str_closure(input: &Input<'_>, field: &Field<'_>) -> TokenStream {
    let ty = field.value_ty();
    let krate = krate(input, ty.span());
    let private = quote_spanned!(ty.span()=> #krate::__private);
    let text = local("__text");
    let body = if field.attrs.json.is_some() {
        quote_spanned!(ty.span()=> #private::decode_json_str::<#ty>(#text))
    } else if let Some(with) = &field.attrs.with {
        let path = &with.value;
        quote_spanned!(ty.span()=> #private::decode_with_str::<#ty, _>(#text, #path))
    } else {
        quote_spanned! {ty.span()=> {
            #[allow(unused_imports)]
            use #private::{ViaFallback as _, ViaFromStr as _, ViaSecretValue as _};
            (&&&#private::Decoder::<#ty>::new()).__decode_secret_str(#text)
        }}
    };
    quote!(|#text: &str| #body)
}

/// The struct's name as the generated impl uses it: resolved at the derive's call site, so that
/// a `#[deprecated]` struct does not make its own derive warn (as thiserror does).
fn call_site_ident(ident: &proc_macro2::Ident) -> proc_macro2::Ident {
    let mut ident = ident.clone();
    ident.set_span(ident.span().resolved_at(Span::call_site()));
    ident
}

/// `#[allow(deprecated)]` where the user allowed their own use of a deprecated item that the
/// generated code repeats (a field's type), else nothing.
fn allow_deprecated(allowed: bool) -> Option<TokenStream> {
    allowed.then(|| quote!(#[allow(deprecated)]))
}

/// A name the generated code binds and uses, with the call-site span wherever it is used.
fn local(name: &str) -> proc_macro2::Ident {
    proc_macro2::Ident::new(name, Span::call_site())
}

/// The type as the user wrote it, for error messages: `Vec<String>`, `u16`.
fn type_name(ty: &Type) -> String {
    let mut text = ty.to_token_stream().to_string();
    for (from, to) in [
        (" < ", "<"),
        ("< ", "<"),
        (" >", ">"),
        (" :: ", "::"),
        (":: ", "::"),
        (" ,", ","),
        ("& ", "&"),
    ] {
        text = text.replace(from, to);
    }
    text
}

/// After an error: an impl that compiles, so that uses of the struct do not add errors of
/// their own. Generic types get none (it could not name the type correctly).
fn placeholder_impl(input: &DeriveInput, krate: Option<&syn::Path>) -> TokenStream {
    if !input.generics.params.is_empty() {
        return TokenStream::new();
    }
    let ident = call_site_ident(&input.ident);
    let krate = krate.map_or_else(|| quote!(::secrets_runtime), ToTokens::to_token_stream);
    let private = quote!(#krate::__private);
    quote! {
        #[automatically_derived]
        impl #krate::FromSecret for #ident {
            const SPEC: #private::SecretSpec = #private::SecretSpec::DEFAULT;
            fn read_fields(_: &mut #private::Fields<'_>) -> #private::Option<Self> {
                ::core::unreachable!()
            }
            fn origins(_: &mut #private::Origins) {
                ::core::unreachable!()
            }
            fn field_specs(_: &mut #private::FieldSpecs) {
                ::core::unreachable!()
            }
            fn cache() -> &'static #private::Cache<Self> {
                ::core::unreachable!()
            }
        }
    }
}
