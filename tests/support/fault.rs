//! A small HTTP/1.1 server that plays the extension (or Secrets Manager, for the SDK) and
//! misbehaves on purpose: the faults the real agent and moto cannot produce on demand (not
//! ready, throttled, denied, failing, hanging, truncated, garbage). It records every request
//! and counts connections, and keeps connections alive as the real extension does.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// What the server does with one request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answers with this status and body.
    Respond(u16, String),
    /// `400 not ready to serve traffic, please wait`, as the extension during its start.
    NotReady,
    /// Never answers (until the client gives up).
    Hang,
    /// Announces a longer body than it sends, then closes the connection.
    Truncate,
    /// Closes the connection without answering (a keep-alive connection that the server
    /// closes as a request arrives on it).
    Close,
    /// Waits, then does the inner fault.
    Delay(Duration, Box<Fault>),
    /// `400 unknown parameter: refreshNow` if the request asks for `refreshNow`, as an
    /// extension that does not take it; otherwise the inner fault.
    RejectRefreshNow(Box<Fault>),
    /// The fault of the first entry whose text the request target contains (for requests
    /// that arrive concurrently, in any order); none: `404`.
    Route(Vec<(String, Fault)>),
}

impl Fault {
    /// A `200` with a `GetSecretValue` body holding `secret_string`.
    #[must_use]
    pub fn secret(name: &str, secret_string: &str) -> Self {
        let body = format!(
            r#"{{"ARN":"arn:aws:secretsmanager:us-east-1:123456789012:secret:{name}-AbCdEf","Name":{},"VersionId":"v1","SecretString":{},"VersionStages":["AWSCURRENT"],"CreatedDate":"1700000000"}}"#,
            serde_json::Value::from(name),
            serde_json::Value::from(secret_string)
        );
        Fault::Respond(200, body)
    }

    /// A `200` with a `GetParameter` body, as the extension's Parameter Store endpoint
    /// answers: `kind` is `String`, `StringList` or `SecureString` (decrypted).
    #[must_use]
    pub fn parameter(name: &str, kind: &str, value: &str) -> Self {
        let body = format!(
            r#"{{"Parameter":{{"ARN":"arn:aws:ssm:us-east-1:123456789012:parameter{name}","DataType":"text","LastModifiedDate":"2026-11-01T00:00:00Z","Name":{},"Selector":null,"SourceResult":null,"Type":"{kind}","Value":{},"Version":4}},"ResultMetadata":{{}}}}"#,
            serde_json::Value::from(name),
            serde_json::Value::from(value)
        );
        Fault::Respond(200, body)
    }

    /// An AWS error body with this `__type`.
    #[must_use]
    pub fn aws(status: u16, kind: &str, message: &str) -> Self {
        Fault::Respond(
            status,
            format!(
                r#"{{"__type":"{kind}","message":{}}}"#,
                serde_json::Value::from(message)
            ),
        )
    }
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    /// The request target: path and raw (still percent-encoded) query.
    pub target: String,
    /// The `X-Aws-Parameters-Secrets-Token` header, if any.
    pub token: Option<String>,
    /// The request body (the SDK's JSON), empty for a GET.
    pub body: String,
    /// When it arrived.
    pub at: std::time::Instant,
}

struct State {
    script: Vec<Fault>,
    requests: Vec<Seen>,
    connections: usize,
    /// Requests being answered now, and the most at once.
    in_flight: usize,
    peak_in_flight: usize,
}

/// The fault-injecting server; stops when dropped.
pub struct FaultServer {
    port: u16,
    state: Arc<Mutex<State>>,
    task: tokio::task::JoinHandle<()>,
}

impl FaultServer {
    /// Serves the faults of `script` in order, one per request; the last one repeats.
    pub async fn start(script: Vec<Fault>) -> Self {
        Self::start_on(0, script).await
    }

