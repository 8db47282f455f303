//! Parameter Store through the AWS SDK (`aws-sdk-ssm`, the `ssm` feature): `GetParameters`,
//! decrypted, at most 10 names a call, all calls at once.

use std::time::Instant;

use aws_sdk_ssm::types::Parameter;
use secrecy::zeroize::Zeroizing;
use tracing::Instrument as _;

use super::SourceKind;
use super::sdk::{SdkSource, bounded, map_error, timed_out};
use crate::document::{RawValue, SecretPayload};
use crate::{Error, Item};

/// `GetParameters` takes at most this many names.
const BATCH_LIMIT: usize = 10;

/// One result per parameter, in order; a name the service lists as invalid (it does not
/// exist) is [`Error::NotFound`].
pub(crate) async fn get_parameters(
    sdk: &SdkSource,
    parameters: &[(usize, &str)],
) -> Vec<Result<SecretPayload, Error>> {
    let calls = parameters
        .chunks(BATCH_LIMIT)
        .map(|chunk| get_parameters_call(sdk, chunk.iter().map(|&(_, name)| name).collect()));
    futures_util::future::join_all(calls)
        .await
        .into_iter()
        .flatten()
        .collect()
}

async fn get_parameters_call(
    sdk: &SdkSource,
    names: Vec<&str>,
) -> Vec<Result<SecretPayload, Error>> {
    let span = tracing::info_span!(
        "parameter_batch_fetch",
        parameters = names.len(),
        latency_ms = tracing::field::Empty,
    );
    let started = Instant::now();
    let send = sdk
        .ssm_client()
        .await
        .get_parameters()
        .set_names(Some(names.iter().map(|&n| n.to_owned()).collect()))
        .with_decryption(true)
        .send();
    let result = bounded(send).instrument(span.clone()).await;
    span.record("latency_ms", started.elapsed().as_secs_f64() * 1e3);
    let output = match result {
        Some(Ok(output)) => output,
        Some(Err(err)) => {
            let waited = started.elapsed();
            return names
                .into_iter()
                .map(|name| Err(map_error(Item::parameter(name), &err, waited)))
                .collect();
        }
        None => {
            return names
                .into_iter()
                .map(|name| Err(timed_out(Item::parameter(name), started.elapsed())))
                .collect();
        }
    };
    let mut found = output.parameters.unwrap_or_default();
    let invalid = output.invalid_parameters.unwrap_or_default();
    names
        .into_iter()
        .map(|name| {
            let item = Item::parameter(name);
            if let Some(position) = found.iter().position(|p| answers(p, name)) {
                return payload(item, found.swap_remove(position));
            }
            if invalid.iter().any(|n| n == name) {
                return Err(Error::NotFound {
                    item,
                    via: SourceKind::Sdk,
                });
            }
            Err(Error::InvalidResponse {
                item,
                via: SourceKind::Sdk,
                reason: "GetParameters returned neither the parameter nor it as invalid".into(),
            })
        })
        .collect()
}

/// Whether `parameter` is the answer for `requested`: by name, by name and selector
/// (`name:label`, `name:3`), or by ARN.
fn answers(parameter: &Parameter, requested: &str) -> bool {
    let name = parameter.name.as_deref().unwrap_or_default();
    let selector = parameter.selector.as_deref().unwrap_or_default();
    requested == name
        || parameter.arn.as_deref() == Some(requested)
        || (!selector.is_empty() && requested.strip_suffix(selector) == Some(name))
}

fn payload(item: Item, parameter: Parameter) -> Result<SecretPayload, Error> {
    let Some(value) = parameter.value else {
        return Err(Error::InvalidResponse {
            item,
            via: SourceKind::Sdk,
            reason: "the parameter has no `Value`".into(),
        });
    };
    Ok(SecretPayload {
        value: RawValue::String(Zeroizing::new(value)),
        version_id: Some(parameter.version.to_string()),
        via: SourceKind::Sdk,
    })
}
