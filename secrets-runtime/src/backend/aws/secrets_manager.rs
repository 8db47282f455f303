//! Secrets Manager through the SDK: `BatchGetSecretValue` (paged, at most 20 ids a call) and
//! `GetSecretValue` (a lone or pinned secret, and any the batch answer does not name).

use std::time::Instant;

use aws_sdk_secretsmanager::types::SecretValueEntry;
use secrecy::zeroize::Zeroizing;

use super::{BatchCall, CallFailure, SdkSource, Unclaimed, Wipe};
use crate::backend::{Request, SecretRequest, traced};
use crate::document::{RawValue, SecretPayload};
use crate::error::ErrorCode;
use crate::{Error, Item, SourceKind};

/// `BatchGetSecretValue` takes at most this many secret ids.
pub(super) const BATCH_LIMIT: usize = 20;

impl SdkSource {
    /// One `BatchGetSecretValue` call: one result per secret, in order. Errors the service
    /// reports for single secrets stay with those secrets.
    pub(super) async fn batch_get_secret_value(
        &self,
        secrets: &[(usize, &SecretRequest)],
    ) -> Vec<Result<SecretPayload, Error>> {
        let call = BatchCall::secrets(secrets.len());
        let names: Vec<String> = secrets.iter().map(|(_, s)| s.name.clone()).collect();
        // Every page: an answer may carry a `NextToken` for the rest. At most one page per
        // secret (each page brings at least one), so a service that kept paging cannot loop.
        let mut values = Unclaimed::new();
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
            let output = match call.send(send).await {
                Ok(output) => output,
                Err(failure) if failure.denied() => {
                    // The role may read each secret but not batch them: one call per secret.
                    tracing::warn!(
                        parent: call.span(),
                        "BatchGetSecretValue was denied; reading each secret with \
                         GetSecretValue (allow secretsmanager:BatchGetSecretValue for one call)"
                    );
                    drop(values);
                    return self.get_each(secrets).await;
                }
                Err(failure) => {
                    drop(values);
                    return failure.for_each(names.into_iter().map(Item::Secret));
                }
            };
            values.extend(output.secret_values.unwrap_or_default());
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
            let found = values.claim(|v| {
                v.name.as_deref() == Some(name.as_str()) || v.arn.as_deref() == Some(name.as_str())
            });
            results.push(if let Some(found) = found {
                Some(entry_payload(found, name.clone()))
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

    pub(super) async fn get_secret_value(
        &self,
        request: &SecretRequest,
    ) -> Result<SecretPayload, Error> {
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
            .map_err(|err| CallFailure::new(err, started.elapsed()).error(item()))?;
        let version_id = output.version_id().map(str::to_owned);
        payload(
            item(),
            output.secret_string,
            output.secret_binary,
            version_id,
        )
    }
}

/// A secret of a `BatchGetSecretValue` answer: its string or binary value.
impl Wipe for SecretValueEntry {
    fn wipe(self) {
        drop(self.secret_string.map(Zeroizing::new));
        drop(self.secret_binary.map(|b| Zeroizing::new(b.into_inner())));
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
            cause: None,
        });
    };
    Ok(SecretPayload {
        value,
        version_id,
        via: SourceKind::Sdk,
    })
}
