//! The Lambda Parameters and Secrets extension's HTTP API (also served by the AWS Secrets
//! Manager Agent) on `127.0.0.1`.
//!
//! `GET /secretsmanager/get?secretId=NAME` with the `X-Aws-Parameters-Secrets-Token` header.
//! At cold start the extension may refuse connections or answer `400 not ready`: those, 429s,
//! 5xx answers and time-outs are retried with backoff until the load deadline.

use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderValue, Request, StatusCode};
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use secrecy::zeroize::Zeroizing;
use serde_json::Value;

use super::{ErrorCode, SecretRequest, SourceKind, error_chain};
use crate::Error;
use crate::document::{RawValue, SecretPayload};
use crate::jitter;
use crate::vars::Vars;

/// The header that carries the token.
const TOKEN_HEADER: &str = "X-Aws-Parameters-Secrets-Token";
/// Where the token comes from, first set wins (as the agent reads it).
const TOKEN_VARS: [&str; 3] = [
    "AWS_TOKEN",
    "AWS_SESSION_TOKEN",
    "AWS_CONTAINER_AUTHORIZATION_TOKEN",
];
/// Secret names hold `/ + = @ . _ -`; everything but RFC 3986 unreserved bytes is encoded.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');
/// Responses larger than this are not secrets (Secrets Manager caps values at 64 KiB).
const MAX_BODY: usize = 1 << 20;
const FIRST_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_millis(250);

/// Settings of the extension source.
#[derive(Clone)]
pub(crate) struct ExtensionConfig {
    pub(crate) port: u16,
    pub(crate) token: Option<String>,
    pub(crate) request_timeout: Duration,
    pub(crate) deadline: Duration,
}

/// The token is never printed.
impl std::fmt::Debug for ExtensionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExtensionConfig")
            .field("port", &self.port)
            .field("token", &self.token.as_ref().map(|_| "[REDACTED]"))
            .field("request_timeout", &self.request_timeout)
            .field("deadline", &self.deadline)
            .finish()
    }
}

impl Default for ExtensionConfig {
    fn default() -> Self {
        Self {
            port: 2773,
            token: None,
            request_timeout: Duration::from_secs(3),
            deadline: Duration::from_secs(2),
        }
    }
}

/// A keep-alive HTTP client bound to the extension's port on loopback.
pub(crate) struct ExtensionSource {
    config: ExtensionConfig,
    client: Client<HttpConnector, Empty<Bytes>>,
}

/// What one attempt led to.
enum Attempt {
    Done(Result<SecretPayload, Error>),
    Retry(Retry),
}

/// Why an attempt may succeed if tried again.
enum Retry {
    NotReady,
    Throttled,
    Server { code: String, message: String },
    TimedOut,
    Transport(String),
}

