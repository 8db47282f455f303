//! The one error type of this crate.
//!
//! Every message names the secret, the key or the variable at fault and what was expected. No
//! message ever contains a secret value: upstream texts that could echo one are not copied.

use std::fmt;
use std::time::Duration;

use crate::source::SourceKind;

/// Why a secret could not be loaded into a config struct.
///
/// The error is `Clone` so that every caller waiting on one shared load gets it.
///
/// ```
/// use secrets_runtime::Error;
///
/// let err = Error::NotFound { secret: "prd/lambda/jay".into(), via: secrets_runtime::SourceKind::Sdk };
/// assert_eq!(err.to_string(), "secret `prd/lambda/jay` was not found (via sdk)");
/// assert!(!err.is_transient());
/// ```
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The secret name template refers to an environment variable that is not set.
    #[error("environment variable `{var}` is not set; the secret name `{template}` needs it")]
    MissingVar {
        /// The variable that was looked up.
        var: String,
        /// The secret name template that holds the placeholder.
        template: String,
    },

    /// The secret does not exist (or the version asked for does not).
    #[error("secret `{secret}` was not found (via {via})")]
    NotFound {
        /// The resolved secret name.
        secret: String,
        /// Where it was looked up.
        via: SourceKind,
    },

    /// The caller's identity may not read the secret.
    #[error(
        "access to secret `{secret}` was denied (via {via}): {message}; allow it with this IAM \
         policy statement on the function's role: {}",
        policy_statement("secretsmanager:GetSecretValue", secret_resource(.secret))
    )]
    AccessDenied {
        /// The resolved secret name.
        secret: String,
        /// Where the denial came from.
        via: SourceKind,
        /// The service's explanation (names the action and resource, never a value).
        message: String,
    },

    /// Secrets Manager could not decrypt the secret with its KMS key (`DecryptionFailure`).
    #[error(
        "secret `{secret}` could not be decrypted (via {via}): {message}; with a customer managed \
         KMS key the role also needs: {}",
        policy_statement("kms:Decrypt", "arn:aws:kms:REGION:ACCOUNT:key/KEY_ID")
    )]
    Decryption {
        /// The resolved secret name.
        secret: String,
        /// Where the failure came from.
        via: SourceKind,
        /// The service's explanation.
        message: String,
    },

    /// One request took longer than its timeout, and no retry succeeded before the deadline.
    #[error("reading secret `{secret}` timed out (via {via}): no answer within {after:?}")]
    TimedOut {
        /// The resolved secret name.
        secret: String,
        /// Which source did not answer.
        via: SourceKind,
        /// The per-request timeout.
        after: Duration,
    },

    /// The extension or agent refused the request token (`X-Aws-Parameters-Secrets-Token`).
    #[error(
        "the secrets extension on port {port} rejected the request token for secret `{secret}`: \
         set AWS_SESSION_TOKEN (or AWS_TOKEN) to the token the extension expects"
    )]
    BadToken {
        /// The resolved secret name.
        secret: String,
        /// The extension's port on 127.0.0.1.
        port: u16,
    },

    /// The service throttled the request, even after retries.
    #[error("reading secret `{secret}` was throttled (via {via})")]
    Throttled {
        /// The resolved secret name.
        secret: String,
        /// Which source throttled.
        via: SourceKind,
    },

    /// The extension was reachable but not ready before the load deadline.
    #[error(
        "the secrets extension on port {port} was still not ready after {waited:?} \
         ({attempts} attempts) for secret `{secret}`"
    )]
    NotReady {
        /// The resolved secret name.
        secret: String,
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
        "could not reach {endpoint} for secret `{secret}` after {waited:?} ({attempts} attempts): {reason}"
    )]
    Unreachable {
        /// The resolved secret name.
        secret: String,
        /// What was being called (`127.0.0.1:2773`, `the AWS SDK`).
        endpoint: String,
        /// How long the load kept trying.
        waited: Duration,
        /// How many requests were made.
        attempts: u32,
        /// The last transport error.
        reason: String,
    },

    /// The service answered with an error this crate has no better variant for.
    #[error("reading secret `{secret}` failed (via {via}): {code}: {message}")]
    Service {
        /// The resolved secret name.
        secret: String,
        /// Which source answered.
        via: SourceKind,
        /// The error code (`InternalServiceError`, `HTTP 500`, ...).
        code: String,
        /// The service's message.
        message: String,
    },

    /// The source answered 200 but the body was not the expected `GetSecretValue` output.
    #[error("the response for secret `{secret}` (via {via}) is malformed: {reason}")]
    InvalidResponse {
        /// The resolved secret name.
        secret: String,
        /// Which source answered.
        via: SourceKind,
        /// What was wrong with it (never the body itself).
        reason: String,
    },

    /// The secret's value looks like JSON but does not parse.
    #[error("secret `{secret}` is not valid JSON: {category} at line {line}, column {column}")]
    InvalidJson {
        /// The resolved secret name.
        secret: String,
        /// 1-based line of the syntax error.
        line: usize,
        /// 1-based column of the syntax error.
        column: usize,
        /// The kind of problem (`syntax error`, `unexpected end of input`).
        category: &'static str,
    },

    /// The secret's value is not of the shape the struct reads (for example plain text where
    /// a JSON object with keys was expected).
    #[error("secret `{secret}` holds {found}, but {expected} was expected")]
    WrongShape {
        /// The resolved secret name.
        secret: String,
        /// What the struct needs (`a JSON object`).
        expected: &'static str,
        /// What the secret holds (`plain text`, `binary data`, `a JSON array`).
        found: &'static str,
    },

    /// One or more fields are missing or could not be decoded. All are listed at once.
    #[error("secret `{secret}`: {}", FieldList(.fields))]
    InvalidFields {
        /// The resolved secret name.
        secret: String,
        /// Every field at fault, in declaration order.
        fields: Vec<FieldError>,
    },

    /// The configuration of this crate (environment variables, provider settings) is wrong.
    #[error("secrets configuration: {0}")]
    Config(String),

    /// A load did not complete: it panicked, or its tokio runtime shut down under it. The next
    /// load tries again.
    #[error("{0}")]
    Aborted(String),

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
    /// ready or not reachable, and service-side failures. Not-found, access denied and decoding
    /// errors are permanent until someone changes the secret or the configuration.
    ///
    /// ```
    /// use secrets_runtime::{Error, SourceKind};
    /// let err = Error::Throttled { secret: "s".into(), via: SourceKind::Extension };
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
                | Error::Service { .. }
                | Error::Aborted(_)
        )
    }
}

