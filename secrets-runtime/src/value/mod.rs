//! Decoding one JSON value (or one string) into a field's type: the [`SecretValue`] trait and
//! its std impls (`impls`), the decoders generated code calls (`decode`), and the rule that
//! keeps values out of parser messages (`redact`).
//!
//! A field accepts the JSON string form (`"5432"`) and the native form (`5432`, `true`) alike.
//! Types with a [`SecretValue`] impl decode through it; any other type decodes through
//! [`FromStr`]. Generated code picks between the two at compile time (autoref specialisation),
//! so that both std types and users' own `FromStr` types work with no attribute.
//!
//! Which parse messages are shown is decided there too: the std types of the shared list
//! (`shared::std_types`) have `SecretValue` impls that keep their fixed messages; every other
//! `FromStr` type decodes through [`ViaFromStr`], which withholds them.

use std::fmt::Display;
use std::marker::PhantomData;
use std::str::FromStr;

use serde_json::Value;

pub use self::decode::{decode_json, decode_json_str, decode_with, decode_with_str};
pub(crate) use self::decode::{json_kind, parse_std, parse_withheld, with_text};
use crate::error::FieldProblem;

mod decode;
mod impls;
mod redact;

/// A type that decodes itself from a secret's JSON value, where [`FromStr`] is not enough
/// or not implemented.
///
/// Implement it for your own types when a string parse does not fit; types that implement
/// `FromStr` (with an error that implements `Display`) need nothing.
///
/// ```
/// use secrets_runtime::{SecretValue, ValueError};
///
/// struct Percent(u8);
///
/// impl SecretValue for Percent {
///     fn from_secret_value(value: &serde_json::Value) -> Result<Self, ValueError> {
///         let n = match value {
///             serde_json::Value::String(s) => s.parse().ok(),
///             other => other.as_u64(),
///         };
///         n.and_then(|n| u8::try_from(n).ok())
///             .filter(|n| *n <= 100)
///             .map(Percent)
///             .ok_or_else(|| ValueError::invalid("expected a number from 0 to 100"))
///     }
/// }
/// assert!(Percent::from_secret_value(&serde_json::json!(50)).is_ok());
/// assert!(Percent::from_secret_value(&serde_json::json!("101")).is_err());
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be read from a secret value",
    label = "this field type implements neither `FromStr` nor `SecretValue`",
    note = "implement `std::str::FromStr` (with an error that implements `Display`) or `secrets_runtime::SecretValue` for `{Self}`, or use `#[secret(json)]` for a serde type or `#[secret(with = path::to_fn)]`"
)]
pub trait SecretValue: Sized {
    /// Decodes one JSON value (never `null`: that is reported before this is called).
    ///
    /// # Errors
    /// A [`ValueError`] that says what was wrong without repeating the value.
    fn from_secret_value(value: &Value) -> Result<Self, ValueError>;

    /// Decodes a whole plain-text secret (`#[secret(whole)]`). The default wraps the text in a
    /// JSON string and calls [`from_secret_value`](SecretValue::from_secret_value).
    ///
    /// # Errors
    /// A [`ValueError`] that says what was wrong without repeating the value.
    fn from_secret_str(text: &str) -> Result<Self, ValueError> {
        Self::from_secret_value(&Value::String(text.to_owned()))
    }
}

/// Why a JSON value could not become a field's type. Never holds the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError(pub(crate) FieldProblem);

impl ValueError {
    /// The value parsed but is not acceptable; `reason` must not repeat the value.
    pub fn invalid(reason: impl Into<String>) -> Self {
        Self(FieldProblem::Invalid {
            reason: reason.into(),
        })
    }

    /// This error, for element `index` of a list.
    pub(crate) fn in_element(self, index: usize) -> Self {
        match self.0 {
            FieldProblem::Invalid { reason } => Self::invalid(format!("element {index}: {reason}")),
            FieldProblem::WrongShape { found } => {
                Self::invalid(format!("element {index} is {found}"))
            }
            other => Self(other),
        }
    }

    /// The JSON value is of a kind the type cannot take.
    #[must_use]
    pub fn wrong_shape(value: &Value) -> Self {
        Self(FieldProblem::WrongShape {
            found: json_kind(value),
        })
    }
}

/// The autoref-specialisation probe used by generated code:
/// `(&&&Decoder::<T>::new()).__decode_secret(value)`.
#[doc(hidden)]
pub struct Decoder<T>(PhantomData<fn() -> T>);

impl<T> Decoder<T> {
    /// The probe; only generated code makes one (so no `Default`).
    #[doc(hidden)]
    #[must_use]
    #[allow(clippy::new_without_default)]
    pub const fn new() -> Self {
        Self(PhantomData)
    }
}