impl ExtensionSource {
    pub(crate) fn new(config: ExtensionConfig) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(config.request_timeout));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .pool_max_idle_per_host(8)
            .build(connector);
        Self { config, client }
    }

    pub(crate) fn port(&self) -> u16 {
        self.config.port
    }

    /// How long a load retries, as configured.
    pub(crate) fn deadline(&self) -> Duration {
        self.config.deadline
    }

    /// Fetches one secret, retrying transient failures until `deadline` has passed since the
    /// first attempt (`Duration::ZERO`: a single attempt, plus one retry of a connection that
    /// closed under the request).
    ///
    /// A forced refresh asks for `refreshNow=true`; an extension that rejects the parameter
    /// (`400 unknown parameter`) is asked again without it.
    pub(crate) async fn fetch(
        &self,
        request: &SecretRequest,
        vars: &Vars,
        deadline: Duration,
    ) -> Result<SecretPayload, Error> {
        match self.fetch_with_retries(request, vars, deadline).await {
            Err(Error::Service { message, .. })
                if request.refresh_now && message.contains("refreshNow") =>
            {
                tracing::warn!(
                    secret = %request.name,
                    "the extension does not take refreshNow: its own cache may serve the old \
                     value until its TTL (SECRETS_MANAGER_TTL) passes"
                );
                let plain = SecretRequest {
                    refresh_now: false,
                    ..request.clone()
                };
                self.fetch_with_retries(&plain, vars, deadline).await
            }
            result => result,
        }
    }

    async fn fetch_with_retries(
        &self,
        request: &SecretRequest,
        vars: &Vars,
        deadline: Duration,
    ) -> Result<SecretPayload, Error> {
        let uri = self.uri(request);
        let token = self.token(vars).await?;
        let started = Instant::now();
        let mut backoff = FIRST_BACKOFF;
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            // A started request gets its full timeout; the deadline decides whether to retry.
            let timeout = self.config.request_timeout;
            let attempt = match tokio::time::timeout(
                timeout,
                self.attempt(&uri, token.as_ref(), &request.name),
            )
            .await
            {
                Ok(attempt) => attempt,
                Err(_) => Attempt::Retry(Retry::TimedOut),
            };
            let retry = match attempt {
                Attempt::Done(result) => return result,
                Attempt::Retry(retry) => retry,
            };
            // A kept-alive connection that the server closed as the request went out (the
            // agent closes each connection 61 s after accepting it) gets one immediate retry.
            if attempts == 1 && matches!(retry, Retry::Transport(_)) {
                tracing::debug!(secret = %request.name, reason = retry.describe(), "retrying at once");
                continue;
            }
            let pause = jitter::add_up_to_half(backoff);
            if started.elapsed() + pause >= deadline {
                return Err(self.give_up(request, retry, started.elapsed(), attempts));
            }
            tracing::debug!(
                secret = %request.name,
                attempt = attempts,
                reason = retry.describe(),
                "extension not available yet, retrying"
            );
            tokio::time::sleep(pause).await;
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    fn uri(&self, request: &SecretRequest) -> String {
        let mut uri = format!(
            "http://127.0.0.1:{}/secretsmanager/get?secretId={}",
            self.config.port,
            utf8_percent_encode(&request.name, QUERY_VALUE)
        );
        if let Some(stage) = request.version_stage {
            uri.push_str("&versionStage=");
            uri.extend(utf8_percent_encode(stage, QUERY_VALUE));
        }
        if let Some(id) = request.version_id {
            uri.push_str("&versionId=");
            uri.extend(utf8_percent_encode(id, QUERY_VALUE));
        }
        if request.refresh_now {
            uri.push_str("&refreshNow=true");
        }
        uri
    }

    /// The token: the configured one, or the first set of the agent's variables; a
    /// `file:///path` value is read from that file.
    async fn token(&self, vars: &Vars) -> Result<Option<HeaderValue>, Error> {
        let Some(raw) = self
            .config
            .token
            .clone()
            .or_else(|| vars.first_set(&TOKEN_VARS))
        else {
            return Ok(None);
        };
        let raw = Zeroizing::new(raw);
        let token = match raw.strip_prefix("file://") {
            Some(path) => {
                let read = tokio::fs::read_to_string(path);
                let text = match tokio::time::timeout(self.config.request_timeout, read).await {
                    Ok(Ok(text)) => Zeroizing::new(text),
                    Ok(Err(err)) => {
                        return Err(Error::Config(format!(
                            "could not read the extension token file `{path}`: {err}"
                        )));
                    }
                    Err(_) => {
                        return Err(Error::Config(format!(
                            "reading the extension token file `{path}` timed out"
                        )));
                    }
                };
                Zeroizing::new(text.trim().to_owned())
            }
            None => raw,
        };
        let mut value = HeaderValue::from_str(&token).map_err(|_| {
            Error::Config(
                "the extension token holds characters not allowed in an HTTP header".into(),
            )
        })?;
        value.set_sensitive(true);
        Ok(Some(value))
    }

    async fn attempt(&self, uri: &str, token: Option<&HeaderValue>, secret: &str) -> Attempt {
        let mut builder = Request::get(uri);
        if let Some(token) = token {
            builder = builder.header(TOKEN_HEADER, token.clone());
        }
        let request = match builder.body(Empty::new()) {
            Ok(request) => request,
            Err(err) => {
                return Attempt::Done(Err(Error::Config(format!(
                    "invalid extension request: {err}"
                ))));
            }
        };
        let response = match self.client.request(request).await {
            Ok(response) => response,
            Err(err) => return Attempt::Retry(Retry::Transport(error_chain(&err))),
        };
        let status = response.status();
        let body = match Limited::new(response.into_body(), MAX_BODY).collect().await {
            Ok(body) => Zeroizing::new(body.to_bytes().to_vec()),
            Err(err) if err.is::<http_body_util::LengthLimitError>() => {
                return Attempt::Done(Err(Error::InvalidResponse {
                    secret: secret.to_owned(),
                    via: SourceKind::Extension,
                    reason: format!("the body is larger than {MAX_BODY} bytes"),
                }));
            }
            Err(err) => {
                return Attempt::Retry(Retry::Transport(format!(
                    "reading the response failed: {err}"
                )));
            }
        };
        if status == StatusCode::OK {
            return Attempt::Done(parse_success(secret, &body));
        }
        self.classify_failure(status, &body, secret)
    }

    fn classify_failure(&self, status: StatusCode, body: &[u8], secret: &str) -> Attempt {
        let secret = secret.to_owned();
        let via = SourceKind::Extension;
        if let Some((code, message)) = aws_error(body) {
            return match ErrorCode::of(&code) {
                ErrorCode::Throttled => Attempt::Retry(Retry::Throttled),
                ErrorCode::ServerSide => Attempt::Retry(Retry::Server { code, message }),
                // Others (the agent's `ConnectionError` 502, `TimeoutError` 504, ...): the
                // status says whether trying again can help.
                ErrorCode::Other if status == StatusCode::TOO_MANY_REQUESTS => {
                    Attempt::Retry(Retry::Throttled)
                }
                ErrorCode::Other if status.is_server_error() => {
                    Attempt::Retry(Retry::Server { code, message })
                }
                kind => Attempt::Done(Err(kind.into_error(secret, via, code, message))),
            };
        }
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        match status {
            StatusCode::BAD_REQUEST if text.contains("not ready") => {
                Attempt::Retry(Retry::NotReady)
            }
            StatusCode::FORBIDDEN => Attempt::Done(Err(Error::BadToken {
                secret,
                port: self.config.port,
            })),
            StatusCode::NOT_FOUND => Attempt::Done(Err(Error::NotFound { secret, via })),
            StatusCode::TOO_MANY_REQUESTS => Attempt::Retry(Retry::Throttled),
            s if s.is_server_error() => Attempt::Retry(Retry::Server {
                code: format!("HTTP {}", s.as_u16()),
                message: short(text),
            }),
            s => Attempt::Done(Err(Error::Service {
                secret,
                via,
                code: format!("HTTP {}", s.as_u16()),
                message: short(text),
            })),
        }
    }

    fn give_up(
        &self,
        request: &SecretRequest,
        retry: Retry,
        waited: Duration,
        attempts: u32,
    ) -> Error {
        let secret = request.name.clone();
        let via = SourceKind::Extension;
        match retry {
            Retry::NotReady => Error::NotReady {
                secret,
                port: self.config.port,
                waited,
                attempts,
            },
            Retry::Throttled => Error::Throttled { secret, via },
            Retry::Server { code, message } => Error::Service {
                secret,
                via,
                code,
                message,
            },
            Retry::TimedOut => Error::TimedOut {
                secret,
                via,
                after: self.config.request_timeout,
            },
            Retry::Transport(reason) => Error::Unreachable {
                secret,
                endpoint: format!("the secrets extension at 127.0.0.1:{}", self.config.port),
                waited,
                attempts,
                reason,
            },
        }
    }
}