impl Error {
    /// For [`Error::AccessDenied`] and [`Error::Decryption`]: the IAM policy statement that
    /// would allow the read, as JSON.
    ///
    /// ```
    /// use secrets_runtime::{Error, SourceKind};
    /// let err = Error::AccessDenied {
    ///     secret: "test/lambda/jay".into(),
    ///     via: SourceKind::Sdk,
    ///     message: "not authorized".into(),
    /// };
    /// assert_eq!(
    ///     err.policy_statement().unwrap(),
    ///     r#"{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "arn:aws:secretsmanager:*:*:secret:test/lambda/jay-*"}"#
    /// );
    /// ```
    #[must_use]
    pub fn policy_statement(&self) -> Option<String> {
        match self {
            Error::AccessDenied { secret, .. } => Some(policy_statement(
                "secretsmanager:GetSecretValue",
                secret_resource(secret),
            )),
            Error::Decryption { .. } => Some(policy_statement(
                "kms:Decrypt",
                "arn:aws:kms:REGION:ACCOUNT:key/KEY_ID",
            )),
            _ => None,
        }
    }
}

/// An IAM policy statement allowing `action` on `resource`.
fn policy_statement(action: &str, resource: impl fmt::Display) -> String {
    format!(r#"{{"Effect": "Allow", "Action": "{action}", "Resource": "{resource}"}}"#)
}

/// The resource ARN for a secret: itself if it is an ARN, else a pattern matching the name
/// (Secrets Manager appends six random characters to a secret's ARN).
fn secret_resource(secret: &str) -> String {
    if secret.starts_with("arn:") {
        secret.to_owned()
    } else {
        format!("arn:aws:secretsmanager:*:*:secret:{secret}-*")
    }
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
    /// The JSON key that was read.
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
    /// The key is not in the secret.
    Missing,
    /// The key is `null` and the field is not an `Option`.
    Null,
    /// The JSON value has a shape the type cannot take (an object for a `u16`, ...).
    WrongShape {
        /// The JSON kind found: `an object`, `an array`.
        found: &'static str,
    },
    /// The value did not parse; `reason` is the parser's message, withheld when it would
    /// repeat the value.
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
        let (key, expected) = (&self.key, self.expected);
        match &self.problem {
            FieldProblem::Missing => write!(f, "key `{key}` is missing (expected {expected})"),
            FieldProblem::Null => write!(f, "key `{key}` is null (expected {expected})"),
            FieldProblem::WrongShape { found } => {
                write!(f, "key `{key}` holds {found}, not a valid {expected}")
            }
            FieldProblem::Invalid { reason } => {
                write!(f, "key `{key}` is not a valid {expected} ({reason})")
            }
            FieldProblem::InvalidDefault { reason } => write!(
                f,
                "key `{key}` is missing and its default is not a valid {expected} ({reason})"
            ),
        }
    }
}

impl std::error::Error for FieldError {}

struct FieldList<'a>(&'a [FieldError]);

impl fmt::Display for FieldList<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, field) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            fmt::Display::fmt(field, f)?;
        }
        Ok(())
    }
}
