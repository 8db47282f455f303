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
use crate::error::{Cause, ErrorCode};
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
#[derive(Debug)]
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
                    Err(Error::Internal(format!(
                        "{} was not fetched",
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
    ) -> Result<T, CallFailure>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let result = send.instrument(self.span.clone()).await;
        let waited = self.started.elapsed();
        self.span.record("latency_ms", waited.as_secs_f64() * 1e3);
        result.map_err(|err| CallFailure::new(err, waited))
    }
}

/// A failed SDK call (any AWS SDK: the error types are shared), read once: the error for any
/// item it was about. It keeps no response: a body is never part of an error.
pub(super) struct CallFailure {
    kind: Failure,
    /// How long the call had taken.
    waited: Duration,
}

/// What a [`CallFailure`] was.
enum Failure {
    /// The service answered with an error: its HTTP status, its code (when readable) and its
    /// message.
    Service {
        status: u16,
        code: Option<String>,
        message: String,
    },
    /// The call timed out.
    TimedOut,
    /// The request could not be sent (connection refused, reset, DNS): the text of the error
    /// with its causes, and the error.
    Dispatch {
        reason: String,
        cause: Option<Cause>,
    },
    /// The SDK could not build the request.
    Construction { reason: String },
    /// The answer could not be read (or any failure of a kind the SDK may add).
    Response {
        reason: String,
        cause: Option<Cause>,
    },
}

impl CallFailure {
    /// Reads the SDK's error of a call that had taken `waited`.
    pub(super) fn new<E>(err: SdkError<E, HttpResponse>, waited: Duration) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        let kind = match &err {
            SdkError::ServiceError(service) => Some(Failure::Service {
                status: service.raw().status().as_u16(),
                code: service.err().code().map(str::to_owned),
                message: service.err().message().unwrap_or_default().to_owned(),
            }),
            SdkError::TimeoutError(_) => Some(Failure::TimedOut),
            SdkError::ConstructionFailure(_) => Some(Failure::Construction {
                reason: error_chain(&err),
            }),
            _ => None,
        };
        let kind = kind.unwrap_or_else(|| {
            let reason = error_chain(&err);
            let dispatch = matches!(err, SdkError::DispatchFailure(_));
            // The error under the SDK's own layer (`dispatch failure`, `response error`),
            // without the raw response that a `ResponseError` holds.
            let cause = err.into_source().ok().map(Cause::from);
            if dispatch {
                Failure::Dispatch { reason, cause }
            } else {
                Failure::Response { reason, cause }
            }
        });
        Self { kind, waited }
    }

    /// Whether the service denied the call (`AccessDenied`): the role may still read the items
    /// one by one.
    pub(super) fn denied(&self) -> bool {
        matches!(
            &self.kind,
            Failure::Service { code: Some(code), .. } if ErrorCode::of(code) == ErrorCode::AccessDenied
        )
    }

    /// The call's result: its error for each of `items`.
    pub(super) fn for_each(
        &self,
        items: impl Iterator<Item = Item>,
    ) -> Vec<Result<SecretPayload, Error>> {
        items.map(|item| Err(self.error(item))).collect()
    }

    /// The error for `item`.
    pub(super) fn error(&self, item: Item) -> Error {
        let via = SourceKind::Sdk;
        match &self.kind {
            Failure::Service {
                status,
                code: Some(code),
                message,
            } => ErrorCode::of(code).into_error(
                item,
                via,
                Some(*status),
                code.clone(),
                message.clone(),
            ),
            // No readable error code (a proxy, or an endpoint answering with XML or nothing):
            // the status decides; 403 says access was refused.
            Failure::Service {
                status: 403,
                code: None,
                ..
            } => Error::AccessDenied {
                item,
                via,
                message: "HTTP 403 without an AWS error code".into(),
            },
            Failure::Service {
                status,
                code: None,
                message,
            } => Error::Service {
                item,
                via,
                status: Some(*status),
                code: format!("HTTP {status}"),
                message: message.clone(),
            },
            Failure::TimedOut => Error::TimedOut {
                item,
                via,
                after: self.waited,
            },
            Failure::Dispatch { reason, cause } => Error::Unreachable {
                endpoint: match &item {
                    Item::Secret(_) => "Secrets Manager through the AWS SDK".into(),
                    Item::Parameter(_) => "Parameter Store through the AWS SDK".into(),
                },
                item,
                waited: self.waited,
                attempts: 1,
                reason: reason.clone(),
                cause: cause.clone(),
            },
            Failure::Construction { reason } => Error::Config(format!(
                "the AWS SDK could not build the request for {item}: {reason}"
            )),
            Failure::Response { reason, cause } => Error::InvalidResponse {
                item,
                via,
                reason: reason.clone(),
                cause: cause.clone(),
            },
        }
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

#[cfg(test)]
mod tests {
    use aws_sdk_secretsmanager::error::ConnectorError;
    use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueError;

    use super::*;

    /// A call that could not be sent is `Unreachable` with the connector's error as its
    /// `source()`, down to the OS's; the message is the SDK's whole chain, as before.
    #[test]
    fn a_dispatch_failure_keeps_its_cause() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let err: SdkError<GetSecretValueError, HttpResponse> =
            SdkError::dispatch_failure(ConnectorError::io(Box::new(refused)));
        let err = CallFailure::new(err, Duration::from_millis(5)).error(Item::secret("s"));
        assert!(
            matches!(&err, Error::Unreachable { cause: Some(_), .. }),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            "could not reach Secrets Manager through the AWS SDK for secret `s` after 5ms \
             (1 attempts): dispatch failure: io error: connection refused"
        );
        let first = std::error::Error::source(&err).expect("a source");
        assert_eq!(first.to_string(), "io error");
        let kinds: Vec<_> = std::iter::successors(Some(first), |e| e.source())
            .filter_map(|e| e.downcast_ref::<std::io::Error>())
            .map(std::io::Error::kind)
            .collect();
        assert_eq!(kinds, [std::io::ErrorKind::ConnectionRefused]);
    }

    /// Errors that are not transport errors have no cause: a timeout, a service's answer.
    #[test]
    fn other_failures_have_no_source() {
        let timeout: SdkError<GetSecretValueError, HttpResponse> =
            SdkError::timeout_error("too slow");
        let err = CallFailure::new(timeout, Duration::from_secs(4)).error(Item::secret("s"));
        assert!(matches!(&err, Error::TimedOut { .. }), "{err:?}");
        assert!(std::error::Error::source(&err).is_none());
    }
}
