//! Parsing of `#[secret(...)]` attributes. Every problem is recorded in the [`Ctxt`] on the
//! span of the attribute at fault; parsing goes on so that all problems show at once.

use std::time::Duration;

use proc_macro2::Span;
use syn::meta::ParseNestedMeta;
use syn::{Attribute, LitStr, Path};

use crate::case::RenameRule;
use crate::ctxt::Ctxt;
use crate::shared::template::is_var_name;

/// The container attributes that exist, for "did you mean" hints.
const CONTAINER_ATTRS: &[&str] = &[
    "name",
    "name_env",
    "ttl",
    "max_stale",
    "refresh_window",
    "version_stage",
    "version_id",
    "rename_all",
    "crate",
];
/// The field attributes that exist.
const FIELD_ATTRS: &[&str] = &[
    "from",
    "parameter",
    "key",
    "default",
    "default_with",
    "json",
    "with",
    "whole",
    "binary",
    "flatten",
    "skip",
];

/// An attribute value with the span of the attribute's name, for errors about combinations.
pub(crate) struct Spanned<T> {
    pub(crate) value: T,
    pub(crate) span: Span,
}

/// `#[secret(...)]` on the struct.
#[derive(Default)]
pub(crate) struct Container {
    pub(crate) name: Option<LitStr>,
    /// A `name` was written, even if its value did not parse (no "missing name" then).
    pub(crate) name_written: bool,
    pub(crate) name_env: Option<LitStr>,
    pub(crate) ttl: Option<Duration>,
    pub(crate) max_stale: Option<Duration>,
    pub(crate) refresh_window: Option<Duration>,
    pub(crate) version_stage: Option<LitStr>,
    pub(crate) version_id: Option<LitStr>,
    pub(crate) rename_all: Option<RenameRule>,
    pub(crate) krate: Option<Path>,
}

/// `#[secret(default)]` or `#[secret(default = "literal")]`.
pub(crate) enum Default {
    Trait,
    Literal(LitStr),
}

/// `#[secret(...)]` on a field.
#[derive(std::default::Default)]
pub(crate) struct Field {
    /// `from = "template"`: another secret.
    pub(crate) from: Option<LitStr>,
    /// `parameter = "template"`: a Parameter Store parameter.
    pub(crate) parameter: Option<LitStr>,
    pub(crate) key: Option<LitStr>,
    pub(crate) default: Option<Spanned<Default>>,
    pub(crate) default_with: Option<Spanned<Path>>,
    pub(crate) json: Option<Span>,
    pub(crate) with: Option<Spanned<Path>>,
    pub(crate) whole: Option<Span>,
    pub(crate) binary: Option<Span>,
    pub(crate) flatten: Option<Span>,
    pub(crate) skip: Option<Span>,
}

impl Field {
    /// Whether any attribute says how to read the field's value (all but `skip` and
    /// `flatten`, which replace reading).
    pub(crate) fn has_reading_attribute(&self) -> bool {
        self.from.is_some()
            || self.parameter.is_some()
            || self.key.is_some()
            || self.default.is_some()
            || self.default_with.is_some()
            || self.json.is_some()
            || self.with.is_some()
            || self.whole.is_some()
            || self.binary.is_some()
    }
}

