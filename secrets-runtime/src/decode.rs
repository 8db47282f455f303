//! Decoding JSON values into typed fields.
//!
//! A field accepts the JSON string form (`"5432"`) and the native form (`5432`, `true`) alike.
//! Types with a [`SecretValue`] impl decode through it; any other type decodes through
//! [`FromStr`]. Generated code picks between the two at compile time (autoref specialisation),
//! so that both std types and users' own `FromStr` types work with no attribute.

use std::fmt::Display;
use std::marker::PhantomData;
use std::str::FromStr;

use secrecy::SecretString;
use serde_json::{Map, Value};

use crate::document::{Body, Document};
use crate::error::{Error, FieldError, FieldProblem};

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
///         let n = value.as_u64().ok_or_else(|| ValueError::invalid("expected a number"))?;
///         u8::try_from(n).ok().filter(|n| *n <= 100).map(Percent)
///             .ok_or_else(|| ValueError::invalid("expected 0 to 100"))
///     }
/// }
/// # assert!(Percent::from_secret_value(&serde_json::json!(50)).is_ok());
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be read from a secret value",
    label = "this field type implements neither `FromStr` nor `SecretValue`",
    note = "implement `std::str::FromStr` (with an error that implements `Display`) or `secrets_runtime::SecretValue` for `{Self}`"
)]
pub trait SecretValue: Sized {
    /// Decodes one JSON value (never `null`: that is reported before this is called).
    ///
    /// # Errors
    /// A [`ValueError`] that says what was wrong without repeating the value.
    fn from_secret_value(value: &Value) -> Result<Self, ValueError>;
}

/// Why a JSON value could not become a field's type. Never holds the value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueError(FieldProblem);

impl ValueError {
    /// The value parsed but is not acceptable; `reason` must not repeat the value.
    pub fn invalid(reason: impl Into<String>) -> Self {
        Self(FieldProblem::Invalid {
            reason: reason.into(),
        })
    }

    /// The JSON value is of a kind the type cannot take.
    #[must_use]
    pub fn wrong_shape(value: &Value) -> Self {
        Self(FieldProblem::WrongShape {
            found: json_kind(value),
        })
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl SecretValue for SecretString {
    fn from_secret_value(value: &Value) -> Result<Self, ValueError> {
        with_text(value, |text| Ok(SecretString::from(text.to_owned())))
    }
}

/// Runs `f` on the text form of a scalar: the string itself, or a number or boolean printed.
fn with_text<T>(
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

/// Parses with [`FromStr`], keeping the parser's message unless it repeats the input.
fn parse_from_str<T>(text: &str) -> Result<T, ValueError>
where
    T: FromStr,
    T::Err: Display,
{
    text.parse::<T>().map_err(|err| {
        let reason = err.to_string();
        if !text.is_empty() && reason.contains(text) {
            ValueError::invalid("the parser's message is withheld because it repeats the value")
        } else {
            ValueError::invalid(reason)
        }
    })
}

/// The autoref-specialisation probe used by generated code:
/// `(&&&Decoder::<T>::new()).decode(value)`.
#[doc(hidden)]
pub struct Decoder<T>(PhantomData<fn() -> T>);

impl<T> Decoder<T> {
    #[doc(hidden)]
    #[must_use]
    pub const fn new() -> Self {
        Self(PhantomData)
    }
}

impl<T> Default for Decoder<T> {
    fn default() -> Self {
        Self::new()
    }
}

/// First choice: the type's own [`SecretValue`] impl.
#[doc(hidden)]
pub trait ViaSecretValue {
    type Output;
    fn decode(&self, value: &Value) -> Result<Self::Output, ValueError>;
}

impl<T: SecretValue> ViaSecretValue for &&Decoder<T> {
    type Output = T;
    fn decode(&self, value: &Value) -> Result<T, ValueError> {
        T::from_secret_value(value)
    }
}

/// Second choice: [`FromStr`] on the text form.
#[doc(hidden)]
pub trait ViaFromStr {
    type Output;
    fn decode(&self, value: &Value) -> Result<Self::Output, ValueError>;
}

impl<T> ViaFromStr for &Decoder<T>
where
    T: FromStr,
    T::Err: Display,
{
    type Output = T;
    fn decode(&self, value: &Value) -> Result<T, ValueError> {
        with_text(value, parse_from_str::<T>)
    }
}

/// Last resort, chosen only when neither applies: it demands [`SecretValue`], so the compiler
/// reports that bound (with this crate's message) on the field's type.
#[doc(hidden)]
pub trait ViaFallback {
    type Output;
    fn decode(&self, value: &Value) -> Result<Self::Output, ValueError>
    where
        Self::Output: SecretValue;
}

impl<T> ViaFallback for Decoder<T> {
    type Output = T;
    fn decode(&self, value: &Value) -> Result<T, ValueError>
    where
        T: SecretValue,
    {
        T::from_secret_value(value)
    }
}

impl Document {
    /// The secret's JSON object, for reading fields by key.
    ///
    /// # Errors
    /// [`Error::WrongShape`] when the secret is plain text, binary or a JSON array.
    #[doc(hidden)]
    pub fn fields(&self) -> Result<Fields<'_>, Error> {
        let found = match &self.body {
            Body::Object(object) => {
                return Ok(Fields {
                    secret: &self.secret,
                    object,
                    errors: Vec::new(),
                });
            }
            Body::OtherJson(kind) => kind,
            Body::Text => "plain text",
            Body::Binary => "binary data",
        };
        Err(Error::WrongShape {
            secret: self.secret.clone(),
            expected: "a JSON object of keys",
            found,
        })
    }
}

/// Reads a struct's fields from a secret's JSON object, collecting every error.
#[doc(hidden)]
pub struct Fields<'a> {
    secret: &'a str,
    object: &'a Map<String, Value>,
    errors: Vec<FieldError>,
}

impl Fields<'_> {
    /// A field that must be present and not null.
    pub fn required<T>(
        &mut self,
        key: &str,
        expected: &'static str,
        decode: impl FnOnce(&Value) -> Result<T, ValueError>,
    ) -> Option<T> {
        match self.object.get(key) {
            None => self.fail(key, expected, FieldProblem::Missing),
            Some(Value::Null) => self.fail(key, expected, FieldProblem::Null),
            Some(value) => self.record(key, expected, decode(value)),
        }
    }