/// First choice: the type's own [`SecretValue`] impl.
#[doc(hidden)]
pub trait ViaSecretValue {
    type Output;
    fn __decode_secret(&self, value: &Value) -> Result<Self::Output, ValueError>;
    fn __decode_secret_str(&self, text: &str) -> Result<Self::Output, ValueError>;
}

impl<T: SecretValue> ViaSecretValue for &&Decoder<T> {
    type Output = T;
    fn __decode_secret(&self, value: &Value) -> Result<T, ValueError> {
        T::from_secret_value(value)
    }
    fn __decode_secret_str(&self, text: &str) -> Result<T, ValueError> {
        T::from_secret_str(text)
    }
}

/// Second choice: [`FromStr`] on the text form, with the parser's message withheld. The std
/// types whose messages are shown never get here: their [`SecretValue`] impls come first.
#[doc(hidden)]
pub trait ViaFromStr {
    type Output;
    fn __decode_secret(&self, value: &Value) -> Result<Self::Output, ValueError>;
    fn __decode_secret_str(&self, text: &str) -> Result<Self::Output, ValueError>;
}

impl<T> ViaFromStr for &Decoder<T>
where
    T: FromStr,
    T::Err: Display,
{
    type Output = T;
    fn __decode_secret(&self, value: &Value) -> Result<T, ValueError> {
        with_text(value, parse_withheld::<T>)
    }
    fn __decode_secret_str(&self, text: &str) -> Result<T, ValueError> {
        parse_withheld(text)
    }
}

/// Last resort, chosen only when neither applies: it demands [`SecretValue`], so the compiler
/// reports that bound (with this crate's message) on the field's type.
#[doc(hidden)]
pub trait ViaFallback {
    type Output;
    fn __decode_secret(&self, value: &Value) -> Result<Self::Output, ValueError>
    where
        Self::Output: SecretValue;
    fn __decode_secret_str(&self, text: &str) -> Result<Self::Output, ValueError>
    where
        Self::Output: SecretValue;
}

