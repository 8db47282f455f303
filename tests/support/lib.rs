//! Shared support for the integration tests: the real peers that `scripts/test.sh` starts
//! (moto and the Secrets Manager Agent), seeding secrets, a counting proxy, and spawning extra
//! agents for cold-start tests.
//!
//! A test that needs a peer the environment does not describe panics with the command to run:
//! tests never pass by skipping.

use std::net::{SocketAddr, TcpListener as StdListener};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_secretsmanager::Client;
use bytes::Bytes;
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};

pub mod bench;
mod fault;
pub mod lambda;
mod logs;
mod rotating;
pub use fault::{Fault, FaultServer, Seen};
pub use logs::LogCapture;
pub use rotating::{extension_provider, rotating_extension};

/// The variable a peer is described by, or a loud failure naming the script to run.
fn required_env(name: &str) -> String {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => value,
        _ => panic!(
            "{name} is not set: this test needs the real peers. Run the whole suite with \
             ./scripts/test.sh, which installs and starts moto and the Secrets Manager Agent."
        ),
    }
}

/// moto's URL (`http://127.0.0.1:PORT`).
#[must_use]
pub fn moto_url() -> String {
    required_env("SECRETS_TEST_MOTO_URL")
}

/// The port of the agent that `scripts/test.sh` started, pointed at moto.
#[must_use]
pub fn agent_port() -> u16 {
    required_env("SECRETS_TEST_AGENT_PORT")
        .parse()
        .expect("SECRETS_TEST_AGENT_PORT is a port")
}

/// The token the agent expects.
#[must_use]
pub fn agent_token() -> String {
    required_env("AWS_TOKEN")
}

/// A secret name no other test uses, under `prefix` (which may contain `/`).
#[must_use]
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicUsize = AtomicUsize::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{prefix}-{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

/// An SDK client talking to moto, for seeding and changing secrets.
pub async fn moto() -> Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(moto_url())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_secretsmanager::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .load()
        .await;
    Client::new(&config)
}

/// Creates a secret with a string value in moto.
pub async fn create_secret(name: &str, value: &str) {
    moto()
        .await
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .unwrap_or_else(|err| panic!("creating secret {name} in moto: {err:?}"));
}

/// Creates a secret with a binary value (`SecretBinary`) in moto.
pub async fn create_binary_secret(name: &str, value: &[u8]) {
    moto()
        .await
        .create_secret()
        .name(name)
        .secret_binary(aws_sdk_secretsmanager::primitives::Blob::new(value))
        .send()
        .await
        .unwrap_or_else(|err| panic!("creating binary secret {name} in moto: {err:?}"));
}

/// A Parameter Store client talking to moto, for seeding parameters.
pub async fn moto_ssm() -> aws_sdk_ssm::Client {
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(moto_url())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_ssm::config::Credentials::new(
            "testing", "testing", None, None, "tests",
        ))
        .load()
        .await;
    aws_sdk_ssm::Client::new(&config)
}

/// Creates or overwrites a parameter in moto; `kind` is `String`, `StringList` or
/// `SecureString` (moto encrypts it with its default key).
pub async fn put_parameter(name: &str, kind: &str, value: &str) {
    moto_ssm()
        .await
        .put_parameter()
        .name(name)
        .r#type(kind.into())
        .value(value)
        .overwrite(true)
        .send()
        .await
        .unwrap_or_else(|err| panic!("putting parameter {name} in moto: {err:?}"));
}

/// Puts a new current version of a secret in moto (a rotation).
pub async fn put_secret(name: &str, value: &str) {
    moto()
        .await
        .put_secret_value()
        .secret_id(name)
        .secret_string(value)
        .send()
        .await
        .unwrap_or_else(|err| panic!("updating secret {name} in moto: {err:?}"));
}

/// A port on 127.0.0.1 that nothing listens on (at the time of asking).
#[must_use]
pub fn free_port() -> u16 {
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("binding an ephemeral port")
}

/// An HTTP proxy on 127.0.0.1 that forwards every request (with its body) to a port, counts
/// them, and records the AWS operation each one calls (its `X-Amz-Target` header).
pub struct CountingProxy {
    port: u16,
    requests: Arc<AtomicUsize>,
    operations: Arc<std::sync::Mutex<Vec<String>>>,
    task: tokio::task::JoinHandle<()>,
}

