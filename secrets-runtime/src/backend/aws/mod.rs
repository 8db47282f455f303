//! The AWS SDK backend: what Secrets Manager (`secrets_manager`) and Parameter Store (`ssm`,
//! the `ssm` feature) share: the clients, built from one `aws-config` load (region,
//! credentials, `AWS_ENDPOINT_URL`) with this crate's timeouts, the split of a load's requests
//! into calls, one batch call's span and failure (`BatchCall`), the values of a batch answer
//! not claimed yet (`Unclaimed`), and the errors of a failed call.

mod secrets_manager;
#[cfg(feature = "ssm")]
mod ssm;

use std::future::Future;
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::http::HttpResponse;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use tokio::sync::OnceCell;
use tracing::Instrument as _;

use super::{Request, SecretRequest, error_chain, traced};
use crate::document::SecretPayload;
use crate::error::ErrorCode;
use crate::{Error, Item, SourceKind};

/// The longest one SDK call may take, retries included.
pub(crate) const OPERATION_TIMEOUT: Duration = Duration::from_secs(4);
/// The longest a whole load through the SDK may take (loading the `aws-config` defaults, the
/// calls and their fallbacks), counting only the time the process runs: well under Lambda's
/// 10 s INIT limit.
pub(crate) const SDK_LOAD_BOUND: Duration = Duration::from_secs(5);
/// The longest one attempt of an SDK call may take.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(3);
/// The longest connecting to the SDK's endpoint may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// The SDK clients of a provider, built on first use from one `aws-config` load.
#[derive(Debug, Default)]
pub(crate) struct SdkSource {
    config: OnceCell<aws_config::SdkConfig>,
    client: OnceCell<Client>,
    #[cfg(feature = "ssm")]
    ssm: OnceCell<aws_sdk_ssm::Client>,
}

impl SdkSource {
    pub(crate) fn new(
        client: Option<Client>,
        #[cfg(feature = "ssm")] ssm: Option<aws_sdk_ssm::Client>,
    ) -> Self {
        Self {
            config: OnceCell::new(),
            client: OnceCell::new_with(client),
            #[cfg(feature = "ssm")]
            ssm: OnceCell::new_with(ssm),
        }
    }

    /// The shared `aws-config` defaults, with this crate's timeouts.
    pub(crate) async fn config(&self) -> &aws_config::SdkConfig {
        self.config
            .get_or_init(|| async {
                let timeouts = TimeoutConfig::builder()
                    .connect_timeout(CONNECT_TIMEOUT)
                    .operation_attempt_timeout(ATTEMPT_TIMEOUT)
                    .operation_timeout(OPERATION_TIMEOUT)
                    .build();
                aws_config::defaults(BehaviorVersion::latest())
                    .timeout_config(timeouts)
                    .load()
                    .await
            })
            .await
    }

