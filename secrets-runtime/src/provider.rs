//! The provider: which source to read, with which settings, and the environment that fills
//! secret name templates.

use std::future::Future;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tracing::Instrument as _;

use crate::clock::Deadline;
use crate::document::SecretPayload;
use crate::flights::Flights;
use crate::source::extension::{ExtensionConfig, ExtensionSource};
use crate::source::local::{self, LocalSource};
use crate::source::{Request, Source, SourceKind};
use crate::vars::Vars;
use crate::{Error, Item, template};

/// Reads secrets from the source chosen at run time. Most programs never build one: the
/// derived `load()` uses [`Provider::global`], configured from the environment.
///
/// Build one yourself to choose a source in code (the offline quickstart, tests):
///
/// ```
/// use secrets_runtime::{Provider, Source};
///
/// let provider = Provider::builder()
///     .source(Source::Local)
///     .local_path("examples/secrets.local.json")
///     .var("STAGE", "dev")
///     .build();
/// assert_eq!(provider.source(), Source::Local);
/// ```
pub struct Provider {
    source: Source,
    vars: Vars,
    extension: ExtensionSource,
    local: LocalSource,
    #[cfg(feature = "sdk")]
    sdk: crate::source::sdk::SdkSource,
    /// The items being fetched: loads of the same item at once share one fetch.
    flights: Flights,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("source", &self.source)
            .field("extension_port", &self.extension.port())
            .field("extension_deadline", &self.extension.deadline())
            .field("local_path", &self.local.path)
            .field("vars", &self.vars)
            .finish_non_exhaustive()
    }
}

static GLOBAL: OnceLock<Result<Arc<Provider>, Error>> = OnceLock::new();
/// The most requests a load sends the extension at once, whatever is configured.
const MAX_CONNECTIONS: usize = 1024;
/// In auto mode on Lambda with the SDK to fall back on: how long a request under way at the
/// extension deadline may still take.
const LAST_REQUEST: Duration = Duration::from_secs(1);

impl Provider {
    /// A builder with the defaults: auto source, extension on port 2773, no environment read
    /// except for name placeholders and the extension token.
    pub fn builder() -> ProviderBuilder {
        ProviderBuilder::default()
    }

    /// A provider configured from the environment variables listed in the README
    /// (`SECRETS_SOURCE`, `PARAMETERS_SECRETS_EXTENSION_HTTP_PORT`, ...).
    ///
    /// # Errors
    /// [`Error::Config`] when a variable holds a value that cannot be used.
    pub fn from_env() -> Result<Self, Error> {
        Ok(Self::builder().env()?.build())
    }

    /// The process-wide provider used by `load()`: the one passed to [`Provider::install`], or
    /// else [`Provider::from_env`] on first use.
    ///
    /// # Errors
    /// The configuration error of [`Provider::from_env`], every time it is asked for.
    pub fn global() -> Result<Arc<Provider>, Error> {
        GLOBAL
            .get_or_init(|| Provider::from_env().map(Arc::new))
            .clone()
    }

    /// Makes this provider the process-wide one. Call it before the first `load()`.
    ///
    /// # Errors
    /// [`Error::Config`] if the global provider was already installed or used.
    pub fn install(self) -> Result<(), Error> {
        GLOBAL
            .set(Ok(Arc::new(self)))
            .map_err(|_| Error::Config("the global provider was already installed or used".into()))
    }

    /// The configured source.
    #[must_use]
    pub fn source(&self) -> Source {
        self.source
    }

    /// Fills the placeholders of a secret name template from this provider's environment.
    ///
    /// ```
    /// use secrets_runtime::Provider;
    /// let provider = Provider::builder().var("STAGE", "prd").build();
    /// assert_eq!(provider.resolve_name("{STAGE}/lambda/jay").unwrap(), "prd/lambda/jay");
    /// ```
    ///
    /// # Errors
    /// [`Error::MissingVar`] naming the variable and the template.
    pub fn resolve_name(&self, template: &str) -> Result<String, Error> {
        template::resolve(template, &self.vars)
    }

    /// The secret name of a struct: `name_env`'s variable when set, else the filled template.
    pub(crate) fn secret_name(&self, spec: &crate::__private::SecretSpec) -> Result<String, Error> {
        if let Some(name) = spec
            .name_env
            .and_then(|var| self.vars.get(var))
            .filter(|n| !n.is_empty())
        {
            return Ok(name);
        }
        self.resolve_name(spec.name)
    }

