//! Keeping values out of messages: a parser's message is kept only when it cannot repeat the
//! input (the std types of `shared::std_types`, whose impls keep their fixed texts; any other
//! parser's message is withheld); serde's messages lose their quoted values and key names.

use super::ValueError;

/// The error of a parser whose messages are not known to be free of the input: its message is
/// withheld. Any part of a message may come from the value (a character and its position are
/// enough to leak a secret a little at a time), so no filter on the text can be trusted.
pub(crate) fn reason_withheld() -> ValueError {
    ValueError::invalid(
        "the parser's message is withheld because it could repeat part of the value",
    )
}

/// The shape of a path into a JSON document: indices kept, each key or variant name written
/// `*`; `None` at the top.
pub(super) fn path_shape(path: &serde_path_to_error::Path) -> Option<String> {
    use serde_path_to_error::Segment;
    let mut shape = String::new();
    for segment in path.iter() {
        match segment {
            Segment::Seq { index } => shape.push_str(&format!("[{index}]")),
            Segment::Map { .. } | Segment::Enum { .. } | Segment::Unknown => {
                if !shape.is_empty() {
                    shape.push('.');
                }
                shape.push('*');
            }
        }
    }
    (!shape.is_empty()).then_some(shape)
}

/// serde's message with every quoted value removed.
pub(super) fn serde_message_without_values(err: &serde_json::Error) -> String {
    use serde_json::error::Category;
    if matches!(err.classify(), Category::Syntax | Category::Eof) {
        return format!(
            "not valid JSON (line {}, column {})",
            err.line(),
            err.column()
        );
    }
    let message = err.to_string();
    // serde's data errors: "invalid type: string \"x\", expected u32 at line 1 column 9",
    // "invalid value: ...", "unknown variant `x`, expected ...", "missing field `f`",
    // "unknown field `f`, expected ...", "invalid length 3, expected ...".
    let message = message
        .rsplit_once(" at line ")
        .map_or(message.as_str(), |(head, _)| head);
    for prefix in ["invalid type", "invalid value", "unknown variant"] {
        if message.starts_with(prefix) {
            return match message.split_once(", expected ") {
                Some((_, expected)) => format!("{prefix}, expected {expected}"),
                None => prefix.to_owned(),
            };
        }
    }
    if message.starts_with("missing field") || message.starts_with("invalid length") {
        // The field is the type's; the length is not a value.
        return message.to_owned();
    }
    if message.starts_with("unknown field") {
        // The unknown name is the secret's, and may be a secret: only the expected ones stay.
        return match message.split_once(", expected ") {
            Some((_, expected)) => format!("unknown field, expected {expected}"),
            None => "unknown field".to_owned(),
        };
    }
    "the value does not match the expected type (the message of a custom deserializer is withheld)"
        .to_owned()
}
