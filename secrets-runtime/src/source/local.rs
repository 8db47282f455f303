//! Local secrets for development, offline runs and users' own tests: no AWS at all.
//!
//! A secret named `dev/lambda/jay` is looked up, first match wins, in:
//! 1. the environment variable `SECRETS_LOCAL_DEV_LAMBDA_JAY` (the name upper-cased, every
//!    other character than a letter or digit made `_`), holding the secret string;
//! 2. the local path (`SECRETS_LOCAL_PATH`, default `secrets.local.json`): if it is a file, a
//!    JSON object whose keys are secret names and whose values are the secrets (an object, or a
//!    string for a plain-text secret); if it is a directory, the file `dev/lambda/jay.json` in it.

use std::path::{Path, PathBuf};

use secrecy::zeroize::Zeroizing;
use serde_json::Value;

use super::{SecretRequest, SourceKind};
use crate::Error;
use crate::document::{RawValue, SecretPayload};
use crate::vars::Vars;

/// The default local path, relative to the working directory.
pub(crate) const DEFAULT_PATH: &str = "secrets.local.json";

/// Reads secrets from environment variables and a JSON file or directory.
#[derive(Debug, Clone)]
pub(crate) struct LocalSource {
    pub(crate) path: PathBuf,
}

impl LocalSource {
    pub(crate) async fn fetch(
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
        let text = Zeroizing::new(
            tokio::fs::read_to_string(path)
                .await
                .map_err(|err| io_error(path, &err))?,
        );
        let mut all: serde_json::Map<String, Value> =
            serde_json::from_str(&text).map_err(|err| Error::Local {
                path: path.display().to_string(),
                reason: format!(
                    "not a JSON object of secret names (line {}, column {})",
                    err.line(),
                    err.column()
                ),
            })?;
        match all.remove(&request.name) {
            Some(Value::String(s)) => Ok(payload(s)),
            Some(value) => Ok(payload(value.to_string())),
            None => Err(Error::NotFound {
                secret: request.name.clone(),
                via: SourceKind::Local,
            }),
        }
    }

    async fn read_from_dir(&self, request: &SecretRequest) -> Result<SecretPayload, Error> {
        let relative = Path::new(&request.name);
        let escapes = relative
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)));
        let file = self.path.join(format!("{}.json", request.name));
        if escapes {
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
                secret: request.name.clone(),
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
