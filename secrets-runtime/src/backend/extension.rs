//! The Lambda Parameters and Secrets extension's HTTP API (also served by the AWS Secrets
//! Manager Agent) on `127.0.0.1`.
//!
//! `GET /secretsmanager/get?secretId=NAME` and `GET /systemsmanager/parameters/get?name=NAME
//! &withDecryption=true`, with the `X-Aws-Parameters-Secrets-Token` header.
//! At cold start the extension may refuse connections or answer `400 not ready`: those, 429s,
//! 5xx answers and time-outs are retried with backoff until the load deadline.

use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderValue, StatusCode};
use http_body_util::{BodyExt as _, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use secrecy::zeroize::Zeroizing;
use serde_json::Value;

use super::{Request, SecretRequest, transport_error};
use crate::clock::{self, Deadline};
use crate::document::{RawValue, SecretPayload};
use crate::error::{Cause, ErrorCode};
use crate::jitter;
use crate::vars::Vars;
use crate::{Error, Item, SourceKind};

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
    /// How many requests this source sends at once, across loads.
    pub(crate) max_connections: usize,
    /// The port was set by the user (the builder or `PARAMETERS_SECRETS_EXTENSION_HTTP_PORT`),
    /// not taken by default: off Lambda, auto mode calls only a port the user chose.
    pub(crate) port_chosen: bool,
}

/// The token is never printed.
impl std::fmt::Debug for ExtensionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExtensionConfig")
            .field("port", &self.port)
            .field("token", &self.token.as_ref().map(|_| "[REDACTED]"))
            .field("request_timeout", &self.request_timeout)
            .field("deadline", &self.deadline)
            .field("max_connections", &self.max_connections)
            .field("port_chosen", &self.port_chosen)
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
            max_connections: 3,
            port_chosen: false,
        }
    }
}

