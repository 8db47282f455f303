//! The AWS SDK source: `GetSecretValue` and `BatchGetSecretValue` through
//! `aws-sdk-secretsmanager` (and Parameter Store through `aws-sdk-ssm` with the `ssm`
//! feature), configured by the standard `aws-config` chain (region, credentials,
//! `AWS_ENDPOINT_URL`).

use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::http::HttpResponse;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata as _, SdkError};
use aws_sdk_secretsmanager::types::SecretValueEntry;
use secrecy::zeroize::Zeroizing;
use tokio::sync::OnceCell;
use tracing::Instrument as _;

use super::{ErrorCode, Request, SecretRequest, SourceKind, error_chain};
use crate::document::{RawValue, SecretPayload};
use crate::provider::traced;
use crate::{Error, Item};

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
/// `BatchGetSecretValue` takes at most this many secret ids.
const BATCH_LIMIT: usize = 20;

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
                .chunks(BATCH_LIMIT)
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

    /// One `BatchGetSecretValue` call: one result per secret, in order. Errors the service
    /// reports for single secrets stay with those secrets.
    async fn batch_get_secret_value(
        &self,
        secrets: &[(usize, &SecretRequest)],
    ) -> Vec<Result<SecretPayload, Error>> {
        let span = tracing::info_span!(
            "secret_batch_fetch",
            secrets = secrets.len(),
            latency_ms = tracing::field::Empty,
        );
        let started = Instant::now();
        let names: Vec<String> = secrets.iter().map(|(_, s)| s.name.clone()).collect();
        // Every page: an answer may carry a `NextToken` for the rest. At most one page per
        // secret (each page brings at least one), so a service that kept paging cannot loop.
        // Wiped when dropped, however this ends (an error, or the load's bound dropping it
        // between two pages).
        let mut values = Unclaimed(Vec::new());
        let mut errors = Vec::new();
        let mut next_token = None;
        for _ in 0..secrets.len() {
            let send = self
                .client()
                .await
                .batch_get_secret_value()
                .set_secret_id_list(Some(names.clone()))
                .set_next_token(next_token.take())
                .send();
            // No bound of its own: the whole load is bounded (`SDK_LOAD_BOUND`).
            let result = send.instrument(span.clone()).await;
            span.record("latency_ms", started.elapsed().as_secs_f64() * 1e3);
            let output = match result {
                Ok(output) => output,
                Err(SdkError::ServiceError(service))
                    if ErrorCode::of(service.err().code().unwrap_or_default())
                        == ErrorCode::AccessDenied =>
                {
                    // The role may read each secret but not batch them: one call per secret.
                    tracing::warn!(
                        parent: &span,
                        "BatchGetSecretValue was denied; reading each secret with \
                         GetSecretValue (allow secretsmanager:BatchGetSecretValue for one call)"
                    );
                    drop(values);
                    return self.get_each(secrets).await;
                }
                Err(err) => {
                    drop(values);
                    let waited = started.elapsed();
                    let items = names.into_iter().map(Item::Secret);
                    return failed_call(items, |item| map_error(item, &err, waited));
                }
            };
            values.0.extend(output.secret_values.unwrap_or_default());
            errors.extend(output.errors.unwrap_or_default());
            next_token = output.next_token;
            if next_token.is_none() {
                break;
            }
        }
        let mut results: Vec<Option<Result<SecretPayload, Error>>> = Vec::new();
        let mut unnamed = Vec::new();
        for (position, &(_, secret)) in secrets.iter().enumerate() {
            let name = &secret.name;
            let found = values.0.iter().position(|v| {
                v.name.as_deref() == Some(name.as_str()) || v.arn.as_deref() == Some(name.as_str())
            });
            results.push(if let Some(found) = found {
                Some(entry_payload(values.0.swap_remove(found), name.clone()))
            } else if let Some(error) = errors.iter().find(|e| e.secret_id.as_ref() == Some(name)) {
                let code = error.error_code.clone().unwrap_or_else(|| "Unknown".into());
                let message = error.message.clone().unwrap_or_default();
                let item = Item::Secret(name.clone());
                Some(Err(ErrorCode::of(&code).into_error(
                    item,
                    SourceKind::Sdk,
                    None,
                    code,
                    message,
                )))
            } else {
                // Named in a form the answer does not repeat (a partial ARN), or on a page
                // never sent: asked on its own, all such at once.
                unnamed.push((position, secret));
                None
            });
        }
        // Values nobody asked for are wiped too.
        drop(values);
        for ((position, _), result) in unnamed.iter().zip(self.get_each(&unnamed).await) {
            results[*position] = Some(result);
        }
        results
            .into_iter()
            .map(|result| result.expect("every secret has a result"))
            .collect()
    }

    /// `GetSecretValue` for each secret, all at once: one result per secret, in order.
    async fn get_each(
        &self,
        secrets: &[(usize, &SecretRequest)],
    ) -> Vec<Result<SecretPayload, Error>> {
        futures_util::future::join_all(secrets.iter().map(|&(_, secret)| {
            let request = Request::Secret(secret.clone());
            async move { traced(&request, self.get_secret_value(secret)).await }
        }))
        .await
    }

    async fn get_secret_value(&self, request: &SecretRequest) -> Result<SecretPayload, Error> {
        let started = Instant::now();
        let send = self
            .client()
            .await
            .get_secret_value()
            .secret_id(&request.name)
            .set_version_stage(request.version_stage.map(str::to_owned))
            .set_version_id(request.version_id.map(str::to_owned))
            .send();
        let item = || Item::secret(&request.name);
        let output = send
            .await
            .map_err(|err| map_error(item(), &err, started.elapsed()))?;
        let version_id = output.version_id().map(str::to_owned);
        payload(
            item(),
            output.secret_string,
            output.secret_binary,
            version_id,
        )
    }

    #[cfg(feature = "ssm")]
    async fn get_parameters(
        &self,
        parameters: &[(usize, &str)],
    ) -> Vec<Result<SecretPayload, Error>> {
        crate::source::ssm::get_parameters(self, parameters).await
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

/// The result for every item of a batch call that failed as a whole.
pub(crate) fn failed_call(
    items: impl Iterator<Item = Item>,
    error: impl Fn(Item) -> Error,
) -> Vec<Result<SecretPayload, Error>> {
    items.map(|item| Err(error(item))).collect()
}

pub(crate) fn timed_out(item: Item, after: Duration) -> Error {
    Error::TimedOut {
        item,
        via: SourceKind::Sdk,
        after,
    }
}

/// Values of a batch answer not handed to a field yet: wiped when dropped.
struct Unclaimed(Vec<aws_sdk_secretsmanager::types::SecretValueEntry>);

impl Drop for Unclaimed {
    fn drop(&mut self) {
        for entry in self.0.drain(..) {
            drop(entry.secret_string.map(Zeroizing::new));
            drop(entry.secret_binary.map(|b| Zeroizing::new(b.into_inner())));
        }
    }
}

fn entry_payload(entry: SecretValueEntry, name: String) -> Result<SecretPayload, Error> {
    payload(
        Item::Secret(name),
        entry.secret_string,
        entry.secret_binary,
        entry.version_id,
    )
}

fn payload(
    item: Item,
    string: Option<String>,
    binary: Option<aws_sdk_secretsmanager::primitives::Blob>,
    version_id: Option<String>,
) -> Result<SecretPayload, Error> {
    let value = if let Some(text) = string {
        RawValue::String(Zeroizing::new(text))
    } else if let Some(blob) = binary {
        RawValue::Binary(Zeroizing::new(blob.into_inner()))
    } else {
        return Err(Error::InvalidResponse {
            item,
            via: SourceKind::Sdk,
            reason: "neither `SecretString` nor `SecretBinary` is present".into(),
        });
    };
    Ok(SecretPayload {
        value,
        version_id,
        via: SourceKind::Sdk,
    })
}

/// The error for a failed SDK call about `item` (any AWS SDK: the error types are shared).
pub(crate) fn map_error<E>(item: Item, err: &SdkError<E, HttpResponse>, waited: Duration) -> Error
where
    E: aws_sdk_secretsmanager::error::ProvideErrorMetadata + std::error::Error + 'static,
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
