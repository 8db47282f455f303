//! Local secrets for development, offline runs and users' own tests: no AWS at all.
//!
//! A secret named `dev/lambda/jay` is looked up, first match wins, in:
//! 1. the environment variable `SECRETS_LOCAL_DEV_LAMBDA_JAY` (the name upper-cased, every
//!    other character than a letter or digit made `_`), holding the secret string;
//! 2. the local path (`SECRETS_LOCAL_PATH`, default `secrets.local.json`): if it is a file, a
//!    JSON object whose keys are secret names and whose values are the secrets (an object, or a
//!    string for a plain-text secret); if it is a directory, the file `dev/lambda/jay.json` in it.
//!
//! A parameter named `/app/dev/flag` is looked up in:
//! 1. the environment variable `SECRETS_LOCAL_PARAMETER_APP_DEV_FLAG`, holding the value;
//! 2. the local path: if it is a file, its object `"$parameters"` (keys are parameter names,
//!    values are strings, or arrays of strings for a `StringList`); if it is a directory, the
//!    file `$parameters/app/dev/flag` in it (one trailing line break is not part of the value).

use std::path::{Path, PathBuf};

use secrecy::zeroize::Zeroizing;
use serde_json::Value;

use super::{Request, SecretRequest, SourceKind};
use crate::document::{RawValue, SecretPayload};
use crate::vars::Vars;
use crate::{Error, Item};

/// The default local path, relative to the working directory.
pub(crate) const DEFAULT_PATH: &str = "secrets.local.json";
/// The key (in a file) or folder (in a directory) that holds parameters. `$` is in no secret
/// name, so it cannot clash with one.
const PARAMETERS: &str = "$parameters";

/// Reads secrets from environment variables and a JSON file or directory.
#[derive(Debug, Clone)]
pub(crate) struct LocalSource {
    pub(crate) path: PathBuf,
}

impl LocalSource {
    pub(crate) async fn fetch(
        &self,
        request: &Request,
        vars: &Vars,
    ) -> Result<SecretPayload, Error> {
        match request {
            Request::Secret(secret) => self.fetch_secret(secret, vars).await,
            Request::Parameter(name) => self.fetch_parameter(name, vars).await,
        }
    }

    async fn fetch_parameter(&self, name: &str, vars: &Vars) -> Result<SecretPayload, Error> {
        let var = local_parameter_var(name);
        if let Some(value) = vars.get(&var) {
            tracing::debug!(parameter = %name, var = %var, "local parameter from the environment");
            return Ok(payload(value));
        }
        let not_found = || Error::NotFound {
            item: Item::parameter(name),
            via: SourceKind::Local,
        };
        let path = &self.path;
        let metadata = match tokio::fs::metadata(path).await {
            Ok(metadata) => metadata,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Err(not_found()),
            Err(err) => return Err(io_error(path, &err)),
        };
        if metadata.is_dir() {
            let relative = name.trim_start_matches('/');
            if !is_relative_inside(relative) {
                return Err(Error::Local {
                    path: path.display().to_string(),
                    reason: format!("parameter name `{name}` is not a relative path inside it"),
                });
            }
            let file = path.join(PARAMETERS).join(relative);
            return match tokio::fs::read_to_string(&file).await {
                Ok(mut text) => {
                    if text.ends_with('\n') {
                        text.pop();
                        if text.ends_with('\r') {
                            text.pop();
                        }
                    }
                    Ok(payload(text))
                }
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => Err(not_found()),
                Err(err) => Err(io_error(&file, &err)),
            };
        }
        let mut all = self.read_file().await?;
        let value = match all.get_mut(PARAMETERS) {
            Some(Value::Object(parameters)) => parameters.remove(name),
            Some(_) => {
                return Err(Error::Local {
                    path: path.display().to_string(),
                    reason: format!("`{PARAMETERS}` is not an object of parameter names"),
                });
            }
            None => None,
        };
        match value {
            Some(Value::String(s)) => Ok(payload(s)),
            // A `StringList`, as the service returns it: comma-separated.
            Some(Value::Array(items)) => Ok(payload(
                items
                    .iter()
                    .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                    .collect::<Vec<_>>()
                    .join(","),
            )),
            Some(value) => Ok(payload(value.to_string())),
            None => Err(not_found()),
        }
    }

