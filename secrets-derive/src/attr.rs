//! Parsing of `#[secret(...)]` attributes. Every problem is recorded in the [`Ctxt`] on the
//! span of the attribute at fault; parsing goes on so that all problems show at once.

use std::time::Duration;

use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::{Attribute, LitStr};

use crate::ctxt::Ctxt;

/// The container attributes that exist, for "did you mean" hints.
const CONTAINER_ATTRS: &[&str] = &["name", "ttl"];
/// The field attributes that exist.
const FIELD_ATTRS: &[&str] = &["key", "default"];

/// `#[secret(...)]` on the struct.
#[derive(Default)]
pub(crate) struct Container {
    pub(crate) name: Option<LitStr>,
    pub(crate) ttl: Option<Duration>,
}

/// `#[secret(...)]` on a field.
#[derive(Default)]
pub(crate) struct Field {
    pub(crate) key: Option<LitStr>,
    pub(crate) default: Option<Span>,
}

impl Container {
    pub(crate) fn from_attrs(cx: &Ctxt, attrs: &[Attribute]) -> Self {
        let mut out = Container::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("secret")) {
            let result = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("name") {
                    let lit: LitStr = meta.value()?.parse()?;
                    set_once(cx, &meta, &mut out.name, lit);
                } else if meta.path.is_ident("ttl") {
                    let lit: LitStr = meta.value()?.parse()?;
                    if let Some(ttl) = parse_ttl(cx, &lit) {
                        set_once(cx, &meta, &mut out.ttl, ttl);
                    }
                } else {
                    unknown(cx, &meta, "container", CONTAINER_ATTRS, FIELD_ATTRS)?;
                }
                Ok(())
            });
            if let Err(err) = result {
                cx.syn_error(err);
            }
        }
        out
    }
}

impl Field {
    pub(crate) fn from_attrs(cx: &Ctxt, attrs: &[Attribute]) -> Self {
        let mut out = Field::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("secret")) {
            let result = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("key") {
                    let lit: LitStr = meta.value()?.parse()?;
                    if lit.value().is_empty() {
                        cx.error_spanned_by(&lit, "`key` must not be empty");
                    }
                    set_once(cx, &meta, &mut out.key, lit);
                } else if meta.path.is_ident("default") {
                    set_once(
                        cx,
                        &meta,
                        &mut out.default,
                        meta.path
                            .get_ident()
                            .map_or_else(Span::call_site, syn::Ident::span),
                    );
                } else {
                    unknown(cx, &meta, "field", FIELD_ATTRS, CONTAINER_ATTRS)?;
                }
                Ok(())
            });
            if let Err(err) = result {
                cx.syn_error(err);
            }
        }
        out
    }
}

/// Stores `value`, or reports a duplicate on the second occurrence.
fn set_once<T>(cx: &Ctxt, meta: &ParseNestedMeta<'_>, slot: &mut Option<T>, value: T) {
    if slot.is_some() {
        cx.error_spanned_by(
            &meta.path,
            format!("duplicate `{}` attribute", path_name(meta)),
        );
    } else {
        *slot = Some(value);
    }
}

/// Reports an unknown attribute with the closest valid one, then skips its value.
fn unknown(
    cx: &Ctxt,
    meta: &ParseNestedMeta<'_>,
    place: &str,
    valid: &[&str],
    other_place: &[&str],
) -> syn::Result<()> {
    let name = path_name(meta);
    let hint = if other_place.contains(&name.as_str()) {
        let there = if place == "field" {
            "on the struct"
        } else {
            "on a field"
        };
        format!("; `{name}` goes {there}")
    } else if let Some(close) = closest(&name, valid) {
        format!("; did you mean `{close}`?")
    } else {
        format!(
            "; expected one of {}",
            valid
                .iter()
                .map(|v| format!("`{v}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    cx.error_spanned_by(
        &meta.path,
        format!("unknown {place} attribute `{name}`{hint}"),
    );
    // Skip `= value` or `(...)` so the rest of the list still parses.
    if meta.input.peek(syn::Token![=]) {
        let _: syn::Expr = meta.value()?.parse()?;
    } else if meta.input.peek(syn::token::Paren) {
        let _ = meta.parse_nested_meta(|inner| {
            if inner.input.peek(syn::Token![=]) {
                let _: syn::Expr = inner.value()?.parse()?;
            }
            Ok(())
        });
    }
    Ok(())
}

fn path_name(meta: &ParseNestedMeta<'_>) -> String {
    meta.path
        .segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}

/// The valid name within edit distance 2 of `name`, if any.
fn closest<'a>(name: &str, valid: &[&'a str]) -> Option<&'a str> {
    valid
        .iter()
        .map(|v| (edit_distance(name, v), *v))
        .filter(|(d, _)| *d <= 2)
        .min()
        .map(|(_, v)| v)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let current = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(current + 1);
            prev = current;
        }
    }
    row[b.len()]
}

/// `ttl = "5m"`: a humantime duration, at least one second.
fn parse_ttl(cx: &Ctxt, lit: &LitStr) -> Option<Duration> {
    match humantime::parse_duration(&lit.value()) {
        Ok(ttl) if ttl < Duration::from_secs(1) => {
            cx.error_spanned_by(lit, "`ttl` must be at least 1s: a shorter TTL would fetch the secret on nearly every read");
            None
        }
        Ok(ttl) => Some(ttl),
        Err(err) => {
            cx.error_spanned_by(lit, format!("invalid `ttl`: {err}; expected a duration such as \"30s\", \"5m\" or \"1h 30m\""));
            None
        }
    }
}
