//! The one error type of this crate.
//!
//! Every message names the secret, the key or the variable at fault and what was expected. No
//! message ever contains a secret value: upstream texts that could echo one are not copied.
//! A transport error keeps the error it came from as its cause ([`std::error::Error::source`]).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::iam::{Scope, Statement};
use crate::item::{Item, SourceKind};

/// Why a secret could not be loaded into a config struct.
///
/// The error is `Clone` so that every caller waiting on one shared load gets it.
///
/// ```
/// use secrets_runtime::{Error, Item};
///
/// let err = Error::NotFound { item: Item::secret("prd/lambda/jay"), via: secrets_runtime::SourceKind::Sdk };
/// assert_eq!(err.to_string(), "secret `prd/lambda/jay` was not found (via sdk)");
/// assert!(!err.is_transient());
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A secret or parameter name template refers to an environment variable that is not set.
    #[error("environment variable `{var}` is not set; the name `{template}` needs it")]
    MissingVar {
        /// The variable that was looked up.
        var: String,
        /// The name template that holds the placeholder.
        template: String,
    },

    /// The secret does not exist (or the version asked for does not).
    #[error("{item} was not found (via {via})")]
    NotFound {
        /// The secret or parameter.
        item: Item,
        /// Where it was looked up.
        via: SourceKind,
    },

    /// The caller's identity may not read the secret.
    #[error(
        "access to {item} was denied (via {via}): {message}; allow it with this IAM policy \
         statement on the function's role: {}",
        access_statement(.item)
    )]
    AccessDenied {
        /// The secret or parameter.
        item: Item,
        /// Where the denial came from.
        via: SourceKind,
        /// The service's explanation (names the action and resource, never a value).
        message: String,
    },

    /// The secret or `SecureString` parameter could not be decrypted with its KMS key
    /// (`DecryptionFailure`, `InvalidKeyId`).
    #[error(
        "{item} could not be decrypted (via {via}): {message}; with a customer managed \
         KMS key the role also needs: {}",
        decrypt_statement()
    )]
    Decryption {
        /// The secret or parameter.
        item: Item,
        /// Where the failure came from.
        via: SourceKind,
        /// The service's explanation.
        message: String,
    },

    /// One request took longer than its timeout, and no retry succeeded before the deadline.
    #[error("reading {item} timed out (via {via}): no answer within {after:?}")]
    TimedOut {
        /// The secret or parameter.
        item: Item,
        /// Which source did not answer.
        via: SourceKind,
        /// The per-request timeout.
        after: Duration,
    },

    /// The extension or agent refused the request token (`X-Aws-Parameters-Secrets-Token`).
    #[error(
        "the secrets extension on port {port} rejected the request token for {item}: \
         set AWS_SESSION_TOKEN (or AWS_TOKEN) to the token the extension expects"
    )]
    BadToken {
        /// The secret or parameter.
        item: Item,
        /// The extension's port on 127.0.0.1.
        port: u16,
    },

    /// The service throttled the request, even after retries.
    #[error("reading {item} was throttled (via {via})")]
    Throttled {
        /// The secret or parameter.
        item: Item,
        /// Which source throttled.
        via: SourceKind,
    },

    /// The extension was reachable but not ready before the load deadline.
    #[error(
        "the secrets extension on port {port} was still not ready after {waited:?} \
         ({attempts} attempts) for {item}"
    )]
    NotReady {
        /// The secret or parameter.
        item: Item,
        /// The extension's port on 127.0.0.1.
        port: u16,
        /// How long the load kept trying.
        waited: Duration,
        /// How many requests were made.
        attempts: u32,
    },

    /// The source could not be reached (connection refused, reset or timed out) before the
    /// load deadline.
    #[error(
        "could not reach {endpoint} for {item} after {waited:?} ({attempts} attempts): {reason}"
    )]
    Unreachable {
        /// The secret or parameter.
        item: Item,
        /// What was being called (`127.0.0.1:2773`, `the AWS SDK`).
        endpoint: String,
        /// How long the load kept trying.
        waited: Duration,
        /// How many requests were made.
        attempts: u32,
        /// The last transport error, with its causes (`outer: inner: innermost`).
        reason: String,
        /// The last transport error itself, when there is one: what
        /// [`source()`](std::error::Error::source) returns. Its text is already in `reason`.
        #[source]
        cause: Option<Arc<dyn std::error::Error + Send + Sync>>,
    },

    /// The service answered with an error this crate has no better variant for.
    #[error("reading {item} failed (via {via}): {code}: {message}")]
    Service {
        /// The secret or parameter.
        item: Item,
        /// Which source answered.
        via: SourceKind,
        /// The HTTP status of the answer, when known (not for an item of a batch answer).
        status: Option<u16>,
        /// The error code (`InternalServiceError`, `HTTP 500`, ...).
        code: String,
        /// The service's message.
        message: String,
    },

    /// The source answered, but not with what it documents (a 200 body that is not the
    /// `GetSecretValue` or `GetParameter` output, a batch answer without the item).
    #[error("the response for {item} (via {via}) is malformed: {reason}")]
    InvalidResponse {
        /// The secret or parameter.
        item: Item,
        /// Which source answered.
        via: SourceKind,
        /// What was wrong with it (never the body itself).
        reason: String,
        /// The error that reading the answer ended with, when there is one (the AWS SDK's):
        /// what [`source()`](std::error::Error::source) returns. Its text is already in
        /// `reason`.
        #[source]
        cause: Option<Arc<dyn std::error::Error + Send + Sync>>,
    },

    /// The secret's value looks like JSON but does not parse.
    #[error("{item} is not valid JSON: {category} at line {line}, column {column}")]
    InvalidJson {
        /// The secret or parameter.
        item: Item,
        /// 1-based line of the syntax error.
        line: usize,
        /// 1-based column of the syntax error.
        column: usize,
        /// The kind of problem (`syntax error`, `unexpected end of input`).
        category: &'static str,
    },

    /// The secret's value is not of the shape the struct reads (for example plain text where
    /// a JSON object with keys was expected).
    #[error("{item} holds {found}, but {expected} was expected")]
    WrongShape {
        /// The secret or parameter.
        item: Item,
        /// What the struct needs (`a JSON object`).
        expected: &'static str,
        /// What the secret holds (`plain text`, `binary data`, `a JSON array`).
        found: &'static str,
    },

    /// One or more fields are missing or could not be decoded. All are listed at once.
    #[error("{item}: {}", List(.fields))]
    InvalidFields {
        /// The secret or parameter.
        item: Item,
        /// Every field at fault, in declaration order.
        fields: Vec<FieldError>,
    },

    /// Several of a struct's secrets or parameters failed, each for its own reason: all are
    /// listed, so that one deploy can fix them all.
    #[error("{} errors: {}", .0.len(), List(.0))]
    Several(Vec<Error>),

    /// The configuration of this crate (environment variables, provider settings) is wrong.
    #[error("secrets configuration: {0}")]
    Config(String),

    /// A load did not complete: it panicked, its tokio runtime shut down under it, or the value
    /// it fetched was dropped because callers had given up on its fetch (its runtime was not
    /// driven). The next load tries again (after a panic, once the backoff that follows any
    /// failure is over). Only that: a load that fails for another reason, or past `max_stale`,
    /// returns that failure itself.
    #[error("{0}")]
    Aborted(String),

    /// A bug in this crate (or in the code its derive generated): something it relies on did
    /// not hold, say a source a field reads that the load did not fetch. Not transient: the
    /// same load would meet the same bug. Please report it, with the message.
    #[error("internal error: {0} (a bug in secrets-runtime; please report it)")]
    Internal(String),

    /// Reading a local secret file failed.
    #[error("could not read local secrets from `{path}`: {reason}")]
    Local {
        /// The file or directory.
        path: String,
        /// The I/O or parse problem (never file content).
        reason: String,
    },
}

