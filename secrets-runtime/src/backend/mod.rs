//! Where secrets come from: the extension's HTTP API (`extension`), the AWS SDK (`aws`), or
//! local files and variables (`local`); and the routing between them (`Backends`), with
//! auto mode's fallback, the bounds of a load, and fetches shared by loads (`flights`).

use std::future::Future;
use std::str::FromStr;
use std::time::{Duration, Instant};

use tracing::Instrument as _;

use self::extension::ExtensionSource;
use self::flights::{Flights, Terms};
use self::local::LocalSource;
use crate::clock::Deadline;
use crate::document::SecretPayload;
use crate::vars::Vars;

use crate::{Error, Item, SourceKind};

#[cfg(feature = "sdk")]
pub(crate) mod aws;
pub(crate) mod extension;
pub(crate) mod flights;
pub(crate) mod local;

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

/// The backends of one provider, and the routing between them: which is asked, auto mode's
/// fallback, the bounds of a load, and the fetches that loads share.
pub(crate) struct Backends {
    pub(crate) source: Source,
    pub(crate) extension: ExtensionSource,
    pub(crate) local: LocalSource,
    #[cfg(feature = "sdk")]
    pub(crate) sdk: aws::SdkSource,
    /// The items being fetched: loads of the same item at once share one fetch.
    pub(crate) flights: Flights,
}

/// In auto mode on Lambda with the SDK to fall back on: how long a request under way at the
/// extension deadline may still take.
const LAST_REQUEST: Duration = Duration::from_secs(1);

impl Backends {
    /// The longest one fetch through this provider takes, of running time: the extension's
    /// deadline and the request under way then, the SDK's bound for a whole load, or both in
    /// auto mode (files have no timeout: a few seconds).
    pub(crate) fn fetch_bound(&self) -> Duration {
        #[cfg(feature = "sdk")]
        let sdk = aws::SDK_LOAD_BOUND;
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
            // With the SDK to fall back on: on Lambda the deadline and a second for the request
            // under way then, elsewhere one request; then the SDK (see `fetch_auto`).
            Source::Auto if cfg!(feature = "sdk") => {
                let request = self.extension.request_timeout();
                let on_lambda = self
                    .extension
                    .deadline()
                    .saturating_add(request.min(LAST_REQUEST));
                on_lambda.max(request).saturating_add(sdk)
            }
            Source::Auto => extension,
        }
    }

    /// The longest one load takes, of running time: [`Backends::fetch_bound`], and the time a
    /// load that joined another's fetch may wait for it before fetching on its own.
    pub(crate) fn load_bound(&self) -> Duration {
        self.fetch_bound().saturating_add(crate::clock::JOIN_MARGIN)
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
        forced: bool,
        vars: &Vars,
    ) -> Result<Vec<Option<SecretPayload>>, Error> {
        // A load joins the fetch of an item that another load through this provider is
        // making: two structs that read one secret at once get one version.
        let timed_out = |request: &Request, after| Error::TimedOut {
            item: request.item(),
            via: self.source_kind(),
            after,
        };
        let terms = Terms {
            forced,
            budget: self.load_bound(),
            timed_out: &timed_out,
        };
        let results = self
            .flights
            .fetch(requests, terms, |requests| self.route(requests, vars))
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

    /// Fetches `requests` from the configured source (see [`Backends::fetch_all`]).
    async fn route(
        &self,
        requests: Vec<&Request>,
        vars: &Vars,
    ) -> Vec<Result<SecretPayload, Error>> {
        match self.source {
            Source::Local => {
                let mut results = Vec::with_capacity(requests.len());
                for request in requests {
                    results.push(traced(request, self.local.fetch(request, vars)).await);
                }
                results
            }
            Source::Extension => {
                let deadline = Deadline::after(self.extension.deadline());
                let grace = self.extension.request_timeout();
                self.fetch_extension(&requests, vars, &deadline, grace, true)
                    .await
            }
            Source::Sdk => self.fetch_sdk(&requests).await,
            Source::Auto => self.fetch_auto(&requests, vars).await,
        }
    }

    /// Through the extension, at most its connection limit
    /// (`PARAMETERS_SECRETS_EXTENSION_MAX_CONNECTIONS`) at once across this provider's loads,
    /// all within one `deadline`:
    /// retries stop there, and a request still running then gets at most `grace` more.
    async fn fetch_extension(
        &self,
        requests: &[&Request],
        vars: &Vars,
        deadline: &Deadline,
        grace: Duration,
        wait_for_listener: bool,
    ) -> Vec<Result<SecretPayload, Error>> {
        let token = match self.extension.token(vars).await {
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

    async fn fetch_auto(
        &self,
        requests: &[&Request],
        vars: &Vars,
    ) -> Vec<Result<SecretPayload, Error>> {
        let on_lambda = vars
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
            .fetch_extension(requests, vars, &deadline, grace, !fallback)
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
    /// within [`SDK_LOAD_BOUND`](aws::SDK_LOAD_BOUND) of running time.
    #[cfg(feature = "sdk")]
    async fn fetch_sdk(&self, requests: &[&Request]) -> Vec<Result<SecretPayload, Error>> {
        use aws::SDK_LOAD_BOUND;
        crate::clock::timeout(SDK_LOAD_BOUND, self.sdk.fetch_all(requests))
            .await
            .unwrap_or_else(|| {
                requests
                    .iter()
                    .map(|request| Err(aws::timed_out(request.item(), SDK_LOAD_BOUND)))
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

/// A transport failure as an [`Error`] keeps it: its text with every cause (`reason`), and the
/// error itself (`cause`).
pub(crate) fn transport_error(
    err: impl std::error::Error + Send + Sync + 'static,
) -> (String, crate::error::Cause) {
    (error_chain(&err), std::sync::Arc::new(err))
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
