//! Code generation. Every path is absolute and goes through `::secrets_runtime::__private`, so
//! the expansion works whatever the user has in scope.

use proc_macro2::TokenStream;
use quote::{ToTokens, format_ident, quote, quote_spanned};
use syn::spanned::Spanned as _;
use syn::{DeriveInput, Type};

use crate::ast::{Field, Input};
use crate::check;
use crate::ctxt::Ctxt;

/// The TTL when the struct names none: the extension's default.
const DEFAULT_TTL_MILLIS: u64 = 300_000;

/// The whole derive: the impl, or every error plus a placeholder impl.
pub(crate) fn derive(input: &DeriveInput) -> TokenStream {
    let cx = Ctxt::default();
    let parsed = Input::from_syn(&cx, input);
    if let Some(parsed) = &parsed {
        check::check(&cx, parsed);
    }
    match (cx.check(), parsed) {
        (Ok(()), Some(parsed)) => impl_from_secret(&parsed),
        (Err(errors), _) => {
            let mut out = errors.to_compile_error();
            out.extend(placeholder_impl(input));
            out
        }
        (Ok(()), None) => unreachable!("a struct that could not be read without an error"),
    }
}

fn impl_from_secret(input: &Input<'_>) -> TokenStream {
    let ident = input.ident;
    let private = quote!(::secrets_runtime::__private);
    let name = input
        .attrs
        .name
        .as_ref()
        .map(syn::LitStr::value)
        .unwrap_or_default();
    let ttl_millis = input.attrs.ttl.as_ref().map_or(DEFAULT_TTL_MILLIS, |ttl| {
        u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX)
    });
    let body = from_document_body(input);
    quote! {
        #[automatically_derived]
        impl ::secrets_runtime::FromSecret for #ident {
            const SPEC: #private::SecretSpec = #private::SecretSpec {
                name: #name,
                ttl: #private::Duration::from_millis(#ttl_millis),
                version_stage: #private::None,
                version_id: #private::None,
            };

            fn from_document(
                __document: &#private::Document,
            ) -> #private::Result<Self, ::secrets_runtime::Error> {
                #body
            }

            fn cache() -> &'static #private::Cache<Self> {
                static CACHE: #private::Cache<#ident> = #private::Cache::new();
                &CACHE
            }
        }
    }
}

fn from_document_body(input: &Input<'_>) -> TokenStream {
    let private = quote!(::secrets_runtime::__private);
    if input.fields.is_empty() {
        return quote! {
            __document.fields()?.finish()?;
            #private::Ok(Self {})
        };
    }
    let locals: Vec<_> = (0..input.fields.len())
        .map(|i| format_ident!("__field{}", i))
        .collect();
    let reads = input.fields.iter().zip(&locals).map(|(field, local)| {
        let read = read_field(field);
        quote!(let #local = #read;)
    });
    let idents = input.fields.iter().map(|f| f.ident);
    quote! {
        let mut __fields = __document.fields()?;
        #(#reads)*
        __fields.finish()?;
        match (#(#locals,)*) {
            (#(#private::Some(#locals),)*) => #private::Ok(Self { #(#idents: #locals,)* }),
            _ => #private::Err(#private::Fields::incomplete(__document.secret())),
        }
    }
}

/// The expression that reads one field into an `Option<FieldType>` (`None` on error).
fn read_field(field: &Field<'_>) -> TokenStream {
    let key = field.key();
    match (field.option_of, field.attrs.default) {
        (Some(inner), _) => {
            let decode = decode_closure(inner);
            let expected = type_name(inner);
            quote!(__fields.optional(#key, #expected, #decode))
        }
        (None, Some(_)) => {
            let decode = decode_closure(field.ty);
            let expected = type_name(field.ty);
            let ty = field.ty;
            let default =
                quote_spanned!(ty.span()=> <#ty as ::secrets_runtime::__private::Default>::default);
            quote!(__fields.or_else(#key, #expected, #decode, #default))
        }
        (None, None) => {
            let decode = decode_closure(field.ty);
            let expected = type_name(field.ty);
            quote!(__fields.required(#key, #expected, #decode))
        }
    }
}

/// `|value| decode as ty`, choosing `SecretValue` over `FromStr` at compile time. The call is
/// spanned on the type, so a type that implements neither is reported there.
fn decode_closure(ty: &Type) -> TokenStream {
    let private = quote!(::secrets_runtime::__private);
    // Written out rather than through `#private`, so every token carries the type's span.
    let call = quote_spanned! {ty.span()=>
        (&&&::secrets_runtime::__private::Decoder::<#ty>::new()).decode(__value)
    };
    quote! {
        |__value: &#private::Value| {
            #[allow(unused_imports)]
            use #private::{ViaFallback as _, ViaFromStr as _, ViaSecretValue as _};
            #call
        }
    }
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
fn placeholder_impl(input: &DeriveInput) -> TokenStream {
    if !input.generics.params.is_empty() {
        return TokenStream::new();
    }
    let ident = &input.ident;
    let private = quote!(::secrets_runtime::__private);
    quote! {
        #[automatically_derived]
        impl ::secrets_runtime::FromSecret for #ident {
            const SPEC: #private::SecretSpec = #private::SecretSpec {
                name: "",
                ttl: #private::Duration::from_secs(300),
                version_stage: #private::None,
                version_id: #private::None,
            };
            fn from_document(
                _: &#private::Document,
            ) -> #private::Result<Self, ::secrets_runtime::Error> {
                ::core::unreachable!()
            }
            fn cache() -> &'static #private::Cache<Self> {
                ::core::unreachable!()
            }
        }
    }
}