    /// [`FaultServer::start`] on a given port of 127.0.0.1 (0: any free one).
    pub async fn start_on(port: u16, script: Vec<Fault>) -> Self {
        assert!(!script.is_empty(), "a script needs at least one fault");
        let listener = TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("binding the fault server");
        let port = listener.local_addr().expect("address").port();
        let state = Arc::new(Mutex::new(State {
            script,
            requests: Vec::new(),
            connections: 0,
            in_flight: 0,
            peak_in_flight: 0,
        }));
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                shared.lock().expect("state").connections += 1;
                tokio::spawn(serve(stream, Arc::clone(&shared)));
            }
        });
        Self { port, state, task }
    }

    /// The port on 127.0.0.1.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Every request so far.
    #[must_use]
    pub fn requests(&self) -> Vec<Seen> {
        self.state.lock().expect("state").requests.clone()
    }

    /// The most requests that were being answered at once.
    #[must_use]
    pub fn peak_in_flight(&self) -> usize {
        self.state.lock().expect("state").peak_in_flight
    }

    /// How many TCP connections were accepted.
    #[must_use]
    pub fn connections(&self) -> usize {
        self.state.lock().expect("state").connections
    }
}

impl Drop for FaultServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(mut stream: TcpStream, state: Arc<Mutex<State>>) {
    let mut buffer = Vec::new();
    loop {
        // Read one request head (GET requests have no body).
        let head_end = loop {
            if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                break end + 4;
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
        buffer.drain(..head_end);
        // Take the request body (the SDK POSTs JSON), so the next request parses cleanly.
        let body_length = head
            .lines()
            .find_map(|line| {
                let (name, value) = line.split_once(':')?;
                name.eq_ignore_ascii_case("content-length")
                    .then(|| value.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        while buffer.len() < body_length {
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => buffer.extend_from_slice(&chunk[..n]),
            }
        }
        let body = String::from_utf8_lossy(&buffer[..body_length]).into_owned();
        buffer.drain(..body_length);
        let target = head
            .lines()
            .next()
            .and_then(|line| line.split(' ').nth(1))
            .unwrap_or_default()
            .to_owned();
        let token = head.lines().find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("x-aws-parameters-secrets-token")
                .then(|| value.trim().to_owned())
        });
        let mut fault = {
            let mut state = state.lock().expect("state");
            state.requests.push(Seen {
                target: target.clone(),
                token,
                body,
                at: std::time::Instant::now(),
            });
            let index = (state.requests.len() - 1).min(state.script.len() - 1);
            state.in_flight += 1;
            state.peak_in_flight = state.peak_in_flight.max(state.in_flight);
            state.script[index].clone()
        };
        let _answered = InFlight(Arc::clone(&state));
        loop {
            match fault {
                Fault::Delay(wait, inner) => {
                    tokio::time::sleep(wait).await;
                    fault = *inner;
                }
                Fault::Route(routes) => {
                    fault = routes
                        .into_iter()
                        .find(|(text, _)| target.contains(text.as_str()))
                        .map_or_else(|| Fault::Respond(404, "no route".into()), |(_, f)| f);
                }
                Fault::RejectRefreshNow(inner) => {
                    fault = if target.contains("refreshNow") {
                        Fault::Respond(400, "unknown parameter: refreshNow".into())
                    } else {
                        *inner
                    };
                }
                other => {
                    fault = other;
                    break;
                }
            }
        }
        let response = match fault {
            Fault::Respond(status, body) => response(status, &body),
            Fault::NotReady => response(400, "not ready to serve traffic, please wait"),
            Fault::Hang => {
                tokio::time::sleep(Duration::from_secs(3600)).await;
                return;
            }
            Fault::Close => return,
            Fault::Delay(..) | Fault::RejectRefreshNow(_) | Fault::Route(_) => {
                unreachable!("unwrapped above")
            }
            Fault::Truncate => {
                let _ = stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n{\"SecretStr")
                    .await;
                return;
            }
        };
        if stream.write_all(response.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// Counts a request as answered when dropped (also when the connection ends first).
struct InFlight(Arc<Mutex<State>>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Ok(mut state) = self.0.lock() {
            state.in_flight -= 1;
        }
    }
}

fn response(status: u16, body: &str) -> String {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    };
    format!(
        "HTTP/1.1 {status} {reason}\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
}