impl Retry {
    fn describe(&self) -> &'static str {
        match self {
            Retry::NotReady => "not ready",
            Retry::Throttled => "throttled",
            Retry::Server { .. } => "server error",
            Retry::TimedOut => "timed out",
            Retry::Transport(_) => "transport error",
        }
    }
}

/// Parses a 200 body: the `GetSecretValue` output as JSON.
fn parse_success(secret: &str, body: &[u8]) -> Result<SecretPayload, Error> {
    let invalid = |reason: &str| Error::InvalidResponse {
        secret: secret.to_owned(),
        via: SourceKind::Extension,
        reason: reason.to_owned(),
    };
    let mut json: Value = serde_json::from_slice(body).map_err(|err| {
        invalid(&format!(
            "the body is not JSON (line {}, column {})",
            err.line(),
            err.column()
        ))
    })?;
    let version_id = json
        .get("VersionId")
        .and_then(Value::as_str)
        .map(str::to_owned);
    // Moved out, so that the only copies are the zeroizing ones.
    let string = json.get_mut("SecretString").map(Value::take);
    let binary = json.get_mut("SecretBinary").map(Value::take);
    let value = match (string, binary) {
        (Some(Value::String(s)), _) => RawValue::String(Zeroizing::new(s)),
        (_, Some(Value::String(b64))) => {
            let b64 = Zeroizing::new(b64);
            RawValue::Binary(Zeroizing::new(
                base64::engine::general_purpose::STANDARD
                    .decode(b64.as_bytes())
                    .map_err(|_| invalid("`SecretBinary` is not valid base64"))?,
            ))
        }
        _ => {
            return Err(invalid(
                "neither `SecretString` nor `SecretBinary` is present",
            ));
        }
    };
    Ok(SecretPayload {
        value,
        version_id,
        via: SourceKind::Extension,
    })
}

