//! The Lambda lifecycle harness: a simulated Lambda (`lambda-simulator`: the Runtime and
//! Extensions APIs, and freeze/thaw of the function and extension processes with
//! SIGSTOP/SIGCONT) running a real function binary, an extension stand-in
//! (`tests/bin/extension_standin.rs`) that forwards to a Secrets Manager Agent of its own, and
//! moto behind a proxy that counts the upstream calls.
//!
//! The order is Lambda's: the extension starts and registers, then the function starts (its
//! INIT ends when it first polls for an invocation), then invocations, each followed by a
//! freeze of every process of the sandbox until the next one.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use lambda_simulator::{FreezeMode, InvocationStatus, Simulator, SimulatorPhase};
use serde_json::{Value, json};

use crate::{Agent, CountingProxy, TempDir, agent_token, free_port, moto_url, unique_name};

/// How long any one step may take before the harness calls it a hang.
const NO_HANG: Duration = Duration::from_secs(60);

/// How the extension stand-in becomes ready (see `tests/bin/extension_standin.rs`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Readiness {
    /// The AWS layer: `400 not ready` until its first INVOKE event.
    Managed,
    /// The agent packaged as an extension: listening 50 ms after registering.
    Agent,
    /// `400 not ready` for ever.
    NeverReady,
    /// Accepts connections and never answers.
    Hang,
}

impl Readiness {
    fn mode(self) -> &'static str {
        match self {
            Readiness::Managed => "managed",
            Readiness::Agent => "agent",
            Readiness::NeverReady => "never-ready",
            Readiness::Hang => "hang",
        }
    }
}

/// What a sandbox is made of.
#[derive(Debug, Clone)]
#[must_use]
pub struct LambdaBuilder {
    function: PathBuf,
    extension: Option<(PathBuf, Readiness)>,
    freeze: bool,
    token: bool,
    standin_delay: Duration,
    extension_ready_timeout: Duration,
    agent_ttl_seconds: u32,
    env: Vec<(String, String)>,
}

impl LambdaBuilder {
    /// A sandbox running the function binary at `function`, frozen between invocations, with
    /// no extension.
    pub fn new(function: impl Into<PathBuf>) -> Self {
        Self {
            function: function.into(),
            extension: None,
            freeze: true,
            token: true,
            standin_delay: Duration::ZERO,
            extension_ready_timeout: Duration::from_secs(2),
            agent_ttl_seconds: 0,
            env: Vec::new(),
        }
    }

    /// How long the agent behind the stand-in caches a secret. The default, 0, sends every
    /// request to moto, where it is counted: the counts are then the library's own fetches.
    /// The Lambda extension caches for 300 s by default.
    pub fn agent_ttl_seconds(mut self, seconds: u32) -> Self {
        self.agent_ttl_seconds = seconds;
        self
    }

    /// Attaches the extension stand-in at `binary`, ready as `readiness` says.
    pub fn extension(mut self, binary: impl Into<PathBuf>, readiness: Readiness) -> Self {
        self.extension = Some((binary.into(), readiness));
        self
    }

    /// Whether the sandbox is frozen between invocations (Lambda Managed Instances are not).
    pub fn freeze(mut self, freeze: bool) -> Self {
        self.freeze = freeze;
        self
    }

    /// Whether the function gets the extension token (`AWS_SESSION_TOKEN`, as Lambda sets it).
    pub fn token(mut self, token: bool) -> Self {
        self.token = token;
        self
    }

    /// Delays every request the stand-in forwards.
    pub fn standin_delay(mut self, delay: Duration) -> Self {
        self.standin_delay = delay;
        self
    }

    /// How long the simulator waits for the extension after each invocation before freezing.
    pub fn extension_ready_timeout(mut self, timeout: Duration) -> Self {
        self.extension_ready_timeout = timeout;
        self
    }

    /// An environment variable of the function.
    pub fn env(mut self, name: &str, value: impl Into<String>) -> Self {
        self.env.push((name.to_owned(), value.into()));
        self
    }

