//! Reading a struct's fields from its fetched secrets and parameters, collecting every error
//! so that one load reports them all.

use serde_json::Value;

use super::plan::Documents;
use crate::Item;
use crate::document::{Document, RawValue};
use crate::error::{Error, FieldError, FieldProblem};
use crate::spec::Origin;
use crate::value::ValueError;

/// Reads a struct's fields, collecting every error.
///
/// Each reader takes the field's source and returns `None` after recording an error;
/// [`Fields::finish`] turns the collected errors into one [`Error`]. Keyed readers read a key
/// of a JSON object; `whole` readers read the entire value (a `whole` secret field, or a
/// parameter). A parameter that does not exist reads as missing.
#[doc(hidden)]
pub struct Fields<'a> {
    documents: &'a Documents,
    errors: Vec<FieldError>,
    /// Errors of whole sources (wrong shape, invalid JSON), one per source, instead of
    /// per-field errors.
    problems: Vec<Error>,
}

/// What a lookup found.
enum Found<V> {
    Missing,
    Null,
    Value(V),
}

impl<'a> Fields<'a> {
    /// A reader of `documents`.
    pub(crate) fn new(documents: &'a Documents) -> Self {
        Self {
            documents,
            errors: Vec::new(),
            problems: Vec::new(),
        }
    }

    /// `key` of `source`'s JSON object, or `None` after recording why there is no object.
    fn keyed(&mut self, source: Origin, key: &str) -> Option<(&'a Item, Found<&'a Value>)> {
        let (item, document) = self.source(source)?;
        let Some(document) = document else {
            return Some((item, Found::Missing));
        };
        let object = match document.object() {
            Ok(object) => object,
            Err(err) => {
                self.problem(err);
                return None;
            }
        };
        let found = match object.get(key) {
            None => Found::Missing,
            Some(Value::Null) => Found::Null,
            Some(value) => Found::Value(value),
        };
        Some((item, found))
    }

    /// The entire string value of `source`, or `None` after recording that it is binary.
    fn whole_text(&mut self, source: Origin) -> Option<(&'a Item, Found<&'a str>)> {
        let (item, document) = self.source(source)?;
        let Some(document) = document else {
            return Some((item, Found::Missing));
        };
        match &document.value {
            RawValue::String(text) => Some((item, Found::Value(text.as_str()))),
            RawValue::Binary(_) => {
                self.problem(Error::WrongShape {
                    item: item.clone(),
                    expected: "a string secret",
                    found: "binary data",
                });
                None
            }
        }
    }

    fn source(&mut self, source: Origin) -> Option<(&'a Item, Option<&'a Document>)> {
        match self.documents.get(source) {
            Ok(found) => Some(found),
            Err(err) => {
                self.problem(err);
                None
            }
        }
    }

    /// Records a problem of a whole source, once per source.
    fn problem(&mut self, err: Error) {
        let text = err.to_string();
        if !self.problems.iter().any(|p| p.to_string() == text) {
            self.problems.push(err);
        }
    }

    /// A field that must be present and not null.
    pub fn required<T>(
        &mut self,
        source: Origin,
        key: &str,
        expected: &'static str,
        decode: impl FnOnce(&Value) -> Result<T, ValueError>,
    ) -> Option<T> {
        let (item, found) = self.keyed(source, key)?;
        self.require(item, key, expected, found, decode)
    }

    /// An `Option<T>` field: missing or null is `None`.
    pub fn optional<T>(
        &mut self,
        source: Origin,
        key: &str,
        expected: &'static str,
        decode: impl FnOnce(&Value) -> Result<T, ValueError>,
    ) -> Option<Option<T>> {
        let (item, found) = self.keyed(source, key)?;
        self.optionally(item, key, expected, found, decode)
    }

    /// A field with a default: a missing key takes `default()`. Null or invalid values are
    /// errors, never defaulted.
    pub fn or_else<T>(
        &mut self,
        source: Origin,
        key: &str,
        expected: &'static str,
        decode: impl FnOnce(&Value) -> Result<T, ValueError>,
        default: impl FnOnce() -> T,
    ) -> Option<T> {
        let (item, found) = self.keyed(source, key)?;
        self.defaulted(item, key, expected, found, decode, || Ok(default()))
    }

    /// A field with `default = "literal"`: a missing key decodes the literal like a value.
    pub fn or_literal<T>(
        &mut self,
        source: Origin,
        key: &str,
        expected: &'static str,
        decode: impl Fn(&Value) -> Result<T, ValueError>,
        literal: &'static str,
    ) -> Option<T> {
        let (item, found) = self.keyed(source, key)?;
        let default = || decode(&Value::String(literal.to_owned()));
        self.defaulted(item, key, expected, found, &decode, default)
    }

    /// The entire value: a `whole` secret field (plain text or the JSON text itself) or a
    /// `parameter` field, which must exist.
    pub fn whole<T>(
        &mut self,
        source: Origin,
        expected: &'static str,
        decode: impl FnOnce(&str) -> Result<T, ValueError>,
    ) -> Option<T> {
        let (item, found) = self.whole_text(source)?;
        self.require(item, "", expected, found, decode)
    }

    /// An `Option<T>` `parameter` field: a parameter that does not exist is `None`.
    pub fn whole_optional<T>(
        &mut self,
        source: Origin,
        expected: &'static str,
        decode: impl FnOnce(&str) -> Result<T, ValueError>,
    ) -> Option<Option<T>> {
        let (item, found) = self.whole_text(source)?;
        self.optionally(item, "", expected, found, decode)
    }