/// The `__type` (without its namespace) and `message` of an AWS JSON error body.
fn aws_error(body: &[u8]) -> Option<(String, String)> {
    let json: Value = serde_json::from_slice(body).ok()?;
    let kind = json.get("__type")?.as_str()?;
    let code = kind.rsplit(['#', ':']).next().unwrap_or(kind).to_owned();
    let message = json
        .get("message")
        .or_else(|| json.get("Message"))
        .and_then(Value::as_str)
        .map_or_else(String::new, short);
    Some((code, message))
}

fn short(text: &str) -> String {
    const LIMIT: usize = 300;
    match text.char_indices().nth(LIMIT) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source() -> ExtensionSource {
        ExtensionSource::new(ExtensionConfig::default())
    }

    #[test]
    fn secret_names_are_percent_encoded() {
        let request = SecretRequest {
            name: "a&versionStage=AWSPREVIOUS/b+c=d@e?f#g h".into(),
            version_stage: Some("AWSCURRENT"),
            version_id: None,
            refresh_now: false,
        };
        assert_eq!(
            source().uri(&request),
            "http://127.0.0.1:2773/secretsmanager/get?secretId=a%26versionStage%3DAWSPREVIOUS%2Fb%2Bc%3Dd%40e%3Ff%23g%20h&versionStage=AWSCURRENT"
        );
    }

    #[test]
    fn aws_error_bodies_are_classified() {
        let body = br#"{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret."}"#;
        for status in [StatusCode::BAD_REQUEST, StatusCode::NOT_FOUND] {
            assert!(matches!(
                source().classify_failure(status, body, "s"),
                Attempt::Done(Err(Error::NotFound { .. }))
            ));
        }
        assert!(matches!(
            source().classify_failure(
                StatusCode::BAD_REQUEST,
                b"not ready to serve traffic, please wait",
                "s"
            ),
            Attempt::Retry(Retry::NotReady)
        ));
        assert!(matches!(
            source().classify_failure(StatusCode::FORBIDDEN, b"Bad Token", "s"),
            Attempt::Done(Err(Error::BadToken { .. }))
        ));
        let gateway = br#"{"__type":"ConnectionError","message":"upstream unreachable"}"#;
        assert!(matches!(
            source().classify_failure(StatusCode::BAD_GATEWAY, gateway, "s"),
            Attempt::Retry(Retry::Server { .. })
        ));
    }

    #[test]
    fn success_bodies_parse_string_and_binary() {
        let p = parse_success(
            "s",
            br#"{"Name":"s","SecretString":"{\"a\":1}","VersionId":"v1"}"#,
        )
        .unwrap();
        assert!(matches!(&p.value, RawValue::String(s) if s.as_str() == r#"{"a":1}"#));
        assert_eq!(p.version_id.as_deref(), Some("v1"));
        let p = parse_success("s", br#"{"SecretBinary":"AAEC"}"#).unwrap();
        assert!(matches!(&p.value, RawValue::Binary(b) if b.as_slice() == [0, 1, 2]));
        assert!(matches!(
            parse_success("s", b"<html>"),
            Err(Error::InvalidResponse { .. })
        ));
    }
}