impl Container {
    pub(crate) fn from_attrs(cx: &Ctxt, attrs: &[Attribute]) -> Self {
        let mut out = Container::default();
        for attr in attrs.iter().filter(|a| a.path().is_ident("secret")) {
            let result = attr.parse_nested_meta(|meta| {
                if meta.path.is_ident("name") {
                    out.name_written = true;
                    let lit: LitStr = meta.value()?.parse()?;
                    set_once(cx, &meta, &mut out.name, lit);
                } else if meta.path.is_ident("name_env") {
                    let lit: LitStr = meta.value()?.parse()?;
                    if !is_var_name(&lit.value()) {
                        cx.error_spanned_by(&lit, "`name_env` must be an environment variable name such as \"SECRET_ARN\"");
                    }
                    set_once(cx, &meta, &mut out.name_env, lit);
                } else if meta.path.is_ident("ttl") {
                    let lit: LitStr = meta.value()?.parse()?;
                    if let Some(ttl) = parse_ttl(cx, &lit) {
                        set_once(cx, &meta, &mut out.ttl, ttl);
                    }
                } else if meta.path.is_ident("max_stale") {
                    if let Some(max_stale) = parse_duration(cx, &meta.value()?.parse()?, "max_stale") {
                        set_once(cx, &meta, &mut out.max_stale, max_stale);
                    }
                } else if meta.path.is_ident("refresh_window") {
                    if let Some(window) = parse_duration(cx, &meta.value()?.parse()?, "refresh_window") {
                        set_once(cx, &meta, &mut out.refresh_window, window);
                    }
                } else if meta.path.is_ident("version_stage") {
                    let lit = non_empty(cx, meta.value()?.parse()?, "version_stage");
                    set_once(cx, &meta, &mut out.version_stage, lit);
                } else if meta.path.is_ident("version_id") {
                    let lit = non_empty(cx, meta.value()?.parse()?, "version_id");
                    set_once(cx, &meta, &mut out.version_id, lit);
                } else if meta.path.is_ident("rename_all") {
                    let lit: LitStr = meta.value()?.parse()?;
                    match RenameRule::from_str(&lit.value()) {
                        Some(rule) => set_once(cx, &meta, &mut out.rename_all, rule),
                        None => cx.error_spanned_by(
                            &lit,
                            format!(
                                "unknown `rename_all` rule; expected one of {}",
                                RenameRule::NAMES.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ")
                            ),
                        ),
                    }
                } else if meta.path.is_ident("crate") {
                    let lit: LitStr = meta.value()?.parse()?;
                    match lit.parse::<Path>() {
                        Ok(path) => set_once(cx, &meta, &mut out.krate, path),
                        Err(_) => cx.error_spanned_by(&lit, "`crate` must be a path such as \"::my_crate::secrets\""),
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
                let span = meta
                    .path
                    .get_ident()
                    .map_or_else(Span::call_site, syn::Ident::span);
                if meta.path.is_ident("key") {
                    let lit = non_empty(cx, meta.value()?.parse()?, "key");
                    set_once(cx, &meta, &mut out.key, lit);
                } else if meta.path.is_ident("from") {
                    let lit = non_empty(cx, meta.value()?.parse()?, "from");
                    set_once(cx, &meta, &mut out.from, lit);
                } else if meta.path.is_ident("parameter") {
                    let lit = non_empty(cx, meta.value()?.parse()?, "parameter");
                    set_once(cx, &meta, &mut out.parameter, lit);
                } else if meta.path.is_ident("default") {
                    let value = if meta.input.peek(syn::Token![=]) {
                        Default::Literal(meta.value()?.parse()?)
                    } else {
                        Default::Trait
                    };
                    set_once(cx, &meta, &mut out.default, Spanned { value, span });
                } else if meta.path.is_ident("default_with") {
                    let path = parse_path(&meta, "default_with")?;
                    set_once(
                        cx,
                        &meta,
                        &mut out.default_with,
                        Spanned { value: path, span },
                    );
                } else if meta.path.is_ident("with") {
                    let path = parse_path(&meta, "with")?;
                    set_once(cx, &meta, &mut out.with, Spanned { value: path, span });
                } else if meta.path.is_ident("json") {
                    set_once(cx, &meta, &mut out.json, span);
                } else if meta.path.is_ident("whole") {
                    set_once(cx, &meta, &mut out.whole, span);
                } else if meta.path.is_ident("binary") {
                    set_once(cx, &meta, &mut out.binary, span);
                } else if meta.path.is_ident("flatten") {
                    set_once(cx, &meta, &mut out.flatten, span);
                } else if meta.path.is_ident("skip") {
                    set_once(cx, &meta, &mut out.skip, span);
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

/// `= path::to_fn` or `= "path::to_fn"`.
fn parse_path(meta: &ParseNestedMeta<'_>, what: &str) -> syn::Result<Path> {
    let input = meta.value()?;
    let not_a_path = |span| {
        syn::Error::new(
            span,
            format!(
                "`{what}` takes a path to a function, such as `{what} = parse_rate` or `{what} = my::parse`"
            ),
        )
    };
    if input.peek(LitStr) {
        let lit = input.parse::<LitStr>()?;
        lit.parse().map_err(|_| not_a_path(lit.span()))
    } else {
        input.parse().map_err(|err| not_a_path(err.span()))
    }
}

fn non_empty(cx: &Ctxt, lit: LitStr, what: &str) -> LitStr {
    if lit.value().is_empty() {
        cx.error_spanned_by(&lit, format!("`{what}` must not be empty"));
    }
    lit
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

/// A humantime duration such as `"15m"` or `"0s"`.
fn parse_duration(cx: &Ctxt, lit: &LitStr, what: &str) -> Option<Duration> {
    match humantime::parse_duration(&lit.value()) {
        Ok(duration) => Some(duration),
        Err(err) => {
            cx.error_spanned_by(
                lit,
                format!("invalid `{what}`: {err}; expected a duration such as \"15m\" or \"0s\""),
            );
            None
        }
    }
}

/// `ttl = "5m"`: a humantime duration, at least one second.
fn parse_ttl(cx: &Ctxt, lit: &LitStr) -> Option<Duration> {
    match humantime::parse_duration(&lit.value()) {
        Ok(ttl) if ttl < Duration::from_secs(1) => {
            cx.error_spanned_by(
                lit,
                "`ttl` must be at least 1s: a shorter TTL would fetch the secret on nearly every read",
            );
            None
        }
        Ok(ttl) => Some(ttl),
        Err(err) => {
            cx.error_spanned_by(
                lit,
                format!("invalid `ttl`: {err}; expected a duration such as \"30s\", \"5m\" or \"1h 30m\""),
            );
            None
        }
    }
}
