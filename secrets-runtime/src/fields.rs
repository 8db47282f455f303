//! Reading a struct's fields from a parsed secret, collecting every error so that one load
//! reports them all.

use serde_json::{Map, Value};

use crate::decode::ValueError;
use crate::document::{Document, RawValue};
use crate::error::{Error, FieldError, FieldProblem};

impl Document {
    /// A reader of this document's fields, for generated code.
    #[doc(hidden)]
    #[must_use]
    pub fn fields(&self) -> Fields<'_> {
        Fields {
            document: self,
            errors: Vec::new(),
            shape: None,
        }
    }
}

/// Reads a struct's fields from a secret, collecting every error.
///
/// Each reader returns `None` after recording an error; [`Fields::finish`] turns the
/// collected errors into one [`Error`].
#[doc(hidden)]
pub struct Fields<'a> {
    document: &'a Document,
    errors: Vec<FieldError>,
    /// The secret is not of the shape a field needs: reported instead of per-field errors.
    shape: Option<Error>,
}

impl<'a> Fields<'a> {
    /// The JSON object that keyed fields read, or `None` after recording why there is none.
    fn object(&mut self) -> Option<&'a Map<String, Value>> {
        match self.document.object() {
            Ok(object) => Some(object),
            Err(err) => {
                self.shape.get_or_insert(err);
                None
            }
        }
    }

    fn wrong_shape(&mut self, expected: &'static str, found: &'static str) {
        self.shape.get_or_insert_with(|| Error::WrongShape {
            secret: self.document.secret.clone(),
            expected,
            found,
        });
    }

    /// A field that must be present and not null.
    pub fn required<T>(
        &mut self,
        key: &str,
        expected: &'static str,
        decode: impl FnOnce(&Value) -> Result<T, ValueError>,
    ) -> Option<T> {
        match self.object()?.get(key) {
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
        match self.object()?.get(key) {
            None | Some(Value::Null) => Some(None),
            Some(value) => self.record(key, expected, decode(value)).map(Some),
        }
    }

    /// A field with a default: a missing key takes `default()`. Null or invalid values are
    /// errors, never defaulted.
    pub fn or_else<T>(
        &mut self,
        key: &str,
        expected: &'static str,
        decode: impl FnOnce(&Value) -> Result<T, ValueError>,
        default: impl FnOnce() -> T,
    ) -> Option<T> {
        match self.object()?.get(key) {
            None => Some(default()),
            Some(Value::Null) => self.fail(key, expected, FieldProblem::Null),
            Some(value) => self.record(key, expected, decode(value)),
        }
    }

    /// A field with `default = "literal"`: a missing key decodes the literal like a value.
    pub fn or_literal<T>(
        &mut self,
        key: &str,
        expected: &'static str,
        decode: impl Fn(&Value) -> Result<T, ValueError>,
        literal: &'static str,
    ) -> Option<T> {
        match self.object()?.get(key) {
            None => match decode(&Value::String(literal.to_owned())) {
                Ok(value) => Some(value),
                Err(ValueError(problem)) => {
                    let reason = match problem {
                        FieldProblem::Invalid { reason } => reason,
                        FieldProblem::WrongShape { found } => format!("it is {found}"),
                        FieldProblem::Missing
                        | FieldProblem::Null
                        | FieldProblem::InvalidDefault { .. } => "it does not decode".to_owned(),
                    };
                    self.fail(key, expected, FieldProblem::InvalidDefault { reason })
                }
            },
            Some(Value::Null) => self.fail(key, expected, FieldProblem::Null),
            Some(value) => self.record(key, expected, decode(value)),
        }
    }

    /// `#[secret(whole)]`: the entire secret string (plain text or the JSON text itself).
    pub fn whole<T>(
        &mut self,
        expected: &'static str,
        decode: impl FnOnce(&str) -> Result<T, ValueError>,
    ) -> Option<T> {
        match &self.document.value {
            RawValue::String(text) => self.record("(whole secret)", expected, decode(text)),
            RawValue::Binary(_) => {
                self.wrong_shape("a string secret", "binary data");
                None
            }
        }
    }

    /// `#[secret(binary)]`: a `SecretBinary` value.
    pub fn binary(&mut self) -> Option<Vec<u8>> {
        match &self.document.value {
            RawValue::Binary(bytes) => Some(bytes.to_vec()),
            RawValue::String(_) => {
                self.wrong_shape("a binary secret (`SecretBinary`)", "a string");
                None
            }
        }
    }

    /// Ends reading: every error found, or none.
    ///
    /// # Errors
    /// [`Error::WrongShape`] when the secret's shape did not fit, otherwise
    /// [`Error::InvalidFields`] listing each field at fault.
    pub fn finish(self) -> Result<(), Error> {
        if let Some(shape) = self.shape {
            return Err(shape);
        }
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidFields {
                secret: self.document.secret.clone(),
                fields: self.errors,
            })
        }
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

/// Decodes a whole struct from a document.
pub(crate) fn decode<T: crate::FromSecret>(document: &Document) -> Result<T, Error> {
    let mut fields = document.fields();
    let value = T::read_fields(&mut fields);
    fields.finish()?;
    value.ok_or_else(|| {
        Error::Config(format!(
            "internal error: secret `{}` decoded incompletely",
            document.secret
        ))
    })
}