    /// The longest one load through this provider takes, of running time: the extension's
    /// deadline and the request under way then, the SDK's bound for a whole load, or both in
    /// auto mode (files have no timeout: a few seconds).
    pub(crate) fn fetch_bound(&self) -> Duration {
        #[cfg(feature = "sdk")]
        let sdk = crate::source::sdk::SDK_LOAD_BOUND;
        #[cfg(not(feature = "sdk"))]
        let sdk = Duration::ZERO;
        let extension = self
            .extension
            .deadline()
            .saturating_add(self.extension.request_timeout());
        match self.source {
            Source::Local => Duration::from_secs(5),
            Source::Extension => extension,
            Source::Sdk => sdk,
            Source::Auto => extension.saturating_add(sdk),
        }
    }

    /// The kind of source this provider reads first.
    pub(crate) fn source_kind(&self) -> SourceKind {
        match self.source {
            Source::Local => SourceKind::Local,
            Source::Sdk => SourceKind::Sdk,
            Source::Auto | Source::Extension => SourceKind::Extension,
        }
    }

    /// Fetches every request of one load from the configured source, with the fallback of
    /// auto mode: through the extension concurrently (at most its connection limit at once),
    /// through the SDK in batches, locally one by one.
    ///
    /// Returns one payload per request, `None` for a parameter that does not exist (its fields
    /// read as missing; not for a version or label that does not exist, which is an error).
    /// Every other failure is returned, all of them when several fail.
    pub(crate) async fn fetch_all(
        &self,
        requests: &[Request],
    ) -> Result<Vec<Option<SecretPayload>>, Error> {
        // A load joins the fetch of an item that another load through this provider is
        // making: two structs that read one secret at once get one version.
        let patience = self.fetch_bound().saturating_add(crate::clock::JOIN_MARGIN);
        let results = self
            .flights
            .fetch(requests, patience, |requests| self.route(requests))
            .await;
        let mut payloads = Vec::with_capacity(results.len());
        let mut errors = Vec::new();
        for result in results {
            match result {
                Ok(payload) => payloads.push(Some(payload)),
                // A parameter that does not exist reads as missing; a version or label that
                // does not exist is an error (a typo in `:label` must not yield the default).
                Err(Error::NotFound {
                    item: Item::Parameter(name),
                    via,
                }) if crate::item::parameter_selector(&name).is_none() => {
                    tracing::debug!(parameter = %name, %via, "parameter does not exist; its fields read as missing");
                    payloads.push(None);
                }
                Err(err) => errors.push(err),
            }
        }
        // One configuration error, however many sources it stopped.
        errors.dedup_by(|a, b| matches!((a, b), (Error::Config(a), Error::Config(b)) if a == b));
        match Error::from_list(errors) {
            Some(err) => Err(err),
            None => Ok(payloads),
        }
    }

    /// Fetches `requests` from the configured source (see [`Provider::fetch_all`]).
    async fn route(&self, requests: Vec<&Request>) -> Vec<Result<SecretPayload, Error>> {
        match self.source {
            Source::Local => {
                let mut results = Vec::with_capacity(requests.len());
                for request in requests {
                    results.push(traced(request, self.local.fetch(request, &self.vars)).await);
                }
                results
            }
            Source::Extension => {
                let deadline = Deadline::after(self.extension.deadline());
                let grace = self.extension.request_timeout();
                self.fetch_extension(&requests, &deadline, grace, true)
                    .await
            }
            Source::Sdk => self.fetch_sdk(&requests).await,
            Source::Auto => self.fetch_auto(&requests).await,
        }
    }

    /// Through the extension, at most its connection limit
    /// (`PARAMETERS_SECRETS_EXTENSION_MAX_CONNECTIONS`) at once across this provider's loads,
    /// all within one `deadline`:
    /// retries stop there, and a request still running then gets at most `grace` more.
    async fn fetch_extension(
        &self,
        requests: &[&Request],
        deadline: &Deadline,
        grace: Duration,
        wait_for_listener: bool,
    ) -> Vec<Result<SecretPayload, Error>> {
        let token = match self.extension.token(&self.vars).await {
            Ok(token) => token,
            Err(err) => return requests.iter().map(|_| Err(err.clone())).collect(),
        };
        let token = token.as_ref();
        let mut fetches = Vec::with_capacity(requests.len());
        for &request in requests {
            fetches.push(async move {
                let fetch = self
                    .extension
                    .fetch(request, token, deadline, wait_for_listener);
                // Requests that waited for a connection do not extend the load.
                traced(request, async {
                    deadline.bound(grace, fetch).await.unwrap_or_else(|| {
                        Err(Error::TimedOut {
                            item: request.item(),
                            via: SourceKind::Extension,
                            // The longest the cut request can have waited.
                            after: grace,
                        })
                    })
                })
                .await
            });
        }
        futures_util::future::join_all(fetches).await
    }

