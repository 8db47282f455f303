//! The IAM policy document that loading some structs needs, and nothing more.

use super::{Described, plans};
use crate::backend::Request;
use crate::iam::{Scope, Statement};
use crate::{Error, Item, Provider};

/// Where the policy's resources live: the region and account of their ARNs (never guessed),
/// and a customer managed KMS key, if the secrets or `SecureString` parameters use one.
///
/// ```
/// let target = secrets_runtime::deploy::Target::new("eu-west-1", "123456789012")
///     .kms_key("1234abcd-12ab-34cd-56ef-1234567890ab");
/// # let _ = target;
/// ```
#[derive(Debug, Clone)]
pub struct Target {
    region: String,
    account: String,
    kms_key: Option<String>,
}

impl Target {
    /// Resources in `region` of `account` (a 12-digit account id).
    #[must_use]
    pub fn new(region: impl Into<String>, account: impl Into<String>) -> Self {
        Self {
            region: region.into(),
            account: account.into(),
            kms_key: None,
        }
    }

    /// Adds `kms:Decrypt` on this key (an ARN, or a key id in the target's region and account).
    /// The AWS managed keys (`aws/secretsmanager`, `aws/ssm`) need no statement.
    #[must_use]
    pub fn kms_key(mut self, key: impl Into<String>) -> Self {
        self.kms_key = Some(key.into());
        self
    }

    fn scope(&self) -> Scope<'_> {
        Scope {
            region: &self.region,
            account: &self.account,
        }
    }
}

/// The policy document (IAM JSON, one statement per line) that allows exactly what loading
/// `structs` through `provider`'s variables needs: `secretsmanager:GetSecretValue` on each
/// secret, `secretsmanager:BatchGetSecretValue` when the SDK would batch (a struct that reads
/// two or more secrets not pinned to a version), `ssm:GetParameter` and `ssm:GetParameters` on
/// each parameter, and `kms:Decrypt` on the target's key if it has one. Each statement is the
/// one an [`Error::AccessDenied`] for that item prints, with the target's region and account.
///
/// # Errors
/// [`Error::MissingVar`] for a name template whose variable `provider` does not set (all of
/// them, as [`Error::Several`]), or [`Error::Config`] for an empty region, a malformed
/// account or a KMS key given by alias.
pub fn policy(
    structs: &[Described],
    provider: &Provider,
    target: &Target,
) -> Result<String, Error> {
    if target.region.trim().is_empty() {
        return Err(Error::Config("the policy needs a region".into()));
    }
    if target.account.len() != 12 || !target.account.bytes().all(|b| b.is_ascii_digit()) {
        return Err(Error::Config(format!(
            "the policy needs a 12-digit AWS account id, not `{}`",
            target.account
        )));
    }
    let mut items: Vec<Item> = Vec::new();
    let mut batches = false;
    for (_, plan) in plans(structs, provider)? {
        // As the SDK fetches: two or more unpinned secrets of one load go in a batch.
        let unpinned = plan
            .requests
            .iter()
            .filter(|r| {
                matches!(r, Request::Secret(s) if s.version_stage.is_none() && s.version_id.is_none())
            })
            .count();
        batches |= unpinned >= 2;
        for request in &plan.requests {
            let item = request.item();
            if !items.contains(&item) {
                items.push(item);
            }
        }
    }
    let scope = target.scope();
    let mut statements: Vec<Statement> = Vec::new();
    let secrets = items.iter().filter(|i| matches!(i, Item::Secret(_)));
    let parameters = items.iter().filter(|i| matches!(i, Item::Parameter(_)));
    for item in secrets {
        statements.push(Statement::reading(item, scope));
    }
    if batches {
        statements.push(Statement::batch());
    }
    for item in parameters {
        let statement = Statement::reading(item, scope);
        // Two selectors of one parameter are one resource.
        if !statements.contains(&statement) {
            statements.push(statement);
        }
    }
    if let Some(key) = &target.kms_key {
        if key.starts_with("alias/") || key.contains(":alias/") {
            return Err(Error::Config(format!(
                "kms:Decrypt needs the key's id or ARN, not an alias (`{key}`): IAM matches \
                 a statement against the key itself"
            )));
        }
        statements.push(Statement::decrypt(key, scope));
    }
    let lines: Vec<String> = statements.iter().map(|s| format!("    {s}")).collect();
    Ok(format!(
        "{{\n  \"Version\": \"2012-10-17\",\n  \"Statement\": [\n{}\n  ]\n}}\n",
        lines.join(",\n")
    ))
}
