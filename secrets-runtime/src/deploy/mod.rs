//! Before deploy, from the same structs: the IAM policy that loading them needs
//! ([`policy`]), a check of the live secrets and parameters ([`check`]), and the JSON
//! skeleton of each secret they read ([`template`]); [`main`] runs any of the three from an
//! application's own binary or example.
//!
//! ```
//! use secrets_runtime::deploy::{self, Described};
//! use secrets_runtime::{FromSecret, Provider};
//!
//! #[derive(FromSecret)]
//! #[secret(name = "{STAGE}/lambda/jay")]
//! struct Jay {
//!     db_host: String,
//!     #[secret(parameter = "/jay/{STAGE}/limit", default)]
//!     limit: u32,
//! }
//!
//! let prd = Provider::builder().var("STAGE", "prd").build();
//! let target = deploy::Target::new("eu-west-1", "123456789012");
//! let policy = deploy::policy(&[Described::of::<Jay>()], &prd, &target).unwrap();
//! assert!(policy.contains("arn:aws:secretsmanager:eu-west-1:123456789012:secret:prd/lambda/jay-??????"));
//! assert!(policy.contains("arn:aws:ssm:eu-west-1:123456789012:parameter/jay/prd/limit"));
//! ```

mod check;
mod cli;
mod policy;
mod skeleton;

use futures_util::future::BoxFuture;

pub use self::check::{Finding, Report, Severity, check};
pub use self::cli::main;
pub use self::policy::{Target, policy};
pub use self::skeleton::template;
use crate::load::plan::Plan;
use crate::shared::template::Piece;
use crate::spec::{FieldSpec, FieldSpecs, Origin, Origins};
use crate::{Error, FromSecret, Provider};

/// The check of one struct, type-erased: its report and what it read of each secret.
type CheckOne = for<'a> fn(&'a Provider) -> BoxFuture<'a, (Report, Vec<check::KeysOf>)>;

/// A derived struct, as the deploy tools see it: its name, its fields and where they read
/// from. Build one with [`Described::of`].
pub struct Described {
    type_name: &'static str,
    fields: Vec<FieldSpec>,
    /// Every variable its name templates use (`name_env`'s too).
    variables: Vec<&'static str>,
    /// The variable whose value, when set, is the whole secret name.
    name_env: Option<&'static str>,
    plan: fn(&Provider) -> Result<Plan, Error>,
    check: CheckOne,
}

impl Described {
    /// Describes `T`.
    #[must_use]
    pub fn of<T: FromSecret>() -> Self {
        let mut fields = FieldSpecs::default();
        T::field_specs(&mut fields);
        let mut origins = Origins::default();
        T::origins(&mut origins);
        let templates = origins.refs.iter().map(|origin| match origin {
            Origin::Container => T::SPEC.name,
            Origin::Secret(template) | Origin::Parameter(template) => *template,
        });
        let mut variables: Vec<&'static str> = T::SPEC.name_env.into_iter().collect();
        for template in templates {
            for piece in crate::shared::template::pieces(template).flatten() {
                if let Piece::Placeholder { var, .. } = piece
                    && !variables.contains(&var)
                {
                    variables.push(var);
                }
            }
        }
        Self {
            type_name: std::any::type_name::<T>(),
            fields: fields.fields,
            variables,
            name_env: T::SPEC.name_env,
            plan: |provider| Plan::new::<T>(provider, false),
            check: |provider| Box::pin(check::check_one::<T>(provider)),
        }
    }

    /// The struct's type name.
    #[must_use]
    pub fn type_name(&self) -> &'static str {
        self.type_name
    }

    /// The struct's name, without its module path: what reports call it.
    pub(crate) fn short_name(&self) -> &'static str {
        short_name(self.type_name)
    }
}

/// `Jay` for `app::config::Jay`.
fn short_name(type_name: &'static str) -> &'static str {
    type_name.rsplit("::").next().unwrap_or(type_name)
}

/// Each struct with its plan through `provider`'s variables; every variable a name needs and
/// `provider` does not set, as one error.
fn plans<'a>(
    structs: &'a [Described],
    provider: &Provider,
) -> Result<Vec<(&'a Described, Plan)>, Error> {
    let mut plans = Vec::with_capacity(structs.len());
    let mut errors = Vec::new();
    for described in structs {
        match (described.plan)(provider) {
            Ok(plan) => plans.push((described, plan)),
            Err(err) => errors.push(err),
        }
    }
    match Error::from_list(errors) {
        Some(err) => Err(err),
        None => Ok(plans),
    }
}

impl std::fmt::Debug for Described {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Described")
            .field("type_name", &self.type_name)
            .field("fields", &self.fields.len())
            .finish_non_exhaustive()
    }
}
