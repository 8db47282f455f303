//! Parameter Store through the AWS SDK (`aws-sdk-ssm`, the `ssm` feature): `GetParameters`,
//! decrypted, at most 10 names a call, all calls at once.

use aws_sdk_ssm::types::Parameter;
use secrecy::zeroize::Zeroizing;

use super::{BatchCall, SdkSource, Unclaimed, Wipe};
use crate::document::{RawValue, SecretPayload};
use crate::{Error, Item, SourceKind};

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

/// One `GetParameters` call: one result per name, in order. A denied call of several names
/// asks for each on its own.
async fn get_parameters_call(
    sdk: &SdkSource,
    names: Vec<&str>,
) -> Vec<Result<SecretPayload, Error>> {
    let call = BatchCall::parameters(names.len());
    let send = sdk
        .ssm_client()
        .await
        .get_parameters()
        .set_names(Some(names.iter().map(|&n| n.to_owned()).collect()))
        .with_decryption(true)
        .send();
    let output = match call.send(send).await {
        Ok(output) => output,
        // One name the role may not read fails the whole call: ask for each on its own, so
        // that only that one is reported.
        Err(failure) if names.len() > 1 && failure.denied() => {
            tracing::debug!(parent: call.span(), "GetParameters was denied; asking for each parameter");
            let each = names
                .iter()
                .map(|&name| get_parameters_call(sdk, vec![name]));
            return futures_util::future::join_all(each)
                .await
                .into_iter()
                .flatten()
                .collect();
        }
        Err(failure) => return failure.for_each(names.into_iter().map(Item::parameter)),
    };
    let mut found = Unclaimed::new();
    found.extend(output.parameters.unwrap_or_default());
    let invalid = output.invalid_parameters.unwrap_or_default();
    let results = names
        .into_iter()
        .map(|name| {
            let item = Item::parameter(name);
            if let Some(parameter) = found.claim(|p| answers(p, name)) {
                return payload(item, parameter);
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
                cause: None,
            })
        })
        .collect();
    // Values nobody asked for are wiped too.
    drop(found);
    results
}

/// A parameter of a `GetParameters` answer: its value.
impl Wipe for Parameter {
    fn wipe(self) {
        drop(self.value.map(Zeroizing::new));
    }
}

/// Whether `parameter` is the answer for `requested`: its name or ARN followed by its
/// selector (`:label`, `:3`) if it was asked for with one.
fn answers(parameter: &Parameter, requested: &str) -> bool {
    let selector = parameter.selector.as_deref().unwrap_or_default();
    let Some(base) = requested.strip_suffix(selector) else {
        return false;
    };
    parameter.name.as_deref() == Some(base) || parameter.arn.as_deref() == Some(base)
}

fn payload(item: Item, parameter: Parameter) -> Result<SecretPayload, Error> {
    let Some(value) = parameter.value else {
        return Err(Error::InvalidResponse {
            item,
            via: SourceKind::Sdk,
            reason: "the parameter has no `Value`".into(),
            cause: None,
        });
    };
    Ok(SecretPayload {
        value: RawValue::String(Zeroizing::new(value)),
        version_id: Some(parameter.version.to_string()),
        via: SourceKind::Sdk,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parameter(name: &str, selector: Option<&str>) -> Parameter {
        Parameter::builder()
            .name(name)
            .set_selector(selector.map(str::to_owned))
            .arn(format!("arn:aws:ssm:us-east-1:1:parameter{name}"))
            .build()
    }

    #[test]
    fn answers_match_name_arn_and_selector_exactly() {
        let plain = parameter("/x", None);
        let third = parameter("/x", Some(":3"));
        assert!(answers(&plain, "/x"));
        assert!(answers(&plain, "arn:aws:ssm:us-east-1:1:parameter/x"));
        assert!(!answers(&plain, "/x:3"));
        assert!(answers(&third, "/x:3"));
        assert!(answers(&third, "arn:aws:ssm:us-east-1:1:parameter/x:3"));
        assert!(
            !answers(&third, "/x"),
            "a plain name is not answered by a version"
        );
        assert!(!answers(&plain, "/y"));
    }
}
