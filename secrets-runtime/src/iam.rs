//! IAM policy statements: what allows reading an item. One code path for the statement an
//! `AccessDenied` error prints and for the policy document the deploy tools write.

use std::fmt;

use crate::item::{Item, parameter_selector};

/// The account and region that resource ARNs name: given for a policy document, unknown (`*`)
/// in an error's statement.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scope<'a> {
    pub(crate) region: &'a str,
    pub(crate) account: &'a str,
}

impl Scope<'_> {
    /// Any region and account: what an error can say without asking AWS.
    pub(crate) const ANY: Scope<'static> = Scope {
        region: "*",
        account: "*",
    };

    /// The ARN partition of the region: `aws-cn` in China, `aws-us-gov` in GovCloud, the
    /// isolated and sovereign partitions by their region prefixes, `aws` elsewhere (and for
    /// any region: an error's statement does not know the partition either).
    fn partition(&self) -> &'static str {
        match self.region {
            region if region.starts_with("cn-") => "aws-cn",
            region if region.starts_with("us-gov-") => "aws-us-gov",
            region if region.starts_with("us-isob-") => "aws-iso-b",
            region if region.starts_with("us-isof-") => "aws-iso-f",
            region if region.starts_with("us-iso-") => "aws-iso",
            region if region.starts_with("eu-isoe-") => "aws-iso-e",
            region if region.starts_with("eusc-") => "aws-eusc",
            _ => "aws",
        }
    }
}

/// Whether a secret's ARN ends with the six characters Secrets Manager appends to the name
/// (`-AbC123`); a partial ARN (without them) does not.
fn is_complete_secret_arn(arn: &str) -> bool {
    arn.rsplit_once('-').is_some_and(|(_, suffix)| {
        suffix.len() == 6 && suffix.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// One `Allow` statement: actions on one resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Statement {
    pub(crate) actions: &'static [&'static str],
    pub(crate) resource: String,
}

/// The actions that read a secret.
const SECRET_ACTIONS: &[&str] = &["secretsmanager:GetSecretValue"];
/// The actions that read a parameter: the extension calls `GetParameter`, the SDK
/// `GetParameters`.
const PARAMETER_ACTIONS: &[&str] = &["ssm:GetParameter", "ssm:GetParameters"];

impl Statement {
    /// The statement allowing the read of `item` in `scope`: `secretsmanager:GetSecretValue`
    /// on the secret (its ARN, or the name followed by the six random characters Secrets
    /// Manager appends to every secret's ARN), or `ssm:GetParameter` and `ssm:GetParameters`
    /// on the parameter (a `:label` or `:version` selector is not part of the resource).
    pub(crate) fn reading(item: &Item, scope: Scope<'_>) -> Self {
        let Scope { region, account } = scope;
        let partition = scope.partition();
        match item {
            Item::Secret(arn) if arn.starts_with("arn:") => Statement {
                actions: SECRET_ACTIONS,
                resource: if is_complete_secret_arn(arn) {
                    arn.clone()
                } else {
                    format!("{arn}-??????")
                },
            },
            Item::Secret(name) => Statement {
                actions: SECRET_ACTIONS,
                resource: format!(
                    "arn:{partition}:secretsmanager:{region}:{account}:secret:{name}-??????"
                ),
            },
            Item::Parameter(name) => {
                let path = match parameter_selector(name) {
                    Some(selector) => &name[..name.len() - selector.len() - 1],
                    None => name.as_str(),
                };
                let resource = if path.starts_with("arn:") {
                    path.to_owned()
                } else {
                    // `/app/x` is `parameter/app/x`; a name without a leading slash gets one.
                    let path = path.strip_prefix('/').unwrap_or(path);
                    format!("arn:{partition}:ssm:{region}:{account}:parameter/{path}")
                };
                Statement {
                    actions: PARAMETER_ACTIONS,
                    resource,
                }
            }
        }
    }

    /// `secretsmanager:BatchGetSecretValue`, which takes no resource but `*` (each secret of
    /// a batch also needs its own `GetSecretValue`).
    pub(crate) fn batch() -> Self {
        Statement {
            actions: &["secretsmanager:BatchGetSecretValue"],
            resource: "*".into(),
        }
    }

    /// `kms:Decrypt` on a customer managed key: its ARN, or its id in `scope` (`KEY_ID` when
    /// unknown).
    pub(crate) fn decrypt(key: &str, scope: Scope<'_>) -> Self {
        let Scope { region, account } = scope;
        let partition = scope.partition();
        Statement {
            actions: &["kms:Decrypt"],
            resource: if key.starts_with("arn:") {
                key.to_owned()
            } else {
                format!("arn:{partition}:kms:{region}:{account}:key/{key}")
            },
        }
    }
}

/// One line of JSON: `{"Effect": "Allow", "Action": ..., "Resource": ...}` (a lone action as a
/// string, several as a list).
impl fmt::Display for Statement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let action = match self.actions {
            [one] => json_string(one),
            several => {
                let quoted: Vec<String> = several.iter().map(|a| json_string(a)).collect();
                format!("[{}]", quoted.join(", "))
            }
        };
        write!(
            f,
            r#"{{"Effect": "Allow", "Action": {action}, "Resource": {}}}"#,
            json_string(&self.resource)
        )
    }
}

/// `text` as a JSON string literal.
fn json_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn any(item: &Item) -> String {
        Statement::reading(item, Scope::ANY).to_string()
    }

    #[test]
    fn a_secret_by_name_gets_the_six_character_suffix() {
        assert_eq!(
            any(&Item::secret("prd/lambda/jay")),
            r#"{"Effect": "Allow", "Action": "secretsmanager:GetSecretValue", "Resource": "arn:aws:secretsmanager:*:*:secret:prd/lambda/jay-??????"}"#
        );
        let scope = Scope {
            region: "eu-west-1",
            account: "123456789012",
        };
        assert_eq!(
            Statement::reading(&Item::secret("prd/db"), scope).resource,
            "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prd/db-??????"
        );
    }

    #[test]
    fn an_arn_is_its_own_resource() {
        let arn = "arn:aws:secretsmanager:eu-west-1:1:secret:prd/db-AbCdEf";
        assert_eq!(
            Statement::reading(&Item::secret(arn), Scope::ANY).resource,
            arn
        );
    }

    #[test]
    fn parameters_lose_their_selector_and_gain_a_slash() {
        let resource = |name: &str| Statement::reading(&Item::parameter(name), Scope::ANY).resource;
        assert_eq!(resource("/app/x:3"), "arn:aws:ssm:*:*:parameter/app/x");
        assert_eq!(resource("/app/x:live"), "arn:aws:ssm:*:*:parameter/app/x");
        assert_eq!(resource("plain"), "arn:aws:ssm:*:*:parameter/plain");
        assert_eq!(
            resource("arn:aws:ssm:eu-west-1:1:parameter/app/x:live"),
            "arn:aws:ssm:eu-west-1:1:parameter/app/x"
        );
        assert_eq!(
            any(&Item::parameter("/a")),
            r#"{"Effect": "Allow", "Action": ["ssm:GetParameter", "ssm:GetParameters"], "Resource": "arn:aws:ssm:*:*:parameter/a"}"#
        );
    }

    #[test]
    fn names_are_escaped() {
        assert_eq!(json_string("a\"b\\c\n"), r#""a\"b\\c\n""#);
    }
}
