//! The JSON skeleton of the secrets and parameters a struct reads: each value a placeholder
//! naming its type.

use std::collections::BTreeMap;
use std::collections::btree_map::Entry;

use serde_json::{Map, Value};

use super::{Described, plans};
use crate::spec::FieldSpec;
use crate::{Error, Item, Provider};

/// The skeleton of what `structs` read through `provider`'s variables, as one JSON object in
/// the format of the local source's file: each secret by name, holding its keys (after
/// `rename_all`, `key` and `flatten`), and the parameters under `"$parameters"`. Each value is
/// a placeholder: `"<u16>"`, `"<bool, default>"`, `"<String, optional>"`, `"<Pool as JSON>"`.
/// A secret or parameter read whole is one placeholder string (a binary secret's says to create
/// it with `--secret-binary`). Fill it in and paste a secret's object into
/// `aws secretsmanager create-secret --secret-string`, or use the whole file with
/// `SECRETS_SOURCE=local` (binary secrets aside). Keys come out sorted.
///
/// ```
/// use secrets_runtime::deploy::{self, Described};
/// use secrets_runtime::{FromSecret, Provider};
///
/// #[derive(FromSecret)]
/// #[secret(name = "{STAGE}/app", rename_all = "camelCase")]
/// struct App {
///     db_host: String,
///     #[secret(default)]
///     db_port: u16,
/// }
///
/// let dev = Provider::builder().var("STAGE", "dev").build();
/// let skeleton = deploy::template(&[Described::of::<App>()], &dev).unwrap();
/// assert_eq!(
///     skeleton,
///     "{\n  \"dev/app\": {\n    \"dbHost\": \"<String>\",\n    \"dbPort\": \"<u16, default>\"\n  }\n}\n"
/// );
/// ```
///
/// # Errors
/// [`Error::MissingVar`] for a name template whose variable `provider` does not set.
pub fn template(structs: &[Described], provider: &Provider) -> Result<String, Error> {
    let mut items: BTreeMap<Item, Shape> = BTreeMap::new();
    let mut conflicts = Vec::new();
    for (described, plan) in plans(structs, provider)? {
        for field in &described.fields {
            let Some(item) = plan.item_of(field.origin) else {
                continue;
            };
            let read = Read {
                field: *field,
                absence: Absence::of(field),
                by: described.short_name(),
                also: Vec::new(),
            };
            let shape = match items.entry(item.clone()) {
                Entry::Vacant(vacant) => {
                    vacant.insert(match field.key {
                        Some(key) => Shape::Keys(BTreeMap::from([(key, read)])),
                        None => Shape::Whole(read),
                    });
                    continue;
                }
                Entry::Occupied(occupied) => occupied.into_mut(),
            };
            let conflict = match (shape, field.key) {
                (Shape::Keys(keys), Some(key)) => match keys.entry(key) {
                    Entry::Occupied(mut earlier) => {
                        earlier.get_mut().merge(&read, &item, key).err()
                    }
                    Entry::Vacant(vacant) => {
                        vacant.insert(read);
                        None
                    }
                },
                (Shape::Whole(earlier), None) => earlier.merge(&read, &item, "").err(),
                (Shape::Keys(keys), None) => {
                    let by_keys = keys.values().next().map_or("another struct", |k| k.by);
                    Some(whole_and_keyed(&item, read.by, by_keys))
                }
                (Shape::Whole(earlier), Some(_)) => {
                    Some(whole_and_keyed(&item, earlier.by, read.by))
                }
            };
            // Once each: several fields can meet the same conflict.
            if let Some(conflict) = conflict
                && !conflicts.contains(&conflict)
            {
                conflicts.push(conflict);
            }
        }
    }
    if let Some(err) = Error::from_list(conflicts.into_iter().map(Error::Config).collect()) {
        return Err(err);
    }
    let mut secrets = Map::new();
    let mut parameters = Map::new();
    for (item, shape) in items {
        let value = match shape {
            Shape::Whole(read) => Value::String(read.placeholder()),
            Shape::Keys(keys) => Value::Object(
                keys.into_iter()
                    .map(|(key, read)| (key.to_owned(), Value::String(read.placeholder())))
                    .collect(),
            ),
        };
        match item {
            Item::Parameter(name) => parameters.insert(name, value),
            Item::Secret(name) => secrets.insert(name, value),
        };
    }
    if !parameters.is_empty() {
        secrets.insert("$parameters".into(), Value::Object(parameters));
    }
    let mut text = serde_json::to_string_pretty(&Value::Object(secrets))
        .map_err(|err| Error::Internal(format!("the skeleton is not JSON: {err}")))?;
    text.push('\n');
    Ok(text)
}

/// What the structs read of one item.
enum Shape {
    /// The whole value.
    Whole(Read),
    /// Keys of its JSON object.
    Keys(BTreeMap<&'static str, Read>),
}

/// How a value may be left out, from the strictest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Absence {
    Required,
    Default,
    Optional,
}

impl Absence {
    fn of(field: &FieldSpec) -> Self {
        if field.optional {
            Absence::Optional
        } else if field.default {
            Absence::Default
        } else {
            Absence::Required
        }
    }
}

/// One value as the structs read it: the type, and how it may be left out (the strictest of
/// the structs that read it).
struct Read {
    field: FieldSpec,
    absence: Absence,
    by: &'static str,
    /// The other names the value's type is written as (by other structs).
    also: Vec<&'static str>,
}

impl Read {
    /// Takes in another struct's read of the same value: the same type, or an error naming
    /// both; the strictest absence.
    /// Type names as written may differ for one kind of value (`String` and `SecretString`,
    /// an alias): the placeholder shows each (`<u16 or String>`). A `json` read and a plain
    /// one need different values: an error.
    fn merge(&mut self, other: &Read, item: &Item, key: &str) -> Result<(), String> {
        if (self.field.json, self.field.binary) != (other.field.json, other.field.binary) {
            let key = if key.is_empty() {
                String::new()
            } else {
                format!(": key `{key}`")
            };
            return Err(format!(
                "{item}{key} is read as {} by {} and as {} by {}: one template cannot show both",
                describe(&self.field),
                self.by,
                describe(&other.field),
                other.by
            ));
        }
        if !self.also.contains(&other.field.expected) && self.field.expected != other.field.expected
        {
            self.also.push(other.field.expected);
        }
        self.absence = self.absence.min(other.absence);
        Ok(())
    }

    /// `<type>`, with what may be left out: `<u16, optional>`, `<bool, default>`.
    fn placeholder(&self) -> String {
        let mut what = describe(&self.field);
        for other in &self.also {
            what.push_str(" or ");
            what.push_str(other);
        }
        match self.absence {
            Absence::Optional => format!("<{what}, optional>"),
            Absence::Default => format!("<{what}, default>"),
            Absence::Required => format!("<{what}>"),
        }
    }
}

/// The conflict of a value read whole by one struct and by keys by another.
fn whole_and_keyed(item: &Item, whole: &str, keyed: &str) -> String {
    format!("{item} is read whole by {whole} and by keys by {keyed}: one template cannot show both")
}

/// The type a value is read as: `u16`, `Pool as JSON`, binary.
fn describe(field: &FieldSpec) -> String {
    if field.binary {
        "binary: create it with --secret-binary".to_owned()
    } else if field.json {
        format!("{} as JSON", field.expected)
    } else {
        field.expected.to_owned()
    }
}
