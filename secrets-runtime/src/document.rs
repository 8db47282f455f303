//! A secret's value as a source returns it, and its parsed form ready for decoding.

use secrecy::zeroize::Zeroizing;
use serde_json::{Map, Value};

use crate::Error;
use crate::source::SourceKind;

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

/// A secret parsed for decoding into a struct. Generated code reads it through
/// [`Document::fields`].
#[doc(hidden)]
pub struct Document {
    pub(crate) secret: String,
    pub(crate) value: RawValue,
    pub(crate) body: Body,
}

impl std::fmt::Debug for Document {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut out = f.debug_struct("Document");
        out.field("secret", &self.secret);
        match &self.body {
            Body::Object(map) => out.field("keys", &map.keys().collect::<Vec<_>>()),
            body => out.field("shape", &body.describe()),
        };
        out.finish_non_exhaustive()
    }
}

/// The parsed shape of a secret's value.
pub(crate) enum Body {
    /// A JSON object: fields read its keys.
    Object(Map<String, Value>),
    /// Valid JSON that is not an object (an array).
    OtherJson(&'static str),
    /// A string that is not JSON.
    Text,
    /// A `SecretBinary` value.
    Binary,
}

impl Body {
    pub(crate) fn describe(&self) -> &'static str {
        match self {
            Body::Object(_) => "a JSON object",
            Body::OtherJson(kind) => kind,
            Body::Text => "plain text",
            Body::Binary => "binary data",
        }
    }
}

impl Document {
    /// Parses a payload. A string that starts with `{` or `[` must be valid JSON; any other
    /// string is plain text.
    pub(crate) fn parse(secret: &str, payload: SecretPayload) -> Result<Self, Error> {
        let body = match &payload.value {
            RawValue::Binary(_) => Body::Binary,
            RawValue::String(text) => {
                if text.trim_start().starts_with(['{', '[']) {
                    match serde_json::from_str::<Value>(text) {
                        Ok(Value::Object(map)) => Body::Object(map),
                        Ok(_) => Body::OtherJson("a JSON array"),
                        Err(err) => return Err(invalid_json(secret, &err)),
                    }
                } else {
                    Body::Text
                }
            }
        };
        Ok(Self {
            secret: secret.to_owned(),
            value: payload.value,
            body,
        })
    }

    /// The resolved name of the secret this document came from.
    #[must_use]
    pub fn secret(&self) -> &str {
        &self.secret
    }
}

/// Builds the value-free error for a JSON syntax error.
fn invalid_json(secret: &str, err: &serde_json::Error) -> Error {
    let category = match err.classify() {
        serde_json::error::Category::Eof => "unexpected end of input",
        serde_json::error::Category::Syntax => "syntax error",
        serde_json::error::Category::Data => "invalid data",
        serde_json::error::Category::Io => "read error",
    };
    Error::InvalidJson {
        secret: secret.to_owned(),
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
        assert!(matches!(
            Document::parse("s", payload(r#"{"a":"1"}"#)).unwrap().body,
            Body::Object(_)
        ));
        assert!(matches!(
            Document::parse("s", payload("hunter2")).unwrap().body,
            Body::Text
        ));
        assert!(matches!(
            Document::parse("s", payload("[1]")).unwrap().body,
            Body::OtherJson(_)
        ));
    }

    #[test]
    fn bad_json_reports_position_not_content() {
        let canary = "CANARY-bad-json-value";
        let err = Document::parse("s", payload(&format!(r#"{{"a": "{canary}" "#))).unwrap_err();
        let Error::InvalidJson { line, column, .. } = &err else {
            panic!("{err:?}")
        };
        assert_eq!((*line, *column), (1, 30));
        assert!(!err.to_string().contains(canary));
        assert!(!format!("{err:?}").contains(canary));
    }

    #[test]
    fn payload_debug_is_redacted() {
        let dbg = format!("{:?}", payload("CANARY-payload"));
        assert!(!dbg.contains("CANARY"), "{dbg}");
    }
}