    /// Creates the secret `{STAGE}/lambda/jay` with `value` in moto, starts the agent, the
    /// extension (and waits for it to register), then the function, and waits for the
    /// function's INIT to end.
    pub async fn start(self, value: &Value) -> Lambda {
        let stage = unique_name("lifecycle").replace('/', "-");
        let secret = format!("{stage}/lambda/jay");
        crate::create_secret(&secret, &value.to_string()).await;

        let moto_port: u16 = moto_url()
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("moto's URL ends with its port");
        let proxy = CountingProxy::start(moto_port).await;
        let upstream = format!("http://127.0.0.1:{}", proxy.port());
        let agent_port = free_port();
        let agent = Agent::spawn_with(agent_port, &upstream, self.agent_ttl_seconds);
        assert!(
            crate::wait_listening(agent_port, NO_HANG).await,
            "the agent did not listen"
        );

        let simulator = Simulator::builder()
            .function_name("jay")
            .freeze_mode(if self.freeze {
                FreezeMode::Process
            } else {
                FreezeMode::None
            })
            .extension_ready_timeout(self.extension_ready_timeout)
            .build()
            .await
            .expect("starting the simulator");
        let dir = TempDir::new("lambda");
        let extension_port = free_port();
        let mut lambda = Lambda {
            simulator,
            function: None,
            extension: None,
            dead: Vec::new(),
            _agent: agent,
            proxy,
            stage,
            secret,
            extension_port,
            agent_port,
            standin_delay: self.standin_delay,
            extension_binary: self.extension.as_ref().map(|(b, r)| (b.clone(), *r)),
            init: Duration::ZERO,
            dir,
        };
        if self.extension.is_some() {
            lambda.spawn_extension(true);
            let registered = lambda
                .simulator
                .wait_for(
                    || async { lambda.simulator.extension_count().await >= 1 },
                    NO_HANG,
                )
                .await;
            assert!(registered.is_ok(), "the extension did not register");
        }

        let mut command = Command::new(&self.function);
        command
            .env_clear()
            .envs(lambda.simulator.lambda_env_vars())
            .env("STAGE", &lambda.stage)
            .env(
                "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT",
                extension_port.to_string(),
            )
            // The SDK (auto mode's fallback) reaches moto through the counting proxy.
            .env("AWS_ENDPOINT_URL", &upstream)
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("RUST_LOG", "info,secrets_runtime=debug");
        if self.token {
            command.env("AWS_SESSION_TOKEN", agent_token());
        }
        command.envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        let log = File::create(lambda.dir.path.join("function.log")).expect("a log file");
        let started = Instant::now();
        let child = command
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("a log file"))
            .stderr(log)
            .spawn()
            .unwrap_or_else(|err| panic!("starting {}: {err}", self.function.display()));
        if self.freeze {
            lambda.simulator.register_freeze_pid(child.id());
        }
        lambda.function = Some(child);
        lambda
            .simulator
            .wait_for_phase(SimulatorPhase::Ready, NO_HANG)
            .await
            .unwrap_or_else(|err| {
                panic!(
                    "the function's INIT did not end: {err}\n{}",
                    lambda.function_log()
                )
            });
        lambda.init = started.elapsed();
        // The INVOKE phase starts once every extension has polled for its first event (its
        // INIT is done).
        for extension in lambda.simulator.get_registered_extensions().await {
            let polled = lambda
                .simulator
                .wait_for(
                    || async {
                        lambda
                            .simulator
                            .first_next_poll_at(&extension.id)
                            .await
                            .is_some()
                    },
                    NO_HANG,
                )
                .await;
            assert!(polled.is_ok(), "the extension never finished its INIT");
        }
        lambda
    }
}