    /// The local file as a JSON object.
    async fn read_file(&self) -> Result<serde_json::Map<String, Value>, Error> {
        let path = &self.path;
        let text = Zeroizing::new(
            tokio::fs::read_to_string(path)
                .await
                .map_err(|err| io_error(path, &err))?,
        );
        serde_json::from_str(&text).map_err(|err| Error::Local {
            path: path.display().to_string(),
            reason: format!(
                "not a JSON object of secret names (line {}, column {})",
                err.line(),
                err.column()
            ),
        })
    }

    async fn fetch_secret(
        &self,
        request: &SecretRequest,
        vars: &Vars,
    ) -> Result<SecretPayload, Error> {
        let var = local_secret_var(&request.name);
        if let Some(value) = vars.get(&var) {
            tracing::debug!(secret = %request.name, var = %var, "local secret from the environment");
            return Ok(payload(value));
        }
        let path = &self.path;
        let metadata = match tokio::fs::metadata(path).await {
            Ok(metadata) => metadata,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(Error::Local {
                    path: path.display().to_string(),
                    reason: format!(
                        "it does not exist, and neither does the variable `{var}` (secret `{}`)",
                        request.name
                    ),
                });
            }
            Err(err) => return Err(io_error(path, &err)),
        };
        if metadata.is_dir() {
            return self.read_from_dir(request).await;
        }
        let mut all = self.read_file().await?;
        match all.remove(&request.name) {
            Some(Value::String(s)) => Ok(payload(s)),
            Some(value) => Ok(payload(value.to_string())),
            None => Err(Error::NotFound {
                item: Item::secret(&request.name),
                via: SourceKind::Local,
            }),
        }
    }

    async fn read_from_dir(&self, request: &SecretRequest) -> Result<SecretPayload, Error> {
        let file = self.path.join(format!("{}.json", request.name));
        if !is_relative_inside(&request.name) {
            return Err(Error::Local {
                path: self.path.display().to_string(),
                reason: format!(
                    "secret name `{}` is not a relative path inside it",
                    request.name
                ),
            });
        }
        match tokio::fs::read_to_string(&file).await {
            Ok(text) => Ok(payload(text)),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Err(Error::NotFound {
                item: Item::secret(&request.name),
                via: SourceKind::Local,
            }),
            Err(err) => Err(io_error(&file, &err)),
        }
    }
}

/// The environment variable the local source reads a secret from: the name upper-cased, with
/// every character other than a letter or digit made `_`, after `SECRETS_LOCAL_`.
///
/// ```
/// assert_eq!(
///     secrets_runtime::local_secret_var("dev/lambda/jay"),
///     "SECRETS_LOCAL_DEV_LAMBDA_JAY"
/// );
/// ```
#[must_use]
pub fn local_secret_var(secret: &str) -> String {
    let mut var = String::from("SECRETS_LOCAL_");
    var.extend(secret.chars().map(|c| {
        if c.is_ascii_alphanumeric() {
            c.to_ascii_uppercase()
        } else {
            '_'
        }
    }));
    var
}

/// The environment variable the local source reads a parameter from: the name without its
/// leading `/`, upper-cased, with every character other than a letter or digit made `_`,
/// after `SECRETS_LOCAL_PARAMETER_`.
///
/// ```
/// assert_eq!(
///     secrets_runtime::local_parameter_var("/app/dev/feature-flag"),
///     "SECRETS_LOCAL_PARAMETER_APP_DEV_FEATURE_FLAG"
/// );
/// ```
#[must_use]
pub fn local_parameter_var(parameter: &str) -> String {
    let mangled = local_secret_var(parameter.trim_start_matches('/'));
    mangled.replacen("SECRETS_LOCAL_", "SECRETS_LOCAL_PARAMETER_", 1)
}

/// Whether `name` is a relative path that stays inside the folder it is joined to.
fn is_relative_inside(name: &str) -> bool {
    Path::new(name)
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)))
}

fn payload(value: String) -> SecretPayload {
    SecretPayload {
        value: RawValue::String(Zeroizing::new(value)),
        version_id: None,
        via: SourceKind::Local,
    }
}

fn io_error(path: &Path, err: &std::io::Error) -> Error {
    Error::Local {
        path: path.display().to_string(),
        reason: err.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_var_names() {
        assert_eq!(
            local_secret_var("dev/lambda/jay"),
            "SECRETS_LOCAL_DEV_LAMBDA_JAY"
        );
        assert_eq!(local_secret_var("a-b.c+d"), "SECRETS_LOCAL_A_B_C_D");
    }
}