    async fn fetch_auto(&self, requests: &[&Request]) -> Vec<Result<SecretPayload, Error>> {
        let on_lambda = self
            .vars
            .get("AWS_LAMBDA_FUNCTION_NAME")
            .is_some_and(|name| !name.is_empty());
        let fallback = cfg!(feature = "sdk");
        if !on_lambda && !self.extension.port_chosen() {
            // Off Lambda, any process may have bound the default port: the token (possibly a
            // container credential) goes only to a port the user chose.
            if fallback {
                return self.fetch_sdk(requests).await;
            }
            return requests
                .iter()
                .map(|_| {
                    Err(Error::Config(
                        "auto mode off Lambda calls the extension only on a port you choose: \
                         set PARAMETERS_SECRETS_EXTENSION_HTTP_PORT (or SECRETS_SOURCE=extension \
                         for the default port 2773), or enable the `sdk` feature"
                            .into(),
                    ))
                })
                .collect();
        }
        // On Lambda an extension that answers "not ready" gets the deadline; with the SDK to
        // fall back on, that deadline (and a second for the request under way) bounds the
        // whole extension phase, so that the load stays under Lambda's 10 s INIT limit (3 s,
        // then at most 5 s of SDK). A port that nobody listens on is waited for only without
        // the SDK: in the INVOKE phase, where loads belong, an attached extension listens.
        // Off Lambda (on a port the user chose): one attempt, then the SDK.
        let (deadline, grace) = match (on_lambda, fallback) {
            // A request under way at the deadline still gets up to a second, so that even a
            // deadline of 0 means one attempt.
            (true, true) => (
                self.extension.deadline(),
                self.extension.request_timeout().min(LAST_REQUEST),
            ),
            (true, false) => (self.extension.deadline(), self.extension.request_timeout()),
            (false, _) => (Duration::ZERO, self.extension.request_timeout()),
        };
        let deadline = Deadline::after(deadline);
        let mut results = self
            .fetch_extension(requests, &deadline, grace, !fallback)
            .await;
        if !cfg!(feature = "sdk") {
            return results;
        }
        // The extension is absent, starting, overloaded or failing: the SDK may still work.
        // Not-found, access denied and decoding errors would be the same through the SDK.
        // Parameters go to the SDK only with the `ssm` feature; without it the extension's error
        // says more than "needs the ssm feature" would.
        let unavailable: Vec<usize> = results
            .iter()
            .enumerate()
            .filter(|&(index, result)| {
                result.as_ref().is_err_and(falls_back)
                    && (cfg!(feature = "ssm") || matches!(requests[index], Request::Secret(_)))
            })
            .map(|(index, _)| index)
            .collect();
        if unavailable.is_empty() {
            return results;
        }
        for &index in &unavailable {
            if let Err(err) = &results[index] {
                tracing::warn!(
                    item = %requests[index].item(),
                    error = %err,
                    "the secrets extension is not available; falling back to the AWS SDK"
                );
            }
        }
        let retry: Vec<&Request> = unavailable.iter().map(|&i| requests[i]).collect();
        let retried = self.fetch_sdk(&retry).await;
        for (index, result) in unavailable.into_iter().zip(retried) {
            results[index] = result;
        }
        results
    }

    /// Through the SDK: secrets in `BatchGetSecretValue` calls, parameters in `GetParameters`
    /// calls (with the `ssm` feature).
    /// The whole of it (loading the `aws-config` defaults, batch calls and their fallbacks)
    /// within [`SDK_LOAD_BOUND`](crate::source::sdk::SDK_LOAD_BOUND) of running time.
    #[cfg(feature = "sdk")]
    async fn fetch_sdk(&self, requests: &[&Request]) -> Vec<Result<SecretPayload, Error>> {
        use crate::source::sdk::SDK_LOAD_BOUND;
        crate::clock::timeout(SDK_LOAD_BOUND, self.sdk.fetch_all(requests))
            .await
            .unwrap_or_else(|| {
                requests
                    .iter()
                    .map(|request| {
                        Err(crate::source::sdk::timed_out(
                            request.item(),
                            SDK_LOAD_BOUND,
                        ))
                    })
                    .collect()
            })
    }

