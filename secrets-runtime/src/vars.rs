//! Environment lookups that tests and embedders can override without touching the process
//! environment.

use std::collections::HashMap;

/// Variables read by a [`Provider`](crate::Provider): explicit values first, then (unless
/// isolated) the process environment, which is what `Vars::default()` gives.
#[derive(Clone, Default)]
pub(crate) struct Vars {
    overrides: HashMap<String, String>,
    isolated: bool,
}

impl Vars {
    /// Variables that see only what is set on them.
    #[cfg(test)]
    pub(crate) fn isolated() -> Self {
        Self {
            overrides: HashMap::new(),
            isolated: true,
        }
    }

    pub(crate) fn set(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.overrides.insert(name.into(), value.into());
    }

    /// The value of `name`, if set and valid Unicode.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        match self.overrides.get(name) {
            Some(value) => Some(value.clone()),
            None if self.isolated => None,
            None => std::env::var(name).ok(),
        }
    }

    /// The first of `names` that is set, even if empty (as the agent reads its token).
    pub(crate) fn first_set(&self, names: &[&str]) -> Option<String> {
        names.iter().find_map(|name| self.get(name))
    }
}

/// Names only: values may be secrets (`SECRETS_LOCAL_*`, tokens).
impl std::fmt::Debug for Vars {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<_> = self.overrides.keys().collect();
        names.sort();
        f.debug_struct("Vars")
            .field("set", &names)
            .field("isolated", &self.isolated)
            .finish()
    }
}
