//! The AWS SDK source: `GetSecretValue` through `aws-sdk-secretsmanager`, configured by the
//! standard `aws-config` chain (region, credentials, `AWS_ENDPOINT_URL`).

use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_config::timeout::TimeoutConfig;
use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::SdkError;
use secrecy::zeroize::Zeroizing;
use tokio::sync::OnceCell;

use super::{ErrorCode, SecretRequest, SourceKind, error_chain};
use crate::Error;
use crate::document::{RawValue, SecretPayload};

/// The longest a `GetSecretValue` may take, retries included.
const OPERATION_TIMEOUT: Duration = Duration::from_secs(15);

/// One SDK client per provider, built on first use.
#[derive(Debug, Default)]
pub(crate) struct SdkSource {
    client: OnceCell<Client>,
}

impl SdkSource {
    pub(crate) fn with_client(client: Client) -> Self {
        Self {
            client: OnceCell::new_with(Some(client)),
        }
    }

    async fn client(&self) -> &Client {
        self.client
            .get_or_init(|| async {
                let timeouts = TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(3))
                    .operation_attempt_timeout(Duration::from_secs(5))
                    .operation_timeout(OPERATION_TIMEOUT)
                    .build();
                let config = aws_config::defaults(BehaviorVersion::latest())
                    .timeout_config(timeouts)
                    .load()
                    .await;
                Client::new(&config)
            })
            .await
    }

    pub(crate) async fn fetch(&self, request: &SecretRequest) -> Result<SecretPayload, Error> {
        let started = Instant::now();
        let send = self
            .client()
            .await
            .get_secret_value()
            .secret_id(&request.name)
            .set_version_stage(request.version_stage.map(str::to_owned))
            .set_version_id(request.version_id.map(str::to_owned))
            .send();
        // The SDK's own timeouts apply to clients this crate builds; this bound holds for
        // clients passed in with `ProviderBuilder::sdk_client` too.
        let output = match tokio::time::timeout(OPERATION_TIMEOUT + Duration::from_secs(1), send)
            .await
        {
            Ok(result) => result.map_err(|err| map_error(&request.name, err, started.elapsed()))?,
            Err(_) => {
                return Err(Error::TimedOut {
                    secret: request.name.clone(),
                    via: SourceKind::Sdk,
                    after: started.elapsed(),
                });
            }
        };
        let version_id = output.version_id().map(str::to_owned);
        let value = if let Some(text) = output.secret_string {
            RawValue::String(Zeroizing::new(text))
        } else if let Some(blob) = output.secret_binary {
            RawValue::Binary(Zeroizing::new(blob.into_inner()))
        } else {
            return Err(Error::InvalidResponse {
                secret: request.name.clone(),
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
}

fn map_error<E, R>(secret: &str, err: SdkError<E, R>, waited: Duration) -> Error
where
    E: aws_sdk_secretsmanager::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let secret = secret.to_owned();
    let via = SourceKind::Sdk;
    match &err {
        SdkError::ServiceError(service) => {
            let inner = service.err();
            let code = inner.code().unwrap_or("Unknown").to_owned();
            let message = inner.message().unwrap_or_default().to_owned();
            ErrorCode::of(&code).into_error(secret, via, code, message)
        }
        SdkError::TimeoutError(_) => Error::TimedOut {
            secret,
            via,
            after: waited,
        },
        SdkError::DispatchFailure(_) => Error::Unreachable {
            secret,
            endpoint: "Secrets Manager through the AWS SDK".into(),
            waited,
            attempts: 1,
            reason: error_chain(&err),
        },
        SdkError::ConstructionFailure(_) => Error::Config(format!(
            "the AWS SDK could not build the request for secret `{secret}`: {}",
            error_chain(&err)
        )),
        _ => Error::InvalidResponse {
            secret,
            via,
            reason: error_chain(&err),
        },
    }
}
