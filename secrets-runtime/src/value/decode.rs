//! The decoders generated code calls: `FromStr` parses, `with` functions and serde (`json`),
//! each over the text or JSON form of a value.

use std::fmt::Display;
use std::str::FromStr;

use serde_json::Value;

use super::ValueError;
use super::redact::{path_shape, reason_withheld, serde_message_without_values};

pub(crate) fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Runs `f` on the text form of a scalar: the string itself, or a number or boolean printed.
pub(crate) fn with_text<T>(
    value: &Value,
    f: impl FnOnce(&str) -> Result<T, ValueError>,
) -> Result<T, ValueError> {
    match value {
        Value::String(s) => f(s),
        Value::Number(n) => f(&n.to_string()),
        Value::Bool(b) => f(if *b { "true" } else { "false" }),
        other => Err(ValueError::wrong_shape(other)),
    }
}

/// Parses a std type of the shared list (`shared::std_types`) with [`FromStr`], keeping the
/// parse message: theirs are fixed texts that never repeat the input. Only the impls generated
/// from that list call it.
pub(crate) fn parse_std<T>(text: &str) -> Result<T, ValueError>
where
    T: FromStr,
    T::Err: Display,
{
    text.parse::<T>()
        .map_err(|err| ValueError::invalid(err.to_string()))
}

/// Parses any other type with [`FromStr`]: its parser's message is withheld, since it could
/// repeat part of the value.
pub(crate) fn parse_withheld<T: FromStr>(text: &str) -> Result<T, ValueError> {
    text.parse::<T>().map_err(|_| reason_withheld())
}

/// `#[secret(with = f)]`: `f(text)` on the text form of the value.
#[doc(hidden)]
pub fn decode_with<T, E: Display>(
    value: &Value,
    f: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, ValueError> {
    with_text(value, |text| decode_with_str(text, f))
}

/// `#[secret(whole, with = f)]`: `f(text)` on the whole secret.
#[doc(hidden)]
pub fn decode_with_str<T, E: Display>(
    text: &str,
    f: impl FnOnce(&str) -> Result<T, E>,
) -> Result<T, ValueError> {
    f(text).map_err(|_| reason_withheld())
}

/// `#[secret(whole, json)]`: the whole secret as JSON into a serde type.
#[doc(hidden)]
pub fn decode_json_str<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, ValueError> {
    let value = serde_json::from_str::<Value>(text)
        .map_err(|err| ValueError::invalid(serde_message_without_values(&err)))?;
    decode_json(&value)
}

/// `#[secret(json)]`: a JSON value, or a string holding a JSON object or array, into a serde
/// type.
///
/// serde's messages quote the values they reject, so only the path's shape and the
/// expectation are kept: `at `*.*` (key names withheld): invalid type, expected u32`. Key names
/// come from the secret (a map's keys may be secrets themselves), so they are withheld too.
#[doc(hidden)]
pub fn decode_json<T: serde::de::DeserializeOwned>(value: &Value) -> Result<T, ValueError> {
    if let Value::String(text) = value
        && text.trim_start().starts_with(['{', '['])
    {
        return decode_json_str(text);
    }
    serde_path_to_error::deserialize(value).map_err(|err| {
        let what = serde_message_without_values(err.inner());
        match path_shape(err.path()) {
            None => ValueError::invalid(what),
            Some(path) => ValueError::invalid(format!("at `{path}` (key names withheld): {what}")),
        }
    })
}
