//! Where secrets come from: the extension's HTTP API, the AWS SDK, or local files.

use std::fmt;
use std::str::FromStr;

use crate::{Error, Item};

pub(crate) mod extension;
pub(crate) mod local;
#[cfg(feature = "sdk")]
pub(crate) mod sdk;
#[cfg(feature = "ssm")]
pub(crate) mod ssm;

/// Which source a [`Provider`](crate::Provider) reads from. Chosen at run time with the
/// `SECRETS_SOURCE` environment variable (`auto`, `extension`, `sdk` or `local`).
///
/// ```
/// use secrets_runtime::Source;
/// assert_eq!("sdk".parse::<Source>().unwrap(), Source::Sdk);
/// assert_eq!(Source::default(), Source::Auto);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Source {
    /// The extension when it answers, otherwise the SDK (with the `sdk` feature). On Lambda an
    /// extension that answers "not ready" gets the deadline to become ready; elsewhere one
    /// attempt, and only on a port the user chose (`PARAMETERS_SECRETS_EXTENSION_HTTP_PORT` or
    /// the builder's). With the `sdk` feature, a port nobody listens on goes to the SDK at once.
    #[default]
    Auto,
    /// Only the Lambda Parameters and Secrets extension (or the Secrets Manager Agent) on
    /// `127.0.0.1`.
    Extension,
    /// Only the AWS SDK (`GetSecretValue`). Needs the `sdk` feature.
    Sdk,
    /// Only local JSON files and environment variables: no AWS at all.
    Local,
}

impl FromStr for Source {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Error> {
        match s.trim().to_ascii_lowercase().as_str() {
            "" | "auto" => Ok(Source::Auto),
            "extension" | "agent" => Ok(Source::Extension),
            "sdk" => Ok(Source::Sdk),
            "local" => Ok(Source::Local),
            other => Err(Error::Config(format!(
                "SECRETS_SOURCE is `{other}`; expected `auto`, `extension`, `sdk` or `local`"
            ))),
        }
    }
}

/// The source that actually served a value.
///
/// ```
/// assert_eq!(secrets_runtime::SourceKind::Extension.to_string(), "extension");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SourceKind {
    /// The extension or agent on 127.0.0.1.
    Extension,
    /// The AWS SDK.
    Sdk,
    /// Local files or environment variables.
    Local,
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SourceKind::Extension => "extension",
            SourceKind::Sdk => "sdk",
            SourceKind::Local => "local",
        })
    }
}

/// One secret or parameter to fetch.
#[derive(Debug, Clone)]
pub(crate) enum Request {
    Secret(SecretRequest),
    /// A parameter by resolved name (with an optional `:version` or `:label` selector),
    /// always decrypted.
    Parameter(String),
}

impl Request {
    pub(crate) fn item(&self) -> Item {
        match self {
            Request::Secret(secret) => Item::Secret(secret.name.clone()),
            Request::Parameter(name) => Item::Parameter(name.clone()),
        }
    }

    /// Whether both ask for the same value (forced or not).
    pub(crate) fn same_item(&self, other: &Request) -> bool {
        match (self, other) {
            (Request::Secret(a), Request::Secret(b)) => {
                a.name == b.name
                    && a.version_stage == b.version_stage
                    && a.version_id == b.version_id
            }
            (Request::Parameter(a), Request::Parameter(b)) => a == b,
            _ => false,
        }
    }

    /// Whether it asks the extension to bypass its cache.
    pub(crate) fn is_forced(&self) -> bool {
        matches!(self, Request::Secret(secret) if secret.refresh_now)
    }
}

/// One secret to fetch: its resolved name and, optionally, the version.
#[derive(Debug, Clone)]
pub(crate) struct SecretRequest {
    pub(crate) name: String,
    pub(crate) version_stage: Option<&'static str>,
    pub(crate) version_id: Option<&'static str>,
    /// A forced refresh: ask the extension to bypass its own cache.
    pub(crate) refresh_now: bool,
}

/// What an AWS error code (`__type` from the extension, the service code from the SDK) means
/// for the caller. One table, so that both sources give the same [`Error`] variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ErrorCode {
    NotFound,
    AccessDenied,
    Decryption,
    Throttled,
    /// The service failed; trying again may help.
    ServerSide,
    /// Anything else: reported as [`Error::Service`].
    Other,
}

impl ErrorCode {
    pub(crate) fn of(code: &str) -> Self {
        match code {
            "ResourceNotFoundException" | "ParameterNotFound" | "ParameterVersionNotFound" => {
                Self::NotFound
            }
            "AccessDeniedException" | "AccessDenied" => Self::AccessDenied,
            "DecryptionFailure" | "InvalidKeyId" => Self::Decryption,
            "ThrottlingException" | "TooManyRequestsException" | "Throttling" => Self::Throttled,
            "InternalServiceError"
            | "InternalServerError"
            | "InternalFailure"
            | "ServiceUnavailable" => Self::ServerSide,
            _ => Self::Other,
        }
    }

    /// The error for a final (not retried) answer with this code (and HTTP status, if known).
    pub(crate) fn into_error(
        self,
        item: Item,
        via: SourceKind,
        status: Option<u16>,
        code: String,
        message: String,
    ) -> Error {
        match self {
            Self::NotFound => Error::NotFound { item, via },
            Self::AccessDenied => Error::AccessDenied { item, via, message },
            Self::Decryption => Error::Decryption { item, via, message },
            Self::Throttled => Error::Throttled { item, via },
            Self::ServerSide | Self::Other => Error::Service {
                item,
                via,
                status,
                code,
                message,
            },
        }
    }
}

/// An error and all its causes, `outer: inner: innermost`, for transport failures (whose
/// texts name hosts and reasons, never a secret value).
pub(crate) fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
