//! The one load path, used by the cache and by [`FromSecret::fetch`](crate::FromSecret::fetch):
//! a struct's items planned into requests (`plan`), fetched through the provider, and decoded
//! into its fields (`fields`), with a fingerprint that lets the cache skip decoding an
//! unchanged value.

pub(crate) mod fields;
pub(crate) mod plan;

use std::hash::{BuildHasher, Hasher, RandomState};
use std::sync::LazyLock;

use self::plan::Plan;
use crate::document::{RawValue, SecretPayload};
use crate::item::SourceKind;
use crate::{Error, FromSecret, Provider};

/// The key of fingerprints: random per process, so a fingerprint reveals nothing.
static FINGERPRINT_KEY: LazyLock<RandomState> = LazyLock::new(RandomState::new);

/// What one fetch brought, not decoded yet: the cache decodes it only if it differs from the
/// current value.
pub(crate) struct Fetched<T> {
    /// A keyed hash of everything the value is decoded from: equal fingerprints, equal values.
    pub(crate) fingerprint: u64,
    /// Who answered for the struct's own secret (else for its first source that exists).
    pub(crate) via: SourceKind,
    /// That source's version id, when it reports one.
    pub(crate) version_id: Option<String>,
    decode: Box<dyn FnOnce() -> Result<T, Error> + Send>,
}

impl<T> Fetched<T> {
    /// A fetch result whose value `decode` builds.
    pub(crate) fn new(
        fingerprint: u64,
        via: SourceKind,
        version_id: Option<String>,
        decode: impl FnOnce() -> Result<T, Error> + Send + 'static,
    ) -> Self {
        Self {
            fingerprint,
            via,
            version_id,
            decode: Box::new(decode),
        }
    }

    /// Decodes the value.
    pub(crate) fn decode(self) -> Result<T, Error> {
        (self.decode)()
    }
}

/// Plans the requests of `T`, makes them, and returns what decodes the answers.
pub(crate) async fn fetch<T: FromSecret>(
    provider: &Provider,
    forced: bool,
) -> Result<Fetched<T>, Error> {
    let plan = Plan::new::<T>(provider, forced)?;
    let payloads = provider.fetch_all(&plan.requests, forced).await?;
    // Its own secret speaks for the struct, else its first source that exists.
    let first = plan
        .own_secret()
        .and_then(|index| payloads[index].as_ref())
        .or_else(|| payloads.iter().flatten().next());
    let via = first.map_or(provider.source_kind(), |p| p.via);
    let version_id = first.and_then(|p| p.version_id.clone());
    Ok(Fetched::new(
        fingerprint(&payloads),
        via,
        version_id,
        move || fields::decode::<T>(&plan.documents(payloads)),
    ))
}

/// A keyed hash of what makes a struct's values: each source's answerer, version id and bytes
/// (or its absence).
fn fingerprint(payloads: &[Option<SecretPayload>]) -> u64 {
    let mut hasher = FINGERPRINT_KEY.build_hasher();
    for payload in payloads {
        let Some(payload) = payload else {
            hasher.write_u8(2);
            continue;
        };
        // Who answered is part of a value: a snapshot reports the source that answered last.
        std::hash::Hash::hash(&payload.via, &mut hasher);
        let version = payload.version_id.as_deref().unwrap_or_default();
        hasher.write_usize(version.len());
        hasher.write(version.as_bytes());
        let (tag, bytes) = match &payload.value {
            RawValue::String(text) => (0, text.as_bytes()),
            RawValue::Binary(bytes) => (1, bytes.as_slice()),
        };
        hasher.write_u8(tag);
        hasher.write_usize(bytes.len());
        hasher.write(bytes);
    }
    hasher.finish()
}

/// Fetches and decodes one value of `T`, bypassing every cache.
pub(crate) async fn fetch_value<T: FromSecret>(provider: &Provider) -> Result<T, Error> {
    fetch::<T>(provider, false).await?.decode()
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::__private::{Cache, Fields, Origin, Origins, SecretSpec};
    use crate::Source;

    /// A provider whose secret `app` is an empty JSON object.
    fn provider() -> Provider {
        Provider::builder()
            .source(Source::Local)
            .var("SECRETS_LOCAL_APP", "{}")
            .build()
    }

    /// The spec of both test structs: the secret `app`.
    const SPEC: SecretSpec = SecretSpec {
        name: "app",
        ttl: Duration::from_secs(300),
        ..SecretSpec::DEFAULT
    };

    /// What a broken derive might generate: no value, and no error either.
    struct Incomplete;

    impl FromSecret for Incomplete {
        const SPEC: SecretSpec = SPEC;

        fn read_fields(_: &mut Fields<'_>) -> Option<Self> {
            None
        }

        fn origins(origins: &mut Origins) {
            origins.add(Origin::Container);
        }

        fn field_specs(_: &mut crate::spec::FieldSpecs) {}

        fn cache() -> &'static Cache<Self> {
            unreachable!("only fetched")
        }
    }

    /// What a broken derive might generate: a field of a source it does not list.
    struct Unlisted;

    impl FromSecret for Unlisted {
        const SPEC: SecretSpec = SPEC;

        fn read_fields(fields: &mut Fields<'_>) -> Option<Self> {
            fields.binary(Origin::Secret("elsewhere")).map(|_| Unlisted)
        }

        fn origins(origins: &mut Origins) {
            origins.add(Origin::Container);
        }

        fn field_specs(_: &mut crate::spec::FieldSpecs) {}

        fn cache() -> &'static Cache<Self> {
            unreachable!("only fetched")
        }
    }

    /// A struct that is not built, though no field failed, is a bug, not a setting.
    #[tokio::test]
    async fn a_struct_not_built_without_a_field_error_is_an_internal_error() {
        let err = Incomplete::fetch(&provider())
            .await
            .err()
            .expect("no value");
        assert!(
            matches!(&err, Error::Internal(message) if message.contains("secret `app` decoded incompletely")),
            "{err:?}"
        );
        assert!(!err.is_transient());
        assert!(err.to_string().starts_with("internal error: "), "{err}");
    }

    /// A field of a source that the struct does not list (so the load did not fetch it) is a
    /// bug, not a setting.
    #[tokio::test]
    async fn a_field_of_a_source_not_fetched_is_an_internal_error() {
        let err = Unlisted::fetch(&provider()).await.err().expect("no value");
        assert!(
            matches!(&err, Error::Internal(message) if message.contains("was read but not fetched")),
            "{err:?}"
        );
        assert!(!err.is_transient());
    }
}
