//! The provider: which source to read, with which settings (configured in code or from the
//! environment), and the variables that fill secret name templates.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use crate::backend::extension::{ExtensionConfig, ExtensionSource};
use crate::backend::flights::Flights;
use crate::backend::local::{self, LocalSource};
use crate::backend::{Backends, Request, Source};
use crate::document::SecretPayload;
use crate::spec::SecretSpec;
use crate::vars::Vars;
use crate::{Error, SourceKind, template};

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
    vars: Vars,
    backends: Backends,
}

impl std::fmt::Debug for Provider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Provider")
            .field("source", &self.backends.source)
            .field("extension_port", &self.backends.extension.port())
            .field("extension_deadline", &self.backends.extension.deadline())
            .field("local_path", &self.backends.local.path)
            .field("vars", &self.vars)
            .finish_non_exhaustive()
    }
}

static GLOBAL: OnceLock<Result<Arc<Provider>, Error>> = OnceLock::new();
/// The most requests a load sends the extension at once, whatever is configured.
const MAX_CONNECTIONS: usize = 1024;

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
        self.backends.source
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
    pub(crate) fn secret_name(&self, spec: &SecretSpec) -> Result<String, Error> {
        if let Some(name) = spec
            .name_env
            .and_then(|var| self.vars.get(var))
            .filter(|n| !n.is_empty())
        {
            return Ok(name);
        }
        self.resolve_name(spec.name)
    }

    /// The longest one load through this provider takes, of running time (see
    /// [`Backends::load_bound`]).
    pub(crate) fn load_bound(&self) -> Duration {
        self.backends.load_bound()
    }

    /// The kind of source this provider reads first.
    pub(crate) fn source_kind(&self) -> SourceKind {
        self.backends.source_kind()
    }

    /// Fetches every request of one load (see [`Backends::fetch_all`]); `forced` for a
    /// `refresh_now`.
    pub(crate) async fn fetch_all(
        &self,
        requests: &[Request],
        forced: bool,
    ) -> Result<Vec<Option<SecretPayload>>, Error> {
        self.backends.fetch_all(requests, forced, &self.vars).await
    }
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
    #[cfg_attr(docsrs, doc(cfg(feature = "sdk")))]
    pub fn sdk_client(mut self, client: aws_sdk_secretsmanager::Client) -> Self {
        self.sdk_client = Some(client);
        self
    }

    /// A Parameter Store client to use instead of one built from the `aws-config` defaults.
    #[cfg(feature = "ssm")]
    #[cfg_attr(docsrs, doc(cfg(feature = "ssm")))]
    pub fn ssm_client(mut self, client: aws_sdk_ssm::Client) -> Self {
        self.ssm_client = Some(client);
        self
    }

    /// Builds the provider. No I/O happens until the first fetch.
    #[must_use]
    pub fn build(self) -> Provider {
        Provider {
            vars: self.vars,
            backends: Backends {
                source: self.source,
                extension: ExtensionSource::new(self.extension),
                local: LocalSource {
                    path: self
                        .local_path
                        .unwrap_or_else(|| local::DEFAULT_PATH.into()),
                },
                #[cfg(feature = "sdk")]
                sdk: crate::backend::aws::SdkSource::new(
                    self.sdk_client,
                    #[cfg(feature = "ssm")]
                    self.ssm_client,
                ),
                flights: Flights::default(),
            },
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