impl Error {
    /// Whether trying again later may succeed: throttling, time-outs, an extension that is not
    /// ready or not reachable, service-side failures, and loads that did not complete
    /// ([`Error::Aborted`]). Not-found, access denied, decoding, configuration and internal
    /// errors are permanent until someone changes the secret, the configuration or the code.
    ///
    /// ```
    /// use secrets_runtime::{Error, Item, SourceKind};
    /// let err = Error::Throttled { item: Item::secret("s"), via: SourceKind::Extension };
    /// assert!(err.is_transient());
    /// ```
    #[must_use]
    pub fn is_transient(&self) -> bool {
        matches!(
            self,
            Error::Throttled { .. }
                | Error::NotReady { .. }
                | Error::Unreachable { .. }
                | Error::TimedOut { .. }
                | Error::Aborted(_)
        ) || matches!(self, Error::Service { status, code, .. } if service_failed(*status, code))
            || matches!(self, Error::Several(errors) if errors.iter().all(Error::is_transient))
    }

    /// One error for a list: itself when there is one, [`Error::Several`] otherwise.
    pub(crate) fn from_list(mut errors: Vec<Error>) -> Option<Error> {
        match errors.len() {
            0 => None,
            1 => errors.pop(),
            _ => Some(Error::Several(errors)),
        }
    }
}