impl CountingProxy {
    /// Starts a proxy in front of `127.0.0.1:upstream_port`.
    pub async fn start(upstream_port: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("binding the proxy");
        let port = listener.local_addr().expect("proxy address").port();
        let requests = Arc::new(AtomicUsize::new(0));
        let operations = Arc::new(std::sync::Mutex::new(Vec::new()));
        let client: HttpClient<_, Full<Bytes>> =
            HttpClient::builder(TokioExecutor::new()).build_http();
        let counter = Arc::clone(&requests);
        let seen = Arc::clone(&operations);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let client = client.clone();
                let counter = Arc::clone(&counter);
                let seen = Arc::clone(&seen);
                tokio::spawn(async move {
                    let service = service_fn(move |request: Request<Incoming>| {
                        let client = client.clone();
                        counter.fetch_add(1, Ordering::SeqCst);
                        if let Some(target) = request.headers().get("x-amz-target") {
                            let target = target.to_str().unwrap_or_default().to_owned();
                            seen.lock().expect("operations").push(target);
                        }
                        async move { forward(&client, upstream_port, request).await }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            port,
            requests,
            operations,
            task,
        }
    }

    /// How many requests called `operation` (`BatchGetSecretValue`, `GetParameters`, ...),
    /// whatever the service prefix of its `X-Amz-Target`.
    #[must_use]
    pub fn calls(&self, operation: &str) -> usize {
        self.operations()
            .iter()
            .filter(|target| target.rsplit('.').next() == Some(operation))
            .count()
    }

    /// The `X-Amz-Target` of every request so far (`secretsmanager.GetSecretValue`, ...).
    #[must_use]
    pub fn operations(&self) -> Vec<String> {
        self.operations.lock().expect("operations").clone()
    }

    /// The proxy's port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// How many requests have passed through.
    #[must_use]
    pub fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn forward(
    client: &HttpClient<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
    upstream_port: u16,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let mut upstream = Request::builder()
        .method(&parts.method)
        .uri(format!("http://127.0.0.1:{upstream_port}{path}"));
    for (name, value) in &parts.headers {
        upstream = upstream.header(name, value);
    }
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let response = match client
        .request(upstream.body(Full::new(body)).expect("request"))
        .await
    {
        Ok(response) => response,
        Err(err) => {
            return Ok(Response::builder()
                .status(502)
                .body(Full::new(Bytes::from(format!("proxy: {err}"))))
                .expect("response"));
        }
    };
    let (parts, body) = response.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    Ok(Response::from_parts(parts, Full::new(body)))
}

/// A Secrets Manager Agent started by a test, killed (by pid) when dropped.
pub struct Agent {
    child: Child,
    _dir: TempDir,
}

impl Agent {
    /// Starts the agent binary of `scripts/test.sh` on `port`, pointed at moto, without
    /// waiting for it to listen.
    #[must_use]
    pub fn spawn(port: u16) -> Self {
        Self::spawn_with(port, &moto_url(), 300)
    }

    /// Starts the agent on `port`, pointed at the Secrets Manager endpoint `endpoint`, caching
    /// for `ttl_seconds` (0: no cache), without waiting for it to listen.
    #[must_use]
    pub fn spawn_with(port: u16, endpoint: &str, ttl_seconds: u32) -> Self {
        let binary = PathBuf::from(required_env("SECRETS_TEST_AGENT_BIN"));
        let dir = TempDir::new("agent");
        let config = dir.path.join("agent.toml");
        std::fs::write(
            &config,
            format!(
                "http_port = \"{port}\"\nttl_seconds = \"{ttl_seconds}\"\nregion = \"us-east-1\"\n\
                 log_to_file = false\nlog_level = \"warn\"\nvalidate_credentials = false\n"
            ),
        )
        .expect("writing the agent config");
        let child = Command::new(&binary)
            .arg("--config")
            .arg(&config)
            .env("AWS_ENDPOINT_URL", endpoint)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|err| panic!("starting the agent {}: {err}", binary.display()));
        Self { child, _dir: dir }
    }

    /// Whether the agent process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// A directory removed when dropped.
pub struct TempDir {
    /// Its path.
    pub path: PathBuf,
}

impl TempDir {
    /// A new empty directory under the system temp folder.
    #[must_use]
    pub fn new(prefix: &str) -> Self {
        let path = std::env::temp_dir().join(unique_name(&format!("secrets-tests-{prefix}")));
        std::fs::create_dir_all(&path).expect("creating a temp dir");
        Self { path }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Asserts that `text` contains none of `canaries`.
#[track_caller]
pub fn assert_no_canary(text: &str, canaries: &[&str]) {
    for canary in canaries {
        assert!(!text.contains(canary), "a secret value leaked into: {text}");
    }
}

/// The socket address of a port on 127.0.0.1.
#[must_use]
pub fn loopback(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Waits until something accepts connections on `port`, up to `limit`.
pub async fn wait_listening(port: u16, limit: Duration) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if tokio::net::TcpStream::connect(loopback(port)).await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    false
}

/// A duration in nanoseconds for a benchmark table: `0.82 ns`, `59.75 µs`, `3.15 ms`.
#[must_use]
pub fn human(nanos: f64) -> String {
    if nanos < 1_000.0 {
        format!("{nanos:.2} ns")
    } else if nanos < 1_000_000.0 {
        format!("{:.2} µs", nanos / 1e3)
    } else {
        format!("{:.2} ms", nanos / 1e6)
    }
}
