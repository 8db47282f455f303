//! The JSON skeleton of the secrets and parameters a struct reads: each value a placeholder
//! naming its type.

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
    let mut secrets = Map::new();
    let mut parameters = Map::new();
    for (described, plan) in plans(structs, provider)? {
        for field in &described.fields {
            let Some(item) = plan.item_of(field.origin) else {
                continue;
            };
            let placeholder = Value::String(placeholder(field));
            let (map, name) = match item {
                Item::Parameter(name) => (&mut parameters, name),
                Item::Secret(name) => (&mut secrets, name),
            };
            match field.key {
                // A key of a JSON object (a parameter's too, read with `key`).
                Some(key) => {
                    let entry = map.entry(name).or_insert_with(|| Value::Object(Map::new()));
                    if let Value::Object(object) = entry {
                        object.insert(key.to_owned(), placeholder);
                    }
                }
                None => {
                    map.insert(name, placeholder);
                }
            }
        }
    }
    if !parameters.is_empty() {
        secrets.insert("$parameters".into(), Value::Object(parameters));
    }
    let mut text = serde_json::to_string_pretty(&Value::Object(secrets))
        .map_err(|err| Error::Config(format!("internal error: the skeleton is not JSON: {err}")))?;
    text.push('\n');
    Ok(text)
}

/// `<type>`, with what may be left out: `<u16, optional>`, `<bool, default>`.
fn placeholder(field: &FieldSpec) -> String {
    let what = if field.binary {
        "binary: create it with --secret-binary".to_owned()
    } else if field.json {
        format!("{} as JSON", field.expected)
    } else {
        field.expected.to_owned()
    };
    match (field.optional, field.default) {
        (true, _) => format!("<{what}, optional>"),
        (false, true) => format!("<{what}, default>"),
        (false, false) => format!("<{what}>"),
    }
}
