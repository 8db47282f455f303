//! [`SecretValue`] for std types: scalars (so that they also work inside `Vec`),
//! [`Duration`], [`Vec`] and [`SecretString`].
//!
//! Every type accepts the JSON string form and the native form: `"5432"` and `5432`,
//! `"true"` and `true`, `"30s"` and `30`, `"a,b"` and `["a","b"]`.

use std::time::Duration;

use secrecy::SecretString;
use serde_json::Value;

use super::{SecretValue, ValueError, parse_std, with_text};

/// `SecretValue` for the std types of the shared list (`shared::std_types`): their `FromStr` is
/// exactly the decoding wanted, from the text form, and their parse messages are shown (the
/// list holds only types whose messages are fixed texts). Users' own `FromStr` types decode
/// through `ViaFromStr` instead, which withholds the message.
///
/// `bool` takes `true`/`false` (JSON or string) only: "1", "yes" or "on" are errors, so that a
/// typo never silently becomes a flag's value.
macro_rules! via_std_from_str {
    (primitives: [$($primitive:ty),* $(,)?], others: [$($other:ty),* $(,)?] $(,)?) => {
        $(via_std_from_str!(@impl $primitive);)*
        $(via_std_from_str!(@impl $other);)*
    };
    (@impl $ty:ty) => {
        impl SecretValue for $ty {
            fn from_secret_value(value: &Value) -> Result<Self, ValueError> {
                with_text(value, parse_std::<$ty>)
            }

            fn from_secret_str(text: &str) -> Result<Self, ValueError> {
                parse_std::<$ty>(text)
            }
        }
    };
}

crate::shared::std_types::std_from_str_types!(via_std_from_str);

impl SecretValue for SecretString {
    fn from_secret_value(value: &Value) -> Result<Self, ValueError> {
        with_text(value, Self::from_secret_str)
    }

    fn from_secret_str(text: &str) -> Result<Self, ValueError> {
        Ok(SecretString::from(text))
    }
}

/// A humantime string (`"30s"`, `"1h 30m"`, `"250ms"`) or a number of seconds (`30`, `"1.5"`).
impl SecretValue for Duration {
    fn from_secret_value(value: &Value) -> Result<Self, ValueError> {
        match value {
            Value::Number(n) => n.as_f64().map_or_else(
                || Err(ValueError::invalid("not a number of seconds")),
                seconds,
            ),
            Value::String(text) => Self::from_secret_str(text),
            other => Err(ValueError::wrong_shape(other)),
        }
    }

    fn from_secret_str(text: &str) -> Result<Self, ValueError> {
        let text = text.trim();
        if let Ok(number) = text.parse::<f64>() {
            return seconds(number);
        }
        humantime::parse_duration(text).map_err(|err| duration_error(&err))
    }
}

/// humantime's error without what it quotes or points at in the value: a unit it did not know
/// and a position could repeat part of a secret.
fn duration_error(err: &humantime::DurationError) -> ValueError {
    use humantime::DurationError;
    ValueError::invalid(match err {
        DurationError::InvalidCharacter(_) => "not a duration: a character is not allowed",
        DurationError::NumberExpected(_) => "not a duration: a number was expected",
        DurationError::UnknownUnit { .. } => {
            "not a duration: a unit is unknown (use ns, us, ms, s, m, h, d, w, M or y)"
        }
        DurationError::NumberOverflow => "not a duration: the number is too large",
        DurationError::Empty => "not a duration: the value is empty",
    })
}

fn seconds(number: f64) -> Result<Duration, ValueError> {
    Duration::try_from_secs_f64(number)
        .map_err(|_| ValueError::invalid("not a non-negative number of seconds in range"))
}