    async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| async { Client::new(self.config().await) })
            .await
    }

    #[cfg(feature = "ssm")]
    pub(crate) async fn ssm_client(&self) -> &aws_sdk_ssm::Client {
        self.ssm
            .get_or_init(|| async { aws_sdk_ssm::Client::new(self.config().await) })
            .await
    }

    /// Fetches every request, one result per request: secrets in `BatchGetSecretValue` calls
    /// of at most 20 (a lone secret, or one pinned to a version, with `GetSecretValue`),
    /// parameters in `GetParameters` calls of at most 10; all calls at once.
    pub(crate) async fn fetch_all(
        &self,
        requests: &[&Request],
    ) -> Vec<Result<SecretPayload, Error>> {
        // Boxed: its awaits would otherwise add their size to every load's future.
        if let Some(errors) = Box::pin(self.without_region(requests)).await {
            return errors;
        }
        let mut batched: Vec<(usize, &SecretRequest)> = Vec::new();
        let mut single: Vec<(usize, &Request)> = Vec::new();
        let mut parameters: Vec<(usize, &str)> = Vec::new();
        for (index, request) in requests.iter().enumerate() {
            match request {
                Request::Secret(secret)
                    if secret.version_stage.is_none() && secret.version_id.is_none() =>
                {
                    batched.push((index, secret));
                }
                Request::Secret(_) => single.push((index, request)),
                Request::Parameter(name) => parameters.push((index, name)),
            }
        }
        if batched.len() == 1 {
            single.extend(batched.drain(..).map(|(index, _)| (index, requests[index])));
        }
        let singles = futures_util::future::join_all(single.iter().map(|&(_, request)| {
            traced(request, async move {
                match request {
                    Request::Secret(secret) => self.get_secret_value(secret).await,
                    Request::Parameter(_) => unreachable!("parameters are fetched in batches"),
                }
            })
        }));
        let batches = futures_util::future::join_all(
            batched
                .chunks(secrets_manager::BATCH_LIMIT)
                .map(|chunk| self.batch_get_secret_value(chunk)),
        );
        let parameter_results = self.get_parameters(&parameters);
        let (singles, batches, parameter_results) =
            futures_util::future::join3(singles, batches, parameter_results).await;

        let mut results: Vec<Option<Result<SecretPayload, Error>>> =
            std::iter::repeat_with(|| None)
                .take(requests.len())
                .collect();
        let numbered = single.iter().map(|&(index, _)| index).zip(singles);
        let batched_results = batched
            .iter()
            .map(|&(index, _)| index)
            .zip(batches.into_iter().flatten());
        let parameter_numbered = parameters
            .iter()
            .map(|&(index, _)| index)
            .zip(parameter_results);
        for (index, result) in numbered.chain(batched_results).chain(parameter_numbered) {
            results[index] = Some(result);
        }
        results
            .into_iter()
            .zip(requests)
            .map(|(result, request)| {
                result.unwrap_or_else(|| {
                    Err(Error::Config(format!(
                        "internal error: {} was not fetched",
                        request.item()
                    )))
                })
            })
            .collect()
    }

    /// A configuration error for every request if a client they need has no region: the SDK's
    /// own error for it does not say what to set.
    async fn without_region(
        &self,
        requests: &[&Request],
    ) -> Option<Vec<Result<SecretPayload, Error>>> {
        let needs = |parameter: bool| {
            requests
                .iter()
                .any(|request| matches!(request, Request::Parameter(_)) == parameter)
        };
        #[allow(unused_mut)]
        let mut missing = needs(false) && self.client().await.config().region().is_none();
        #[cfg(feature = "ssm")]
        {
            missing |= needs(true) && self.ssm_client().await.config().region().is_none();
        }
        missing.then(|| {
            requests
                .iter()
                .map(|request| {
                    Err(Error::Config(format!(
                        "the AWS SDK has no region for {}: set AWS_REGION (or the region of the \
                         AWS profile in use), or pass a client that has one to \
                         `ProviderBuilder::sdk_client`",
                        request.item()
                    )))
                })
                .collect()
        })
    }

    #[cfg(feature = "ssm")]
    async fn get_parameters(
        &self,
        parameters: &[(usize, &str)],
    ) -> Vec<Result<SecretPayload, Error>> {
        ssm::get_parameters(self, parameters).await
    }

    #[cfg(not(feature = "ssm"))]
    #[allow(clippy::unused_async)]
    async fn get_parameters(
        &self,
        parameters: &[(usize, &str)],
    ) -> Vec<Result<SecretPayload, Error>> {
        parameters
            .iter()
            .map(|(_, name)| {
                Err(Error::Config(format!(
                    "parameter `{name}` can be read through the AWS SDK only with the `ssm` \
                     feature of secrets-runtime (the extension reads it without)"
                )))
            })
            .collect()
    }
}

/// A value of a batch answer that holds secret material.
pub(super) trait Wipe {
    /// Drops the value, its secret material zeroized.
    fn wipe(self);
}

/// Values of batch answers not handed to a request yet. Those left when it is dropped are
/// wiped, however the call ends: all claimed, an error, or the load's bound dropping it
/// between two pages. Values nobody asked for are wiped too.
pub(super) struct Unclaimed<V: Wipe>(Vec<V>);

impl<V: Wipe> Unclaimed<V> {
    /// None yet.
    pub(super) fn new() -> Self {
        Self(Vec::new())
    }

    /// Adds the values of one answer (or page).
    pub(super) fn extend(&mut self, values: impl IntoIterator<Item = V>) {
        self.0.extend(values);
    }

    /// Takes the first value that `matches`, if any: it is the caller's to wipe from then on.
    pub(super) fn claim(&mut self, matches: impl FnMut(&V) -> bool) -> Option<V> {
        let position = self.0.iter().position(matches)?;
        Some(self.0.swap_remove(position))
    }
}

impl<V: Wipe> Drop for Unclaimed<V> {
    fn drop(&mut self) {
        for value in self.0.drain(..) {
            value.wipe();
        }
    }
}

