//! What a derived struct declares: its container attributes ([`SecretSpec`], with the one set
//! of defaults) and where each of its fields reads from ([`Origin`]).

use std::time::Duration;

/// The container attributes of a derived struct.
#[derive(Debug, Clone, Copy)]
pub struct SecretSpec {
    /// The secret name template; empty when every field names its own source.
    pub name: &'static str,
    /// A variable whose value, when set, is the whole secret name.
    pub name_env: Option<&'static str>,
    /// How long a loaded value is fresh.
    pub ttl: Duration,
    /// How long past its expiry a value may still be served while refreshes fail.
    pub max_stale: Duration,
    /// Forced refreshes within this long after a completed fetch reuse its value.
    pub refresh_window: Duration,
    /// `versionStage` to ask for.
    pub version_stage: Option<&'static str>,
    /// `versionId` to ask for.
    pub version_id: Option<&'static str>,
}

impl SecretSpec {
    /// The defaults: no name, a 5 min TTL, 1 h of stale serving, a 1 s refresh window, the
    /// current version. The derive fills the rest of a spec from it.
    pub const DEFAULT: SecretSpec = SecretSpec {
        name: "",
        name_env: None,
        ttl: Duration::from_secs(300),
        max_stale: Duration::from_secs(3600),
        refresh_window: Duration::from_secs(1),
        version_stage: None,
        version_id: None,
    };
}

/// Where a field reads from, as the derive names it: the struct's own secret, another secret
/// (`from = "..."`) or a parameter (`parameter = "..."`), by name template.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The struct's `name` (or `name_env`) secret.
    Container,
    /// `#[secret(from = "template")]`.
    Secret(&'static str),
    /// `#[secret(parameter = "template")]`.
    Parameter(&'static str),
}

/// The distinct sources of a struct, in first-use order. The derived `sources` adds the
/// struct's own; a flattened struct adds its own too.
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct Origins {
    pub(crate) refs: Vec<Origin>,
}

impl Origins {
    /// Adds a source unless it is already listed.
    pub fn add(&mut self, source: Origin) {
        if !self.refs.contains(&source) {
            self.refs.push(source);
        }
    }
}

/// One field as the derive declares it: what the deploy tools (`crate::deploy`) need to know
/// about it. Skipped fields are not declared; a flattened struct declares its own fields.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FieldSpec {
    /// Where it reads from.
    pub origin: Origin,
    /// The JSON key it reads (after `rename_all` and `key`); `None` for the whole value.
    pub key: Option<&'static str>,
    /// The type it reads, as errors name it (`u16`, `Vec<String>`).
    pub expected: &'static str,
    /// An `Option`: the key may be absent or `null`.
    pub optional: bool,
    /// `default`: the key may be absent.
    pub default: bool,
    /// `json`: the value is JSON for a serde type.
    pub json: bool,
    /// `binary`: the whole binary value.
    pub binary: bool,
}

/// The fields of a struct, in order, flattened structs' fields in their place.
#[doc(hidden)]
#[derive(Debug, Default)]
pub struct FieldSpecs {
    pub(crate) fields: Vec<FieldSpec>,
}

impl FieldSpecs {
    /// Adds a field.
    pub fn add(&mut self, field: FieldSpec) {
        self.fields.push(field);
    }
}