/// A JSON array, or a comma-separated string (`"a, b"`; `""` is empty). Each element decodes
/// like a field of type `T`.
impl<T: SecretValue> SecretValue for Vec<T> {
    fn from_secret_value(value: &Value) -> Result<Self, ValueError> {
        match value {
            Value::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Value::Null => Err(ValueError::invalid(format!("element {i} is null"))),
                    item => T::from_secret_value(item).map_err(|err| err.in_element(i)),
                })
                .collect(),
            Value::String(text) => Self::from_secret_str(text),
            other => Err(ValueError::wrong_shape(other)),
        }
    }

    fn from_secret_str(text: &str) -> Result<Self, ValueError> {
        if text.trim().is_empty() {
            return Ok(Vec::new());
        }
        text.split(',')
            .enumerate()
            .map(|(i, part)| T::from_secret_str(part.trim()).map_err(|err| err.in_element(i)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, SocketAddr};
    use std::path::PathBuf;

    use super::*;
    use crate::error::FieldProblem;
    use proptest::prelude::*;
    use serde_json::json;

    fn decode<T: SecretValue>(value: Value) -> Result<T, ValueError> {
        T::from_secret_value(&value)
    }

    #[test]
    fn durations() {
        assert_eq!(
            decode::<Duration>(json!("30s")),
            Ok(Duration::from_secs(30))
        );
        assert_eq!(
            decode::<Duration>(json!("1h 30m")),
            Ok(Duration::from_secs(5400))
        );
        assert_eq!(
            decode::<Duration>(json!(1.5)),
            Ok(Duration::from_millis(1500))
        );
        assert_eq!(decode::<Duration>(json!("20")), Ok(Duration::from_secs(20)));
        assert!(decode::<Duration>(json!(-1)).is_err());
        assert!(decode::<Duration>(json!(true)).is_err());
        let err = decode::<Duration>(json!("5 minuts")).unwrap_err();
        assert!(!format!("{err:?}").contains("minuts"), "{err:?}");
        // Neither the unit nor a position of the value is repeated, but what went wrong is.
        assert_eq!(
            decode::<Duration>(json!("5 Zq")).unwrap_err(),
            ValueError::invalid(
                "not a duration: a unit is unknown (use ns, us, ms, s, m, h, d, w, M or y)"
            )
        );
        assert_eq!(
            decode::<Duration>(json!("5s Z")).unwrap_err(),
            ValueError::invalid("not a duration: a number was expected")
        );
    }

    #[test]
    fn vectors_from_arrays_and_comma_separated_strings() {
        assert_eq!(decode::<Vec<u16>>(json!([1, "2", 3])), Ok(vec![1, 2, 3]));
        assert_eq!(decode::<Vec<u16>>(json!("1, 2,3")), Ok(vec![1, 2, 3]));
        assert_eq!(decode::<Vec<String>>(json!("")), Ok(vec![]));
        assert_eq!(
            decode::<Vec<Duration>>(json!("1s,2m")),
            Ok(vec![Duration::from_secs(1), Duration::from_secs(120)])
        );
        assert_eq!(
            decode::<Vec<u8>>(json!([1, 300])),
            Err(ValueError::invalid(
                "element 1: number too large to fit in target type"
            ))
        );
        assert_eq!(
            decode::<Vec<u8>>(json!({"a": 1})),
            Err(ValueError(FieldProblem::WrongShape { found: "an object" }))
        );
    }

    #[test]
    fn scalars_and_their_edges() {
        assert_eq!(decode::<bool>(json!("true")), Ok(true));
        for not_a_bool in [json!("1"), json!("yes"), json!(1), json!("TRUE")] {
            assert!(decode::<bool>(not_a_bool.clone()).is_err(), "{not_a_bool}");
        }
        assert_eq!(
            decode::<u16>(json!("")),
            Err(ValueError::invalid(
                "cannot parse integer from empty string"
            ))
        );
        assert_eq!(
            decode::<i8>(json!(-129)),
            Err(ValueError::invalid(
                "number too small to fit in target type"
            ))
        );
        assert_eq!(decode::<char>(json!("x")), Ok('x'));
        assert_eq!(
            decode::<SocketAddr>(json!("127.0.0.1:80")).map(|a| a.port()),
            Ok(80)
        );
        assert_eq!(
            decode::<PathBuf>(json!("/tmp/x")),
            Ok(PathBuf::from("/tmp/x"))
        );
    }

    /// Any JSON value, nested a few levels.
    fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(|n| json!(n)),
            any::<u64>().prop_map(|n| json!(n)),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(|f| json!(f)),
            ".*".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                prop::collection::hash_map(".*", inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest! {
        #[test]
        fn arbitrary_json_never_panics(value in any_json()) {
            let _ = decode::<u8>(value.clone());
            let _ = decode::<i128>(value.clone());
            let _ = decode::<f32>(value.clone());
            let _ = decode::<bool>(value.clone());
            let _ = decode::<char>(value.clone());
            let _ = decode::<String>(value.clone());
            let _ = decode::<IpAddr>(value.clone());
            let _ = decode::<SocketAddr>(value.clone());
            let _ = decode::<Duration>(value.clone());
            let _ = decode::<Vec<u32>>(value.clone());
            let _ = decode::<Vec<Vec<String>>>(value.clone());
            let _ = decode::<SecretString>(value.clone());
            let _ = crate::value::decode_json::<std::collections::HashMap<String, Vec<u8>>>(&value);
        }

        #[test]
        fn integers_round_trip_in_both_forms(n in any::<i64>(), u in any::<u16>()) {
            prop_assert_eq!(decode::<i64>(json!(n)), Ok(n));
            prop_assert_eq!(decode::<i64>(json!(n.to_string())), Ok(n));
            prop_assert_eq!(decode::<u16>(json!(u)), Ok(u));
            prop_assert_eq!(decode::<u16>(json!(u.to_string())), Ok(u));
        }

        #[test]
        fn floats_round_trip(f in any::<f64>().prop_filter("finite", |f| f.is_finite())) {
            prop_assert_eq!(decode::<f64>(json!(f.to_string())), Ok(f));
            prop_assert_eq!(decode::<f64>(json!(f)), Ok(f));
        }

        #[test]
        fn printable_values_round_trip(
            b in any::<bool>(),
            c in any::<char>().prop_filter("not a comma or space", |c| *c != ',' && !c.is_whitespace()),
            ip in any::<IpAddr>(),
            port in any::<u16>(),
            secs in 0u64..10_000_000,
            nanos in 0u32..1_000_000_000,
            list in prop::collection::vec(any::<u32>(), 0..8),
            text in "[^,]*",
        ) {
            prop_assert_eq!(decode::<bool>(json!(b.to_string())), Ok(b));
            prop_assert_eq!(decode::<char>(json!(c.to_string())), Ok(c));
            prop_assert_eq!(decode::<IpAddr>(json!(ip.to_string())), Ok(ip));
            // (Printing drops an IPv6 address's flow info, so addresses are built from parts.)
            let addr = SocketAddr::new(ip, port);
            prop_assert_eq!(decode::<SocketAddr>(json!(addr.to_string())), Ok(addr));
            let duration = Duration::new(secs, nanos);
            let printed = humantime::format_duration(duration).to_string();
            prop_assert_eq!(decode::<Duration>(json!(printed)), Ok(duration));
            let joined = list.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
            prop_assert_eq!(decode::<Vec<u32>>(json!(joined)), Ok(list.clone()));
            prop_assert_eq!(decode::<Vec<u32>>(json!(list.clone())), Ok(list));
            prop_assert_eq!(decode::<String>(json!(text.clone())), Ok(text));
        }
    }
}