/// A keep-alive HTTP client bound to the extension's port on loopback.
pub(crate) struct ExtensionSource {
    config: ExtensionConfig,
    client: Client<HttpConnector, Empty<Bytes>>,
    /// The extension's connection limit, shared by every load through this source.
    connections: tokio::sync::Semaphore,
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
    Server {
        status: u16,
        code: String,
        message: String,
    },
    TimedOut,
    /// Nothing accepted the connection (refused, or the connect timed out): the error's text
    /// with its causes, and the error.
    Refused(String, Cause),
    /// The connection broke (reset, closed before the answer, a body cut short).
    Transport(String, Cause),
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
        let connections = tokio::sync::Semaphore::new(config.max_connections);
        Self {
            config,
            client,
            connections,
        }
    }

    pub(crate) fn port(&self) -> u16 {
        self.config.port
    }

    /// Whether the user chose the port (see [`ExtensionConfig::port_chosen`]).
    pub(crate) fn port_chosen(&self) -> bool {
        self.config.port_chosen
    }

    /// Waits for one of the extension's connections (at most `max_connections` requests are
    /// under way at once, across every load through this source).
    async fn connection(&self) -> Option<tokio::sync::SemaphorePermit<'_>> {
        // Never closed, so acquiring only waits.
        self.connections.acquire().await.ok()
    }

    /// How long one request may take.
    pub(crate) fn request_timeout(&self) -> Duration {
        self.config.request_timeout
    }

    /// How long a load retries, as configured.
    pub(crate) fn deadline(&self) -> Duration {
        self.config.deadline
    }

    /// Fetches one secret or parameter, retrying transient failures until `deadline` (one
    /// for every source of a load, so that sources waiting for a connection do not extend it;
    /// its last try is made at the deadline). With `wait_for_listener` false, a port that
    /// refuses connections is given up on at once: in auto mode with the SDK to fall back on,
    /// nothing listening means there is no extension (a connection that breaks is retried).
    ///
    /// A forced refresh asks for `refreshNow=true`; an extension that rejects the parameter
    /// (`400 unknown parameter`) is asked again without it.
    pub(crate) async fn fetch(
        &self,
        request: &Request,
        token: Option<&HeaderValue>,
        deadline: &Deadline,
        wait_for_listener: bool,
    ) -> Result<SecretPayload, Error> {
        match (
            self.fetch_with_retries(request, token, deadline, wait_for_listener)
                .await,
            request,
        ) {
            (Err(Error::Service { message, .. }), Request::Secret(secret))
                if secret.refresh_now && message.contains("refreshNow") =>
            {
                tracing::warn!(
                    secret = %secret.name,
                    "the extension does not take refreshNow: its own cache may serve the old \
                     value until its TTL (SECRETS_MANAGER_TTL) passes"
                );
                let plain = Request::Secret(SecretRequest {
                    refresh_now: false,
                    ..secret.clone()
                });
                self.fetch_with_retries(&plain, token, deadline, wait_for_listener)
                    .await
            }
            (result, _) => result,
        }
    }

    async fn fetch_with_retries(
        &self,
        request: &Request,
        token: Option<&HeaderValue>,
        deadline: &Deadline,
        wait_for_listener: bool,
    ) -> Result<SecretPayload, Error> {
        let item = request.item();
        let uri = self.uri(request);
        let mut backoff = FIRST_BACKOFF;
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            // A started request gets its full timeout (not counting a freeze of the process);
            // the deadline decides whether to retry.
            let timeout = self.config.request_timeout;
            let attempt = {
                // One of the extension's connections for this attempt only: not held while
                // pausing between retries, so that one struct's retries do not starve others.
                let _connection = self.connection().await;
                deadline
                    .timeout(timeout, self.attempt(&uri, token, &item))
                    .await
                    .unwrap_or(Attempt::Retry(Retry::TimedOut))
            };
            let retry = match attempt {
                Attempt::Done(result) => return result,
                Attempt::Retry(retry) => retry,
            };
            // A kept-alive connection that the server closed as the request went out (the
            // agent closes each connection 61 s after accepting it) gets one immediate retry.
            if attempts == 1 && matches!(retry, Retry::Transport(..)) {
                tracing::debug!(%item, reason = retry.describe(), "retrying at once");
                continue;
            }
            // Nothing listening: in auto mode with the SDK there is no extension to wait for.
            if (matches!(retry, Retry::Refused(..)) && !wait_for_listener)
                || !deadline.pause(jitter::add_up_to_half(backoff)).await
            {
                // Waited since the load's deadline was set, not since this request started
                // (it may have waited for a connection): the deadline is what ran out.
                return Err(self.give_up(item, retry, deadline.elapsed(), attempts));
            }
            tracing::debug!(
                %item,
                attempt = attempts,
                reason = retry.describe(),
                "extension not available yet, retrying"
            );
            backoff = (backoff * 2).min(MAX_BACKOFF);
        }
    }

    fn uri(&self, request: &Request) -> String {
        let request = match request {
            Request::Secret(secret) => secret,
            Request::Parameter(name) => {
                return format!(
                    "http://127.0.0.1:{}/systemsmanager/parameters/get?name={}&withDecryption=true",
                    self.config.port,
                    utf8_percent_encode(name, QUERY_VALUE)
                );
            }
        };
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
    /// `file:///path` value is read from that file (once per load).
    pub(crate) async fn token(&self, vars: &Vars) -> Result<Option<HeaderValue>, Error> {
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
                let text = match clock::timeout(self.config.request_timeout, read).await {
                    Some(Ok(text)) => Zeroizing::new(text),
                    Some(Err(err)) => {
                        return Err(Error::Config(format!(
                            "could not read the extension token file `{path}`: {err}"
                        )));
                    }
                    None => {
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

    async fn attempt(&self, uri: &str, token: Option<&HeaderValue>, item: &Item) -> Attempt {
        let mut builder = http::Request::get(uri);
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
            Err(err) if err.is_connect() => {
                let (reason, cause) = transport_error(err);
                return Attempt::Retry(Retry::Refused(reason, cause));
            }
            Err(err) => {
                let (reason, cause) = transport_error(err);
                return Attempt::Retry(Retry::Transport(reason, cause));
            }
        };
        let status = response.status();
        let body = match Limited::new(response.into_body(), MAX_BODY).collect().await {
            Ok(body) => Zeroizing::new(body.to_bytes().to_vec()),
            Err(err) if err.is::<http_body_util::LengthLimitError>() => {
                return Attempt::Done(Err(Error::InvalidResponse {
                    item: item.clone(),
                    via: SourceKind::Extension,
                    reason: format!("the body is larger than {MAX_BODY} bytes"),
                    cause: None,
                }));
            }
            Err(err) => {
                let reason = format!("reading the response failed: {err}");
                return Attempt::Retry(Retry::Transport(reason, Cause::from(err)));
            }
        };
        if status == StatusCode::OK {
            return Attempt::Done(match item {
                Item::Secret(_) => parse_secret(item, &body),
                Item::Parameter(_) => parse_parameter(item, &body),
            });
        }
        self.classify_failure(status, &body, item)
    }

    fn classify_failure(&self, status: StatusCode, body: &[u8], item: &Item) -> Attempt {
        let item = item.clone();
        let via = SourceKind::Extension;
        if let Some((code, message)) = aws_error(body) {
            return match ErrorCode::of(&code) {
                ErrorCode::Throttled => Attempt::Retry(Retry::Throttled),
                ErrorCode::ServerSide => Attempt::Retry(Retry::Server {
                    status: status.as_u16(),
                    code,
                    message,
                }),
                // Others (the agent's `ConnectionError` 502, `TimeoutError` 504, ...): the
                // status says whether trying again can help.
                ErrorCode::Other if status == StatusCode::TOO_MANY_REQUESTS => {
                    Attempt::Retry(Retry::Throttled)
                }
                ErrorCode::Other if status.is_server_error() => Attempt::Retry(Retry::Server {
                    status: status.as_u16(),
                    code,
                    message,
                }),
                kind => Attempt::Done(Err(kind.into_error(
                    item,
                    via,
                    Some(status.as_u16()),
                    code,
                    message,
                ))),
            };
        }
        let text = String::from_utf8_lossy(body);
        let text = text.trim();
        match status {
            StatusCode::BAD_REQUEST if text.contains("not ready") => {
                Attempt::Retry(Retry::NotReady)
            }
            StatusCode::FORBIDDEN => Attempt::Done(Err(Error::BadToken {
                item,
                port: self.config.port,
            })),
            // The Secrets Manager Agent answers a bare 404 for the Parameter Store path, which
            // it does not serve: not a verdict on the parameter.
            StatusCode::NOT_FOUND if matches!(item, Item::Parameter(_)) => {
                Attempt::Done(Err(Error::Service {
                    item,
                    via,
                    status: Some(404),
                    code: "HTTP 404".into(),
                    message: format!(
                        "the endpoint on port {} does not serve Parameter Store (the Secrets \
                         Manager Agent does not; the Lambda extension does)",
                        self.config.port
                    ),
                }))
            }
            StatusCode::NOT_FOUND => Attempt::Done(Err(Error::NotFound { item, via })),
            StatusCode::TOO_MANY_REQUESTS => Attempt::Retry(Retry::Throttled),
            s if s.is_server_error() => Attempt::Retry(Retry::Server {
                status: s.as_u16(),
                code: format!("HTTP {}", s.as_u16()),
                message: short(text),
            }),
            s => Attempt::Done(Err(Error::Service {
                item,
                via,
                status: Some(s.as_u16()),
                code: format!("HTTP {}", s.as_u16()),
                message: short(text),
            })),
        }
    }

    fn give_up(&self, item: Item, retry: Retry, waited: Duration, attempts: u32) -> Error {
        let via = SourceKind::Extension;
        match retry {
            Retry::NotReady => Error::NotReady {
                item,
                port: self.config.port,
                waited,
                attempts,
            },
            Retry::Throttled => Error::Throttled { item, via },
            Retry::Server {
                status,
                code,
                message,
            } => Error::Service {
                item,
                via,
                status: Some(status),
                code,
                message,
            },
            Retry::TimedOut => Error::TimedOut {
                item,
                via,
                after: self.config.request_timeout,
            },
            Retry::Refused(reason, cause) | Retry::Transport(reason, cause) => Error::Unreachable {
                item,
                endpoint: format!("the secrets extension at 127.0.0.1:{}", self.config.port),
                waited,
                attempts,
                reason,
                cause: Some(cause),
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
            Retry::Refused(..) => "connection refused",
            Retry::Transport(..) => "transport error",
        }
    }
}

/// The error for a 200 body that is not what the endpoint documents.
fn invalid(item: &Item, reason: &str) -> Error {
    Error::InvalidResponse {
        item: item.clone(),
        via: SourceKind::Extension,
        reason: reason.to_owned(),
        cause: None,
    }
}

/// A 200 body as JSON (never quoting it: it holds the value).
fn parse_json(item: &Item, body: &[u8]) -> Result<Value, Error> {
    serde_json::from_slice(body).map_err(|err| {
        invalid(
            item,
            &format!(
                "the body is not JSON (line {}, column {})",
                err.line(),
                err.column()
            ),
        )
    })
}

/// Parses a secret's 200 body: the `GetSecretValue` output.
fn parse_secret(item: &Item, body: &[u8]) -> Result<SecretPayload, Error> {
    let invalid = |reason: &str| invalid(item, reason);
    let mut json = parse_json(item, body)?;
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

/// Parses a parameter's 200 body: the `GetParameter` output, `{"Parameter": {"Value": ...,
/// "Version": ..., "Type": ...}}`. A `StringList` value is the comma-separated text.
fn parse_parameter(item: &Item, body: &[u8]) -> Result<SecretPayload, Error> {
    let mut json = parse_json(item, body)?;
    let Some(parameter) = json.get_mut("Parameter").filter(|p| p.is_object()) else {
        return Err(invalid(item, "`Parameter` is not present"));
    };
    let version_id = parameter.get("Version").and_then(|v| match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    });
    // Moved out, so that the only copy is the zeroizing one.
    let Some(Value::String(value)) = parameter.get_mut("Value").map(Value::take) else {
        return Err(invalid(item, "`Parameter.Value` is not a string"));
    };
    Ok(SecretPayload {
        value: RawValue::String(Zeroizing::new(value)),
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
            source().uri(&Request::Secret(request)),
            "http://127.0.0.1:2773/secretsmanager/get?secretId=a%26versionStage%3DAWSPREVIOUS%2Fb%2Bc%3Dd%40e%3Ff%23g%20h&versionStage=AWSCURRENT"
        );
    }

    /// A refused connection is `Unreachable` with the transport error as its `source()`: the
    /// chain reaches the OS's error, a clone keeps it, and the message still spells it out.
    #[tokio::test]
    async fn a_refused_connection_keeps_its_cause() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
            listener.local_addr().expect("its address").port()
        };
        let source = ExtensionSource::new(ExtensionConfig {
            port,
            ..ExtensionConfig::default()
        });
        let request = Request::Secret(SecretRequest {
            name: "s".into(),
            version_stage: None,
            version_id: None,
            refresh_now: false,
        });
        let err = source
            .fetch(&request, None, &Deadline::after(Duration::ZERO), false)
            .await
            .expect_err("nothing listens");
        let Error::Unreachable {
            reason,
            cause: Some(cause),
            ..
        } = &err
        else {
            panic!("expected Unreachable with a cause, got {err:?}")
        };
        let first = std::error::Error::source(&err).expect("a source");
        assert_eq!(first.to_string(), cause.to_string());
        assert_eq!(super::super::error_chain(first), *reason);
        assert!(err.to_string().ends_with(&format!("): {reason}")), "{err}");
        let refused = std::iter::successors(Some(first), |e| e.source())
            .find_map(|e| e.downcast_ref::<std::io::Error>())
            .map(std::io::Error::kind);
        assert_eq!(refused, Some(std::io::ErrorKind::ConnectionRefused));
        let copy = err.clone();
        assert_eq!(
            std::error::Error::source(&copy).map(ToString::to_string),
            Some(first.to_string())
        );
    }

    #[test]
    fn aws_error_bodies_are_classified() {
        let body = br#"{"__type":"ResourceNotFoundException","message":"Secrets Manager can't find the specified secret."}"#;
        for status in [StatusCode::BAD_REQUEST, StatusCode::NOT_FOUND] {
            assert!(matches!(
                source().classify_failure(status, body, &Item::secret("s")),
                Attempt::Done(Err(Error::NotFound { .. }))
            ));
        }
        assert!(matches!(
            source().classify_failure(
                StatusCode::BAD_REQUEST,
                b"not ready to serve traffic, please wait",
                &Item::secret("s")
            ),
            Attempt::Retry(Retry::NotReady)
        ));
        assert!(matches!(
            source().classify_failure(StatusCode::FORBIDDEN, b"Bad Token", &Item::secret("s")),
            Attempt::Done(Err(Error::BadToken { .. }))
        ));
        let gateway = br#"{"__type":"ConnectionError","message":"upstream unreachable"}"#;
        assert!(matches!(
            source().classify_failure(StatusCode::BAD_GATEWAY, gateway, &Item::secret("s")),
            Attempt::Retry(Retry::Server { .. })
        ));
    }

    #[test]
    fn parameter_names_are_percent_encoded_and_decrypted() {
        assert_eq!(
            source().uri(&Request::Parameter("/app/dev/a b+c".into())),
            "http://127.0.0.1:2773/systemsmanager/parameters/get?name=%2Fapp%2Fdev%2Fa%20b%2Bc&withDecryption=true"
        );
    }

    #[test]
    fn parameter_bodies_parse() {
        let item = Item::parameter("/p");
        let p = parse_parameter(
            &item,
            br#"{"Parameter":{"Name":"/p","Type":"StringList","Value":"a,b","Version":3},"ResultMetadata":{}}"#,
        )
        .unwrap();
        assert!(matches!(&p.value, RawValue::String(s) if s.as_str() == "a,b"));
        assert_eq!(p.version_id.as_deref(), Some("3"));
        for body in [
            &br#"{"Value":"a"}"#[..],
            br#"{"Parameter":{"Value":1}}"#,
            b"<html>",
        ] {
            assert!(matches!(
                parse_parameter(&item, body),
                Err(Error::InvalidResponse { .. })
            ));
        }
    }

    #[test]
    fn success_bodies_parse_string_and_binary() {
        let p = parse_secret(
            &Item::secret("s"),
            br#"{"Name":"s","SecretString":"{\"a\":1}","VersionId":"v1"}"#,
        )
        .unwrap();
        assert!(matches!(&p.value, RawValue::String(s) if s.as_str() == r#"{"a":1}"#));
        assert_eq!(p.version_id.as_deref(), Some("v1"));
        let p = parse_secret(&Item::secret("s"), br#"{"SecretBinary":"AAEC"}"#).unwrap();
        assert!(matches!(&p.value, RawValue::Binary(b) if b.as_slice() == [0, 1, 2]));
        assert!(matches!(
            parse_secret(&Item::secret("s"), b"<html>"),
            Err(Error::InvalidResponse { .. })
        ));
    }
}