    /// An `Option<T>` field: missing or null is `None`.
    pub fn optional<T>(
        &mut self,
        key: &str,
        expected: &'static str,
        decode: impl FnOnce(&Value) -> Result<T, ValueError>,
    ) -> Option<Option<T>> {
        match self.object.get(key) {
            None | Some(Value::Null) => Some(None),
            Some(value) => self.record(key, expected, decode(value)).map(Some),
        }
    }

    /// A field with a default: missing (not null, not invalid) takes `default()`.
    pub fn or_else<T>(
        &mut self,
        key: &str,
        expected: &'static str,
        decode: impl FnOnce(&Value) -> Result<T, ValueError>,
        default: impl FnOnce() -> T,
    ) -> Option<T> {
        match self.object.get(key) {
            None => Some(default()),
            Some(Value::Null) => self.fail(key, expected, FieldProblem::Null),
            Some(value) => self.record(key, expected, decode(value)),
        }
    }

    /// Ends reading: every error found so far, or none.
    ///
    /// # Errors
    /// [`Error::InvalidFields`] listing each field at fault.
    pub fn finish(self) -> Result<(), Error> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidFields {
                secret: self.secret.to_owned(),
                fields: self.errors,
            })
        }
    }

    /// The error to return if a field is absent after a successful [`finish`](Self::finish),
    /// which cannot happen; generated code needs a value for that match arm.
    #[must_use]
    pub fn incomplete(secret: &str) -> Error {
        Error::Config(format!(
            "internal error: secret `{secret}` decoded incompletely"
        ))
    }

    fn record<T>(
        &mut self,
        key: &str,
        expected: &'static str,
        result: Result<T, ValueError>,
    ) -> Option<T> {
        result
            .map_err(|ValueError(problem)| self.fail::<T>(key, expected, problem))
            .ok()
    }

    fn fail<T>(&mut self, key: &str, expected: &'static str, problem: FieldProblem) -> Option<T> {
        self.errors.push(FieldError {
            key: key.to_owned(),
            expected,
            problem,
        });
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::ExposeSecret;
    use serde_json::json;

    fn via_from_str<T: FromStr>(v: Value) -> Result<T, ValueError>
    where
        T::Err: Display,
    {
        <&Decoder<T> as ViaFromStr>::decode(&&Decoder::<T>::new(), &v)
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
        let err = via_from_str::<u16>(json!("70000")).unwrap_err();
        assert_eq!(
            err,
            ValueError::invalid("number too large to fit in target type")
        );
    }

    #[test]
    fn parser_messages_that_repeat_the_value_are_withheld() {
        #[derive(Debug)]
        struct Echo;
        impl FromStr for Echo {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                Err(format!("cannot use {s}"))
            }
        }
        let err = via_from_str::<Echo>(json!("CANARY-echo")).unwrap_err();
        assert!(!format!("{err:?}").contains("CANARY"), "{err:?}");
    }

    #[test]
    fn secret_string_decodes_through_its_own_impl() {
        let s = (&&&Decoder::<SecretString>::new())
            .decode(&json!("pw"))
            .unwrap();
        assert_eq!(s.expose_secret(), "pw");
    }
}