impl Error {
    /// For [`Error::AccessDenied`] and [`Error::Decryption`]: the IAM policy statement that
    /// would allow the read, as JSON.
    ///
    /// ```
    /// use secrets_runtime::{Error, Item, SourceKind};
    /// let err = Error::AccessDenied {
    ///     item: Item::secret("test/lambda/jay"),
    ///     via: SourceKind::Sdk,
    ///     message: "not authorized".into(),
    /// };
    /// assert_eq!(
    ///     err.policy_statement().unwrap(),
    ///     r#"{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "arn:aws:secretsmanager:*:*:secret:test/lambda/jay-??????"}"#
    /// );
    /// ```
    #[must_use]
    pub fn policy_statement(&self) -> Option<String> {
        match self {
            Error::AccessDenied { item, .. } => Some(access_statement(item).to_string()),
            Error::Decryption { .. } => Some(decrypt_statement().to_string()),
            _ => None,
        }
    }
}

/// The statement allowing the read of `item`, in any region and account (the deploy tools'
/// policy document names them: `deploy::policy`).
fn access_statement(item: &Item) -> Statement {
    Statement::reading(item, Scope::ANY)
}

/// The statement allowing `kms:Decrypt` on a customer managed key, not known here.
fn decrypt_statement() -> Statement {
    Statement::decrypt("KEY_ID", Scope::ANY)
}

/// One field that could not be read from a secret.
///
/// ```
/// use secrets_runtime::{Error, FieldProblem, FromSecret, Provider, Source};
///
/// #[derive(Debug, FromSecret)]
/// #[secret(name = "app")]
/// struct App {
///     port: u16,
/// }
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let provider = Provider::builder().source(Source::Local).var("SECRETS_LOCAL_APP", "{}").build();
/// let Err(Error::InvalidFields { fields, .. }) = App::fetch(&provider).await else { panic!() };
/// assert_eq!((fields[0].key.as_str(), &fields[0].problem), ("port", &FieldProblem::Missing));
/// assert_eq!(fields[0].to_string(), "key `port` is missing (expected u16)");
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FieldError {
    /// The secret or parameter it was read from.
    pub item: Item,
    /// The JSON key that was read; empty for a field that reads the whole value (`whole`, or a
    /// `parameter` without `key`).
    pub key: String,
    /// The Rust type the field needs, as written in the struct.
    pub expected: &'static str,
    /// What went wrong.
    pub problem: FieldProblem,
}