/// One batch call (`BatchGetSecretValue`, `GetParameters`), of one page or several: its span
/// (`secret_batch_fetch` or `parameter_batch_fetch`, with the number of items and the latency
/// so far), and its failure, the same error for each item.
pub(super) struct BatchCall {
    span: tracing::Span,
    started: Instant,
}

impl BatchCall {
    /// A `BatchGetSecretValue` call for `count` secrets, starting now.
    pub(super) fn secrets(count: usize) -> Self {
        Self::new(tracing::info_span!(
            "secret_batch_fetch",
            secrets = count,
            latency_ms = tracing::field::Empty,
        ))
    }

    /// A `GetParameters` call for `count` parameters, starting now.
    #[cfg(feature = "ssm")]
    pub(super) fn parameters(count: usize) -> Self {
        Self::new(tracing::info_span!(
            "parameter_batch_fetch",
            parameters = count,
            latency_ms = tracing::field::Empty,
        ))
    }

    /// A call in `span`, starting now.
    fn new(span: tracing::Span) -> Self {
        Self {
            span,
            started: Instant::now(),
        }
    }

    /// The call's span, for its log lines.
    pub(super) fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Sends one request (one page) of the call in its span, and records the call's latency so
    /// far. No bound of its own: the whole load is bounded (`SDK_LOAD_BOUND`).
    pub(super) async fn send<T, E>(
        &self,
        send: impl Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    ) -> Result<T, CallFailure<E>> {
        let result = send.instrument(self.span.clone()).await;
        let waited = self.started.elapsed();
        self.span.record("latency_ms", waited.as_secs_f64() * 1e3);
        result.map_err(|err| CallFailure { err, waited })
    }
}

/// A batch call that failed as a whole.
pub(super) struct CallFailure<E> {
    err: SdkError<E, HttpResponse>,
    /// How long the call had taken.
    waited: Duration,
}

impl<E> CallFailure<E>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    /// Whether the service denied the call (`AccessDenied`): the role may still read the items
    /// one by one.
    pub(super) fn denied(&self) -> bool {
        matches!(
            &self.err,
            SdkError::ServiceError(service)
                if ErrorCode::of(service.err().code().unwrap_or_default())
                    == ErrorCode::AccessDenied
        )
    }

    /// The call's result: its error for each of `items`.
    pub(super) fn for_each(
        &self,
        items: impl Iterator<Item = Item>,
    ) -> Vec<Result<SecretPayload, Error>> {
        items
            .map(|item| Err(map_error(item, &self.err, self.waited)))
            .collect()
    }
}

/// The error for `item` when a whole load through the SDK took longer than `after`.
pub(crate) fn timed_out(item: Item, after: Duration) -> Error {
    Error::TimedOut {
        item,
        via: SourceKind::Sdk,
        after,
    }
}

/// The error for a failed SDK call about `item` (any AWS SDK: the error types are shared).
pub(crate) fn map_error<E>(item: Item, err: &SdkError<E, HttpResponse>, waited: Duration) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let via = SourceKind::Sdk;
    match err {
        SdkError::ServiceError(service) => {
            let inner = service.err();
            let status = service.raw().status().as_u16();
            let message = inner.message().unwrap_or_default().to_owned();
            match inner.code() {
                Some(code) => ErrorCode::of(code).into_error(
                    item,
                    via,
                    Some(status),
                    code.to_owned(),
                    message,
                ),
                // No readable error code (a proxy, or an endpoint answering with XML or
                // nothing): the status decides; 403 says access was refused.
                None if status == 403 => Error::AccessDenied {
                    item,
                    via,
                    message: "HTTP 403 without an AWS error code".into(),
                },
                None => Error::Service {
                    item,
                    via,
                    status: Some(status),
                    code: format!("HTTP {status}"),
                    message,
                },
            }
        }
        SdkError::TimeoutError(_) => Error::TimedOut {
            item,
            via,
            after: waited,
        },
        SdkError::DispatchFailure(_) => Error::Unreachable {
            endpoint: match &item {
                Item::Secret(_) => "Secrets Manager through the AWS SDK".into(),
                Item::Parameter(_) => "Parameter Store through the AWS SDK".into(),
            },
            item,
            waited,
            attempts: 1,
            reason: error_chain(err),
        },
        SdkError::ConstructionFailure(_) => Error::Config(format!(
            "the AWS SDK could not build the request for {item}: {}",
            error_chain(err)
        )),
        _ => Error::InvalidResponse {
            item,
            via,
            reason: error_chain(err),
        },
    }
}
