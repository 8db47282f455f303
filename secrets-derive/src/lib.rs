//! `#[derive(FromSecret)]`: the proc-macro of `secrets-runtime`. Use it through
//! `secrets_runtime::FromSecret`; this crate's own paths are not public API.
//!
//! The pipeline follows serde_derive and thiserror: `ast` reads the struct and its
//! attributes (`attr`) while a `ctxt::Ctxt` collects every error, `check` validates the
//! combination, and `expand` generates the impl. When anything is wrong, all errors are
//! emitted together with a placeholder impl, so that users see the errors at fault and not a
//! cascade of "trait not implemented".

mod ast;
mod attr;
mod case;
mod check;
mod ctxt;
mod expand;
/// Code shared with the runtime: a symlink to `secrets-runtime/src/shared`.
mod shared;
mod template;
#[cfg(test)]
mod tests;

use proc_macro::TokenStream;
use syn::{DeriveInput, parse_macro_input};

/// Derives `secrets_runtime::FromSecret`. See the `secrets-runtime` README for attributes.
#[proc_macro_derive(FromSecret, attributes(secret))]
pub fn derive_from_secret(input: TokenStream) -> TokenStream {
    let input = parse_macro_input!(input as DeriveInput);
    expand::derive(&input).into()
}