    #[cfg(not(feature = "sdk"))]
    #[allow(clippy::unused_async)]
    async fn fetch_sdk(&self, requests: &[&Request]) -> Vec<Result<SecretPayload, Error>> {
        requests
            .iter()
            .map(|_| {
                Err(Error::Config(
                    "the `sdk` source needs the `sdk` feature of secrets-runtime".into(),
                ))
            })
            .collect()
    }
}

/// Whether auto mode reads through the SDK after this error of the extension: when the extension
/// was unavailable (a transient error), and when it answered with an error of its own (a
/// `Service` error: the agent's own credentials, clock or region, or an endpoint that does not
/// serve Parameter Store), which the SDK, with the function's own, may not share. Not after a
/// verdict on the secret (not found, access denied, decryption, a bad token): the SDK would
/// reach the same.
fn falls_back(err: &Error) -> bool {
    err.is_transient()
        || matches!(
            err,
            Error::Service {
                via: SourceKind::Extension,
                ..
            }
        )
}

/// Runs one fetch in a `secret_fetch` (or `parameter_fetch`) span with the name, whether it
/// is forced, the source that answered and the latency; never the value.
pub(crate) async fn traced(
    request: &Request,
    fetch: impl Future<Output = Result<SecretPayload, Error>>,
) -> Result<SecretPayload, Error> {
    let kind = match request {
        Request::Secret(_) => "secret",
        Request::Parameter(_) => "parameter",
    };
    let span = match request {
        Request::Secret(secret) => tracing::info_span!(
            "secret_fetch",
            secret = %secret.name,
            forced = secret.refresh_now,
            source = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        ),
        Request::Parameter(name) => tracing::info_span!(
            "parameter_fetch",
            parameter = %name,
            source = tracing::field::Empty,
            latency_ms = tracing::field::Empty,
        ),
    };
    let started = Instant::now();
    let result = fetch.instrument(span.clone()).await;
    let latency_ms = started.elapsed().as_secs_f64() * 1e3;
    span.record("latency_ms", latency_ms);
    let _entered = span.enter();
    match &result {
        Ok(payload) => {
            span.record("source", tracing::field::display(payload.via));
            tracing::debug!(source = %payload.via, latency_ms, "fetched {kind}");
        }
        Err(err) => tracing::debug!(latency_ms, error = %err, "fetching {kind} failed"),
    }
    result
}

/// Builds a [`Provider`].
///
/// ```
/// use std::time::Duration;
/// use secrets_runtime::{Provider, Source};
///
/// let provider = Provider::builder()
///     .source(Source::Extension)
///     .extension_port(2773)
///     .extension_deadline(Duration::from_secs(2))
///     .build();
/// # let _ = provider;
/// ```
#[derive(Default)]
#[must_use]
pub struct ProviderBuilder {
    source: Source,
    vars: Vars,
    extension: ExtensionConfig,
    local_path: Option<PathBuf>,
    #[cfg(feature = "sdk")]
    sdk_client: Option<aws_sdk_secretsmanager::Client>,
    #[cfg(feature = "ssm")]
    ssm_client: Option<aws_sdk_ssm::Client>,
}

/// Variable names only, and no token: their values may be secrets.
impl std::fmt::Debug for ProviderBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProviderBuilder")
            .field("source", &self.source)
            .field("vars", &self.vars)
            .field("extension", &self.extension)
            .field("local_path", &self.local_path)
            .finish_non_exhaustive()
    }
}

impl ProviderBuilder {
    /// Applies the environment variables: `SECRETS_SOURCE`, `SECRETS_LOCAL_PATH`,
    /// `PARAMETERS_SECRETS_EXTENSION_HTTP_PORT`, `PARAMETERS_SECRETS_EXTENSION_MAX_CONNECTIONS`,
    /// `SECRETS_MANAGER_TIMEOUT_MILLIS` and `SECRETS_EXTENSION_DEADLINE_MILLIS`.
    ///
    /// # Errors
    /// [`Error::Config`] naming the variable whose value is unusable.
    pub fn env(mut self) -> Result<Self, Error> {
        let vars = &self.vars;
        if let Some(source) = vars.get("SECRETS_SOURCE") {
            self.source = source.parse()?;
        }
        if let Some(path) = vars.get("SECRETS_LOCAL_PATH").filter(|p| !p.is_empty()) {
            self.local_path = Some(path.into());
        }
        if let Some(port) = number::<u16>(vars, "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT")? {
            self.extension.port = port;
            self.extension.port_chosen = true;
        }
        if let Some(max) = number::<usize>(vars, "PARAMETERS_SECRETS_EXTENSION_MAX_CONNECTIONS")? {
            self.extension.max_connections = max.clamp(1, MAX_CONNECTIONS);
        }
        if let Some(millis) =
            number::<u64>(vars, "SECRETS_MANAGER_TIMEOUT_MILLIS")?.filter(|m| *m > 0)
        {
            // The extension waits this long for Secrets Manager; give it room to answer.
            self.extension.request_timeout =
                Duration::from_millis(millis) + Duration::from_millis(500);
        }
        if let Some(millis) = number::<u64>(vars, "SECRETS_EXTENSION_DEADLINE_MILLIS")? {
            self.extension.deadline = Duration::from_millis(millis);
        }
        Ok(self)
    }