/// A running sandbox. Its processes are killed (by pid) when it is dropped.
pub struct Lambda {
    /// The simulated Lambda service.
    pub simulator: Simulator,
    function: Option<Child>,
    extension: Option<Child>,
    /// Killed extension processes, reaped only on drop: the simulator still signals their pids.
    dead: Vec<Child>,
    _agent: Agent,
    proxy: CountingProxy,
    /// The `STAGE` of the function: its secret is `{stage}/lambda/jay`.
    pub stage: String,
    /// The secret's name.
    pub secret: String,
    extension_port: u16,
    agent_port: u16,
    standin_delay: Duration,
    extension_binary: Option<(PathBuf, Readiness)>,
    /// From starting the function to its first poll for an invocation.
    pub init: Duration,
    dir: TempDir,
}

/// The outcome of one invocation.
#[derive(Debug, Clone)]
pub struct Invoked {
    /// The response, or the error's type and message.
    pub result: Result<Value, String>,
    /// From enqueueing it to seeing its response (the harness checks every millisecond).
    pub took: Duration,
    /// From the runtime taking the event to its response, as the simulator recorded them.
    pub handled: Option<Duration>,
}

impl Invoked {
    /// The response; panics with the error otherwise.
    #[track_caller]
    #[must_use]
    pub fn response(&self) -> &Value {
        match &self.result {
            Ok(value) => value,
            Err(err) => panic!("the invocation failed: {err}"),
        }
    }
}

impl Lambda {
    /// Invokes the function with `payload`; with freezing on, returns once the sandbox is
    /// frozen again.
    pub async fn invoke(&self, payload: Value) -> Invoked {
        let started = Instant::now();
        let id = self.simulator.enqueue_payload(payload).await;
        let invoked = self.wait(&id, started).await;
        if self.simulator.freeze_mode() == FreezeMode::Process {
            // The simulator's own waits can miss a notification that comes just before they
            // listen, so the harness watches the state itself. It says "frozen" just before
            // it sends SIGSTOP: wait until every process has stopped too, so that the next
            // thaw cannot overtake this freeze.
            until("the sandbox froze after the invocation", || async {
                self.simulator.is_frozen()
            })
            .await;
            for child in [self.function.as_ref(), self.extension.as_ref()]
                .into_iter()
                .flatten()
            {
                wait_stopped(child.id()).await;
            }
        }
        invoked
    }

    /// Invokes the function `n` times at once (Lambda Managed Instances).
    pub async fn invoke_at_once(&self, n: usize, payload: &Value) -> Vec<Invoked> {
        let started = Instant::now();
        let mut ids = Vec::with_capacity(n);
        for _ in 0..n {
            ids.push(self.simulator.enqueue_payload(payload.clone()).await);
        }
        // Each wait only watches the simulator's state: awaiting them in turn loses nothing.
        let mut invoked = Vec::with_capacity(n);
        for id in &ids {
            invoked.push(self.wait(id, started).await);
        }
        invoked
    }

    async fn wait(&self, id: &str, started: Instant) -> Invoked {
        let limit = Instant::now() + NO_HANG;
        let state = loop {
            let state = self.simulator.get_invocation_state(id).await;
            if let Some(state) = state.filter(|s| {
                !matches!(
                    s.status,
                    InvocationStatus::Pending | InvocationStatus::InProgress
                )
            }) {
                break state;
            }
            assert!(
                Instant::now() < limit,
                "the invocation did not end within {NO_HANG:?}\n{}",
                self.function_log()
            );
            tokio::time::sleep(Duration::from_millis(1)).await;
        };
        let took = started.elapsed();
        let handled = match (&state.started_at, &state.response) {
            (Some(taken), Some(response)) => (response.received_at - *taken).to_std().ok(),
            _ => None,
        };
        let result = match (state.status, state.response, state.error) {
            (InvocationStatus::Success, Some(response), _) => Ok(response.payload),
            (_, _, Some(error)) => Err(format!("{}: {}", error.error_type, error.error_message)),
            (status, ..) => Err(format!("ended as {status:?}")),
        };
        Invoked {
            result,
            took,
            handled,
        }
    }

    /// How many calls of `operation` (`GetSecretValue`, ...) reached moto.
    #[must_use]
    pub fn upstream_calls(&self, operation: &str) -> usize {
        self.proxy.calls(operation)
    }

