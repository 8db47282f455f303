//! What a struct reads (a secret or a parameter, by its resolved name), and which source
//! answered for it.

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

/// The `:label` or `:version` selector of a parameter name or ARN
/// (`/app/x:prod`, `arn:aws:ssm:REGION:ACCOUNT:parameter/app/x:3`), if it has one.
pub(crate) fn parameter_selector(name: &str) -> Option<&str> {
    if name.starts_with("arn:") {
        // `arn:PARTITION:ssm:REGION:ACCOUNT:parameter/x`, then `:selector`.
        name.splitn(7, ':').nth(6)
    } else {
        name.split_once(':').map(|(_, selector)| selector)
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

/// The source that actually served a value.
///
/// ```
/// assert_eq!(secrets_runtime::SourceKind::Extension.to_string(), "extension");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SourceKind {
    /// The extension or agent on 127.0.0.1.
    Extension,
    /// The AWS SDK.
    Sdk,
    /// Local files or environment variables.
    Local,
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SourceKind::Extension => "extension",
            SourceKind::Sdk => "sdk",
            SourceKind::Local => "local",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::parameter_selector;

    #[test]
    fn selectors_of_names_and_arns() {
        assert_eq!(parameter_selector("/app/x"), None);
        assert_eq!(parameter_selector("/app/x:prod"), Some("prod"));
        assert_eq!(parameter_selector("/app/x:3"), Some("3"));
        let arn = "arn:aws:ssm:eu-west-1:123456789012:parameter/app/x";
        assert_eq!(parameter_selector(arn), None);
        assert_eq!(parameter_selector(&format!("{arn}:prod")), Some("prod"));
    }
}
