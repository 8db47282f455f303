//! What a struct reads: a secret or a parameter, by its resolved name.

use std::fmt;

/// A Secrets Manager secret or a Parameter Store parameter, by resolved name (or ARN). Every
/// error names the item at fault; its `Display` says which kind it is.
///
/// ```
/// use secrets_runtime::Item;
/// assert_eq!(Item::secret("prd/db").to_string(), "secret `prd/db`");
/// assert_eq!(Item::parameter("/app/prd/flag").to_string(), "parameter `/app/prd/flag`");
/// assert_eq!(Item::parameter("/app/prd/flag").name(), "/app/prd/flag");
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Item {
    /// A Secrets Manager secret.
    Secret(String),
    /// An SSM Parameter Store parameter.
    Parameter(String),
}

impl Item {
    /// A secret, by name or ARN.
    pub fn secret(name: impl Into<String>) -> Self {
        Item::Secret(name.into())
    }

    /// A parameter, by name or ARN.
    pub fn parameter(name: impl Into<String>) -> Self {
        Item::Parameter(name.into())
    }

    /// The resolved name (or ARN).
    #[must_use]
    pub fn name(&self) -> &str {
        match self {
            Item::Secret(name) | Item::Parameter(name) => name,
        }
    }
}

impl fmt::Display for Item {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Item::Secret(name) => write!(f, "secret `{name}`"),
            Item::Parameter(name) => write!(f, "parameter `{name}`"),
        }
    }
}