    /// A `parameter` field with a default: a parameter that does not exist takes `default()`.
    pub fn whole_or_else<T>(
        &mut self,
        source: Origin,
        expected: &'static str,
        decode: impl FnOnce(&str) -> Result<T, ValueError>,
        default: impl FnOnce() -> T,
    ) -> Option<T> {
        let (item, found) = self.whole_text(source)?;
        self.defaulted(item, "", expected, found, decode, || Ok(default()))
    }

    /// A `parameter` field with `default = "literal"`: the literal decodes like the value.
    pub fn whole_or_literal<T>(
        &mut self,
        source: Origin,
        expected: &'static str,
        decode: impl Fn(&str) -> Result<T, ValueError>,
        literal: &'static str,
    ) -> Option<T> {
        let (item, found) = self.whole_text(source)?;
        self.defaulted(item, "", expected, found, &decode, || decode(literal))
    }

    /// `#[secret(binary)]`: a `SecretBinary` value.
    pub fn binary(&mut self, source: Origin) -> Option<Vec<u8>> {
        let (item, document) = self.source(source)?;
        match document.map(|d| &d.value) {
            Some(RawValue::Binary(bytes)) => Some(bytes.to_vec()),
            Some(RawValue::String(_)) | None => {
                self.problem(Error::WrongShape {
                    item: item.clone(),
                    expected: "a binary secret (`SecretBinary`)",
                    found: "a string",
                });
                None
            }
        }
    }

    fn require<V, T>(
        &mut self,
        item: &Item,
        key: &str,
        expected: &'static str,
        found: Found<V>,
        decode: impl FnOnce(V) -> Result<T, ValueError>,
    ) -> Option<T> {
        match found {
            Found::Missing => self.fail(item, key, expected, FieldProblem::Missing),
            Found::Null => self.fail(item, key, expected, FieldProblem::Null),
            Found::Value(value) => self.record(item, key, expected, decode(value)),
        }
    }

    fn optionally<V, T>(
        &mut self,
        item: &Item,
        key: &str,
        expected: &'static str,
        found: Found<V>,
        decode: impl FnOnce(V) -> Result<T, ValueError>,
    ) -> Option<Option<T>> {
        match found {
            Found::Missing | Found::Null => Some(None),
            Found::Value(value) => self.record(item, key, expected, decode(value)).map(Some),
        }
    }

    fn defaulted<V, T>(
        &mut self,
        item: &Item,
        key: &str,
        expected: &'static str,
        found: Found<V>,
        decode: impl FnOnce(V) -> Result<T, ValueError>,
        default: impl FnOnce() -> Result<T, ValueError>,
    ) -> Option<T> {
        match found {
            Found::Missing => match default() {
                Ok(value) => Some(value),
                Err(ValueError(problem)) => {
                    let reason = match problem {
                        FieldProblem::Invalid { reason } => reason,
                        FieldProblem::WrongShape { found } => format!("it is {found}"),
                        FieldProblem::Missing
                        | FieldProblem::Null
                        | FieldProblem::InvalidDefault { .. } => "it does not decode".to_owned(),
                    };
                    self.fail(item, key, expected, FieldProblem::InvalidDefault { reason })
                }
            },
            Found::Null => self.fail(item, key, expected, FieldProblem::Null),
            Found::Value(value) => self.record(item, key, expected, decode(value)),
        }
    }

    /// Ends reading: every error found, or none.
    ///
    /// # Errors
    /// [`Error::WrongShape`] or [`Error::InvalidJson`] for a source whose shape did not fit,
    /// [`Error::InvalidFields`] listing each field at fault in a source, and
    /// [`Error::Several`] when more than one source has errors.
    pub fn finish(self) -> Result<(), Error> {
        let mut errors = self.problems;
        let mut fields = self.errors;
        while let Some(first) = fields.first() {
            let item = first.item.clone();
            let (of_item, rest): (Vec<_>, Vec<_>) =
                fields.into_iter().partition(|f| f.item == item);
            errors.push(Error::InvalidFields {
                item,
                fields: of_item,
            });
            fields = rest;
        }
        match Error::from_list(errors) {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    fn record<T>(
        &mut self,
        item: &Item,
        key: &str,
        expected: &'static str,
        result: Result<T, ValueError>,
    ) -> Option<T> {
        result
            .map_err(|ValueError(problem)| self.fail::<T>(item, key, expected, problem))
            .ok()
    }

    fn fail<T>(
        &mut self,
        item: &Item,
        key: &str,
        expected: &'static str,
        problem: FieldProblem,
    ) -> Option<T> {
        self.errors.push(FieldError {
            item: item.clone(),
            key: key.to_owned(),
            expected,
            problem,
        });
        None
    }
}

/// Decodes a whole struct from its documents.
pub(crate) fn decode<T: crate::FromSecret>(documents: &Documents) -> Result<T, Error> {
    let mut fields = Fields::new(documents);
    let value = T::read_fields(&mut fields);
    fields.finish()?;
    value.ok_or_else(|| {
        let item = documents
            .first_item()
            .map_or_else(|| "no source".to_owned(), ToString::to_string);
        Error::Internal(format!(
            "{item} decoded incompletely: no field reported an error, yet the struct was not built"
        ))
    })
}