/// What went wrong with one field. Never holds the value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FieldProblem {
    /// The key is not in the secret (or the parameter does not exist).
    Missing,
    /// The key is `null` and the field is not an `Option`.
    Null,
    /// The JSON value has a shape the type cannot take (an object for a `u16`, ...).
    WrongShape {
        /// The JSON kind found: `an object`, `an array`.
        found: &'static str,
    },
    /// The value did not parse; `reason` is the parser's message for std types, durations and
    /// `SecretValue` impls, and says the message was withheld for any other parser.
    Invalid {
        /// The parser's message.
        reason: String,
    },
    /// The key is missing and the `default = "..."` literal written in the code does not
    /// decode as the field's type.
    InvalidDefault {
        /// The parser's message.
        reason: String,
    },
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let expected = self.expected;
        let key = if self.key.is_empty() {
            "the value".to_owned()
        } else {
            format!("key `{}`", self.key)
        };
        match &self.problem {
            FieldProblem::Missing => write!(f, "{key} is missing (expected {expected})"),
            FieldProblem::Null => write!(f, "{key} is null (expected {expected})"),
            FieldProblem::WrongShape { found } => {
                write!(f, "{key} holds {found}, not a valid {expected}")
            }
            FieldProblem::Invalid { reason } => {
                write!(f, "{key} is not a valid {expected} ({reason})")
            }
            FieldProblem::InvalidDefault { reason } => write!(
                f,
                "{key} is missing and its default is not a valid {expected} ({reason})"
            ),
        }
    }
}

impl std::error::Error for FieldError {}

/// Displays a list of errors separated by `; `.
struct List<'a, T>(&'a [T]);

impl<T: fmt::Display> fmt::Display for List<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, item) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            fmt::Display::fmt(item, f)?;
        }
        Ok(())
    }
}

/// A transport error kept as the cause of an [`Error`]: shared, so that the error stays
/// `Clone`.
pub(crate) type Cause = Arc<dyn std::error::Error + Send + Sync>;

/// Whether a service error says the service failed (trying again may help): a 5xx status or a
/// server-side error code (`InternalServiceError`, whatever its status). Other 4xx are final.
fn service_failed(status: Option<u16>, code: &str) -> bool {
    status.is_some_and(|status| status >= 500) || ErrorCode::of(code) == ErrorCode::ServerSide
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

#[cfg(test)]
mod tests {
    use super::*;

    fn service(status: Option<u16>, code: &str, item: Item, via: SourceKind) -> Error {
        Error::Service {
            item,
            via,
            status,
            code: code.into(),
            message: String::new(),
        }
    }

    #[test]
    fn only_failures_of_the_service_are_transient() {
        let secret = || Item::secret("s");
        for (status, code, transient) in [
            (Some(400), "InvalidRequestException", false),
            (Some(400), "ValidationException", false),
            (Some(404), "HTTP 404", false),
            (Some(500), "InternalServiceError", true),
            (Some(503), "HTTP 503", true),
            (Some(502), "ConnectionError", true),
            (None, "InternalServiceError", true),
            (Some(400), "InternalServiceError", true),
            (None, "InvalidRequestException", false),
        ] {
            let err = service(status, code, secret(), SourceKind::Sdk);
            assert_eq!(err.is_transient(), transient, "{status:?} {code}");
        }
    }

    #[test]
    fn parameter_statements_name_the_parameter_without_its_selector() {
        let statement = |name: &str| {
            Error::AccessDenied {
                item: Item::parameter(name),
                via: SourceKind::Extension,
                message: String::new(),
            }
            .policy_statement()
            .unwrap()
        };
        let expect = |resource: &str| {
            format!(
                r#"{{"Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:GetParameters"], "Resource": "{resource}"}}"#
            )
        };
        assert_eq!(
            statement("/app/x:3"),
            expect("arn:aws:ssm:*:*:parameter/app/x")
        );
        assert_eq!(
            statement("plain"),
            expect("arn:aws:ssm:*:*:parameter/plain")
        );
        assert_eq!(
            statement("arn:aws:ssm:eu-west-1:1:parameter/app/x:live"),
            expect("arn:aws:ssm:eu-west-1:1:parameter/app/x")
        );
    }
}