impl<T> ViaFallback for Decoder<T> {
    type Output = T;
    fn __decode_secret(&self, value: &Value) -> Result<T, ValueError>
    where
        T: SecretValue,
    {
        T::from_secret_value(value)
    }
    fn __decode_secret_str(&self, text: &str) -> Result<T, ValueError>
    where
        T: SecretValue,
    {
        T::from_secret_str(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::{ExposeSecret, SecretString};
    use serde_json::json;

    fn via_from_str<T: FromStr>(v: Value) -> Result<T, ValueError>
    where
        T::Err: Display,
    {
        <&Decoder<T> as ViaFromStr>::__decode_secret(&&Decoder::<T>::new(), &v)
    }

    #[test]
    fn string_and_native_forms() {
        assert_eq!(via_from_str::<u16>(json!("5432")), Ok(5432));
        assert_eq!(via_from_str::<u16>(json!(5432)), Ok(5432));
        assert_eq!(via_from_str::<bool>(json!(true)), Ok(true));
        assert_eq!(via_from_str::<bool>(json!("false")), Ok(false));
        assert_eq!(via_from_str::<f64>(json!(1.5)), Ok(1.5));
        assert_eq!(via_from_str::<String>(json!("x")), Ok("x".to_owned()));
    }

    #[test]
    fn wrong_shapes_and_parse_errors_hold_no_value() {
        assert_eq!(
            via_from_str::<u16>(json!({"a": 1})),
            Err(ValueError(FieldProblem::WrongShape { found: "an object" }))
        );
        let err = (&&&Decoder::<u16>::new())
            .__decode_secret(&json!("70000"))
            .unwrap_err();
        assert_eq!(
            err,
            ValueError::invalid("number too large to fit in target type")
        );
    }

    #[test]
    fn messages_of_parsers_other_than_std_are_withheld() {
        /// Echoes one character of the value and its position: no text filter catches that.
        #[derive(Debug)]
        struct OneChar;
        impl FromStr for OneChar {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                let last = s.chars().last().unwrap_or('?');
                Err(format!("found `{last}` at {}", s.len() - 1))
            }
        }
        let withheld = ValueError::invalid(
            "the parser's message is withheld because it could repeat part of the value",
        );
        for parsed in [
            via_from_str::<OneChar>(json!("CANARY-secretZ")),
            via_from_str::<OneChar>(json!("sk_live_Q")),
        ] {
            assert_eq!(parsed.unwrap_err(), withheld);
        }
        let err = decode_with(&json!("CANARY-with"), |s: &str| {
            Err::<u8, _>(format!("no {}", &s[s.len() - 1..]))
        })
        .unwrap_err();
        assert_eq!(err, withheld);
        // std types keep their fixed messages (through their `SecretValue` impls).
        assert_eq!(
            (&&&Decoder::<u8>::new())
                .__decode_secret(&json!("x9"))
                .unwrap_err(),
            ValueError::invalid("invalid digit found in string")
        );
    }

    #[test]
    fn the_std_list_decides_which_parse_messages_are_shown() {
        let withheld = redact::reason_withheld();
        // Every std type of the shared list decodes through its `SecretValue` impl, which
        // shows the parse message (a fixed text).
        macro_rules! shown {
            (primitives: [$($p:ty),* $(,)?], others: [$($o:ty),* $(,)?] $(,)?) => {$(
                let decoded = (&&&Decoder::<$p>::new()).__decode_secret(&json!("~~"));
                assert_ne!(decoded.unwrap_err(), withheld, "{}", stringify!($p));
            )* $(
                // `String` and `PathBuf` take any text.
                if let Err(err) = (&&&Decoder::<$o>::new()).__decode_secret(&json!("~~")) {
                    assert_ne!(err, withheld, "{}", stringify!($o));
                }
            )*};
        }
        crate::shared::std_types::std_from_str_types!(shown);
        assert_eq!(
            (&&&Decoder::<u8>::new())
                .__decode_secret(&json!("x9"))
                .unwrap_err(),
            ValueError::invalid("invalid digit found in string")
        );
        assert_eq!(
            (&&&Decoder::<std::net::IpAddr>::new())
                .__decode_secret_str("x")
                .unwrap_err(),
            ValueError::invalid("invalid IP address syntax")
        );
        // A std type outside the list decodes through `FromStr`, which withholds its message
        // (whatever the type): the list, not a run-time lookup, is what shows a message.
        // (The probe as generated code writes it, whichever impl it lands on.)
        #[allow(clippy::needless_borrow)]
        let decoded = (&&&Decoder::<std::num::NonZeroU8>::new()).__decode_secret(&json!("0"));
        assert_eq!(decoded.unwrap_err(), withheld);
        assert_eq!(via_from_str::<u8>(json!("x9")).unwrap_err(), withheld);
    }

    #[test]
    fn secret_string_decodes_through_its_own_impl() {
        let s = (&&&Decoder::<SecretString>::new())
            .__decode_secret(&json!("pw"))
            .unwrap();
        assert_eq!(s.expose_secret(), "pw");
        let s = (&&&Decoder::<SecretString>::new())
            .__decode_secret_str("whole")
            .unwrap();
        assert_eq!(s.expose_secret(), "whole");
    }

    #[test]
    fn json_errors_keep_the_path_shape_and_drop_values_and_key_names() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Pool {
            size: u32,
            mode: Mode,
        }
        #[derive(Debug, serde::Deserialize)]
        enum Mode {
            Fast,
        }
        let cases = [
            (
                json!({"size": "CANARY-size", "mode": "Fast"}),
                "at `*` (key names withheld): invalid type, expected u32",
            ),
            (
                json!({"size": 1, "mode": "CANARY-mode"}),
                "at `*` (key names withheld): unknown variant, expected `Fast`",
            ),
            (json!({"size": 1}), "missing field `mode`"),
            (
                json!("{\"size\": 1, \"mode\": \"CANARY-x\" "),
                "not valid JSON (line 1, column 31)",
            ),
        ];
        for (value, expected) in cases {
            let err = decode_json::<Pool>(&value).unwrap_err();
            assert_eq!(err, ValueError::invalid(expected), "{value}");
        }
        let pool: Pool = decode_json(&json!("{\"size\": 3, \"mode\": \"Fast\"}")).unwrap();
        assert_eq!(pool.size, 3);
    }

    #[test]
    fn json_errors_never_name_a_key_of_the_secret() {
        // A map's keys are the secret's data: an API key used as a key, say.
        let err = decode_json::<std::collections::HashMap<String, Vec<u32>>>(
            &json!({"tenants": [1], "sk_live_CANARY": [1, "x"]}),
        )
        .unwrap_err();
        assert_eq!(
            err,
            ValueError::invalid("at `*[1]` (key names withheld): invalid type, expected u32")
        );
        // An unknown field is named by the secret too.
        #[derive(Debug, serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Strict {
            size: u32,
        }
        let err = decode_json::<Strict>(&json!({"size": 1, "sk_live_CANARY": 2})).unwrap_err();
        assert_eq!(
            err,
            ValueError::invalid("at `*` (key names withheld): unknown field, expected `size`")
        );
    }
}
