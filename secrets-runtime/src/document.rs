//! A secret's value as a source returns it, and its parsed form ready for decoding.

use std::sync::OnceLock;

use secrecy::zeroize::{Zeroize as _, Zeroizing};
use serde_json::{Map, Value};

use crate::{Error, Item, SourceKind};

/// What a source returns for one secret: the string or binary value and its version.
///
/// The value is wiped from memory when the payload is dropped.
#[derive(Clone)]
pub(crate) struct SecretPayload {
    pub(crate) value: RawValue,
    pub(crate) version_id: Option<String>,
    pub(crate) via: SourceKind,
}

#[derive(Clone)]
pub(crate) enum RawValue {
    String(Zeroizing<String>),
    Binary(Zeroizing<Vec<u8>>),
}

impl std::fmt::Debug for SecretPayload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.value {
            RawValue::String(_) => "string",
            RawValue::Binary(_) => "binary",
        };
        f.debug_struct("SecretPayload")
            .field("value", &format_args!("[REDACTED {kind}]"))
            .field("version_id", &self.version_id)
            .field("via", &self.via)
            .finish()
    }
}

/// A secret or parameter value ready for decoding into a struct's fields.
///
/// The JSON object is parsed on first use, so a plain-text secret that happens to start with
/// `{` loads fine into a `whole` field.
pub(crate) struct Document {
    pub(crate) item: Item,
    pub(crate) value: RawValue,
    object: OnceLock<Result<Map<String, Value>, Error>>,
}

/// Wipes the string values of the parsed object (the raw value wipes itself).
impl Drop for Document {
    fn drop(&mut self) {
        fn wipe(value: &mut Value) {
            match value {
                Value::String(text) => text.zeroize(),
                Value::Array(items) => items.iter_mut().for_each(wipe),
                Value::Object(map) => map.values_mut().for_each(wipe),
                Value::Null | Value::Bool(_) | Value::Number(_) => {}
            }
        }
        if let Some(Ok(object)) = self.object.get_mut() {
            object.values_mut().for_each(wipe);
        }
    }
}

impl std::fmt::Debug for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match self.value {
            RawValue::String(_) => "string",
            RawValue::Binary(_) => "binary",
        };
        f.debug_struct("Document")
            .field("item", &self.item)
            .field("value", &format_args!("[REDACTED {kind}]"))
            .finish_non_exhaustive()
    }
}

impl Document {
    pub(crate) fn new(item: Item, payload: SecretPayload) -> Self {
        Self {
            item,
            value: payload.value,
            object: OnceLock::new(),
        }
    }

    /// The secret's JSON object, parsed on first use.
    ///
    /// # Errors
    /// [`Error::InvalidJson`] for a value that starts like JSON but does not parse,
    /// [`Error::WrongShape`] for plain text, binary data or a JSON array.
    pub(crate) fn object(&self) -> Result<&Map<String, Value>, Error> {
        self.object
            .get_or_init(|| self.parse_object())
            .as_ref()
            .map_err(Clone::clone)
    }

    fn parse_object(&self) -> Result<Map<String, Value>, Error> {
        let wrong_shape = |found| Error::WrongShape {
            item: self.item.clone(),
            expected: "a JSON object of keys",
            found,
        };
        let text = match &self.value {
            RawValue::Binary(_) => return Err(wrong_shape("binary data")),
            RawValue::String(text) => text,
        };
        if !text.trim_start().starts_with(['{', '[']) {
            return Err(wrong_shape("plain text"));
        }
        match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(wrong_shape("a JSON array")),
            Err(err) => Err(invalid_json(&self.item, &err)),
        }
    }
}

/// Builds the value-free error for a JSON syntax error.
fn invalid_json(item: &Item, err: &serde_json::Error) -> Error {
    let category = match err.classify() {
        serde_json::error::Category::Eof => "unexpected end of input",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "invalid data",
        serde_json::error::Category::Io => "read error",
    };
    Error::InvalidJson {
        item: item.clone(),
        line: err.line(),
        column: err.column(),
        category,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn payload(s: &str) -> SecretPayload {
        SecretPayload {
            value: RawValue::String(Zeroizing::new(s.to_owned())),
            version_id: None,
            via: SourceKind::Local,
        }
    }

    #[test]
    fn objects_text_and_arrays() {
        assert!(
            Document::new(Item::secret("s"), payload(r#"{"a":"1"}"#))
                .object()
                .is_ok()
        );
        for (text, found) in [("hunter2", "plain text"), ("[1]", "a JSON array")] {
            let err = Document::new(Item::secret("s"), payload(text))
                .object()
                .unwrap_err();
            assert!(
                matches!(err, Error::WrongShape { found: f, .. } if f == found),
                "{text}"
            );
        }
    }

    #[test]
    fn bad_json_reports_position_not_content() {
        let canary = "CANARY-bad-json-value";
        let document = Document::new(
            Item::secret("s"),
            payload(&format!(r#"{{"a": "{canary}" "#)),
        );
        let err = document.object().unwrap_err();
        let Error::InvalidJson { line, column, .. } = &err else {
            panic!("{err:?}")
        };
        assert_eq!((*line, *column), (1, 30));
        assert!(!err.to_string().contains(canary));
        assert!(!format!("{err:?}").contains(canary));
        assert!(!format!("{document:?}").contains(canary));
    }

    #[test]
    fn payload_debug_is_redacted() {
        let dbg = format!("{:?}", payload("CANARY-payload"));
        assert!(!dbg.contains("CANARY"), "{dbg}");
    }
}