    /// Which source to read.
    pub fn source(mut self, source: Source) -> Self {
        self.source = source;
        self
    }

    /// Sets a variable for name placeholders (and the extension token variables) without
    /// touching the process environment; unset variables are read from the process.
    pub fn var(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.vars.set(name, value);
        self
    }

    /// The extension's port on 127.0.0.1 (default 2773). Only loopback is ever called.
    pub fn extension_port(mut self, port: u16) -> Self {
        self.extension.port = port;
        self.extension.port_chosen = true;
        self
    }

    /// The token for `X-Aws-Parameters-Secrets-Token`, instead of `AWS_TOKEN`,
    /// `AWS_SESSION_TOKEN` or `AWS_CONTAINER_AUTHORIZATION_TOKEN`. A `file:///path` value is
    /// read from that file once per load.
    pub fn extension_token(mut self, token: impl Into<String>) -> Self {
        self.extension.token = Some(token.into());
        self
    }

    /// How many requests this provider sends the extension at once, across all loads (default
    /// 3, the extension's own connection limit; 1 to 1024).
    pub fn extension_max_connections(mut self, max: usize) -> Self {
        self.extension.max_connections = max.clamp(1, MAX_CONNECTIONS);
        self
    }

    /// How long one request to the extension may take (default 3 s), counting only the time
    /// the process runs.
    pub fn extension_request_timeout(mut self, timeout: Duration) -> Self {
        self.extension.request_timeout = timeout;
        self
    }

    /// How long a load keeps retrying an extension that refuses connections or is not ready
    /// (default 2 s), counting only the time the process runs (a Lambda freeze does not use
    /// it up). In auto mode this applies on Lambda only.
    pub fn extension_deadline(mut self, deadline: Duration) -> Self {
        self.extension.deadline = deadline;
        self
    }

    /// The local source's JSON file or directory (default `secrets.local.json`).
    pub fn local_path(mut self, path: impl Into<PathBuf>) -> Self {
        self.local_path = Some(path.into());
        self
    }

    /// A Secrets Manager client to use instead of one built from the `aws-config` defaults.
    #[cfg(feature = "sdk")]
    pub fn sdk_client(mut self, client: aws_sdk_secretsmanager::Client) -> Self {
        self.sdk_client = Some(client);
        self
    }

    /// A Parameter Store client to use instead of one built from the `aws-config` defaults.
    #[cfg(feature = "ssm")]
    pub fn ssm_client(mut self, client: aws_sdk_ssm::Client) -> Self {
        self.ssm_client = Some(client);
        self
    }

    /// Builds the provider. No I/O happens until the first fetch.
    #[must_use]
    pub fn build(self) -> Provider {
        Provider {
            source: self.source,
            vars: self.vars,
            extension: ExtensionSource::new(self.extension),
            local: LocalSource {
                path: self
                    .local_path
                    .unwrap_or_else(|| local::DEFAULT_PATH.into()),
            },
            #[cfg(feature = "sdk")]
            sdk: crate::source::sdk::SdkSource::new(
                self.sdk_client,
                #[cfg(feature = "ssm")]
                self.ssm_client,
            ),
            flights: Flights::default(),
        }
    }
}

fn number<T: std::str::FromStr>(vars: &Vars, name: &str) -> Result<Option<T>, Error> {
    match vars.get(name).filter(|v| !v.trim().is_empty()) {
        None => Ok(None),
        Some(text) => text.trim().parse().map(Some).map_err(|_| {
            Error::Config(format!(
                "{name} is `{text}`, which is not a valid {}",
                std::any::type_name::<T>()
            ))
        }),
    }
}