    /// The extension stand-in's events so far, one per line.
    #[must_use]
    pub fn extension_events(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path.join("extension.log"))
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// What the function has logged so far.
    #[must_use]
    pub fn function_log(&self) -> String {
        std::fs::read_to_string(self.dir.path.join("function.log")).unwrap_or_default()
    }

    /// Kills the extension process (SIGKILL, by pid). It is not reaped until the sandbox is
    /// dropped, so that the simulator's freeze and thaw signals still find it.
    pub fn kill_extension(&mut self) {
        if let Some(child) = &mut self.extension {
            child.kill().expect("killing the extension");
        }
    }

    /// Starts the extension process again on the same port (without registering again: its
    /// old registration stands), and waits for it to listen.
    pub async fn restart_extension(&mut self) {
        if let Some(mut old) = self.extension.take() {
            let _ = old.kill();
            self.dead.push(old);
        }
        self.spawn_extension(false);
        assert!(
            crate::wait_listening(self.extension_port, NO_HANG).await,
            "the restarted extension did not listen"
        );
    }

    fn spawn_extension(&mut self, register: bool) {
        let (binary, readiness) = self
            .extension_binary
            .clone()
            .expect("the sandbox has an extension");
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.dir.path.join("extension.log"))
            .expect("a log file");
        let child = Command::new(&binary)
            .env_clear()
            .envs(self.simulator.lambda_env_vars())
            .env(
                "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT",
                self.extension_port.to_string(),
            )
            .env("STANDIN_UPSTREAM_PORT", self.agent_port.to_string())
            .env("STANDIN_MODE", readiness.mode())
            .env(
                "STANDIN_DELAY_MS",
                self.standin_delay.as_millis().to_string(),
            )
            .env("STANDIN_REGISTER", if register { "1" } else { "0" })
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|err| panic!("starting {}: {err}", binary.display()));
        if self.simulator.freeze_mode() == FreezeMode::Process {
            self.simulator.register_freeze_pid(child.id());
        }
        self.extension = Some(child);
    }

    /// The directory of the sandbox's logs.
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir.path
    }
}

impl Drop for Lambda {
    fn drop(&mut self) {
        // SIGKILL ends a stopped process too.
        for child in [self.function.as_mut(), self.extension.as_mut()]
            .into_iter()
            .flatten()
            .chain(&mut self.dead)
        {
            let _ = child.kill();
            let _ = child.wait();
        }
        if std::thread::panicking() {
            eprintln!(
                "the sandbox's logs:\n--- function ---\n{}\n--- extension ---\n{}",
                self.function_log(),
                self.extension_events().join("\n")
            );
        }
    }
}

/// The example's secret: `{"db_host": host, "db_port": "5432", "api_key": key}`.
#[must_use]
pub fn jay(db_host: &str, api_key: &str) -> Value {
    json!({"db_host": db_host, "db_port": "5432", "api_key": api_key})
}

/// Waits until process `pid` is stopped (or gone), reading its state from `/proc`.
async fn wait_stopped(pid: u32) {
    let path = format!("/proc/{pid}/stat");
    let deadline = Instant::now() + NO_HANG;
    loop {
        let Ok(stat) = std::fs::read_to_string(&path) else {
            return;
        };
        // `pid (comm) S ...`: the state follows the last `)`.
        let state = stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.trim_start().chars().next());
        if matches!(state, Some('T' | 't' | 'Z' | 'X')) {
            return;
        }
        assert!(Instant::now() < deadline, "process {pid} did not stop");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Checks `condition` every millisecond until it holds; panics naming `what` after [`NO_HANG`].
async fn until<F: std::future::Future<Output = bool>>(
    what: &str,
    mut condition: impl FnMut() -> F,
) {
    let deadline = Instant::now() + NO_HANG;
    while !condition().await {
        assert!(Instant::now() < deadline, "{what}: not within {NO_HANG:?}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}
