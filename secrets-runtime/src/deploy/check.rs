//! The pre-deploy check: fetch what the structs read, decode it without touching any cache, and
//! report every problem at once. Never a value.

use std::collections::BTreeSet;
use std::fmt;

use super::Described;
use crate::load::fields;
use crate::load::plan::Plan;
use crate::{Error, FromSecret, Item, Provider};

/// How bad a finding is: an error fails the check, a warning does not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Severity {
    /// Loading would fail.
    Error,
    /// Loading works, but something looks wrong (a key that no field reads: often a typo).
    Warning,
}

/// One problem the check found.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Finding {
    /// An error or a warning.
    pub severity: Severity,
    /// The struct it concerns (its type name), if one.
    pub subject: Option<&'static str>,
    /// What is wrong, naming the secret or parameter and the key; never a value.
    pub message: String,
}

/// Everything the check found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// Every finding, errors of each struct first, then warnings.
    pub findings: Vec<Finding>,
}

impl Report {
    /// Whether any finding is an error: loading would fail.
    #[must_use]
    pub fn has_errors(&self) -> bool {
        self.findings.iter().any(|f| f.severity == Severity::Error)
    }

    fn error(&mut self, subject: &'static str, err: &Error) {
        self.findings.push(Finding {
            severity: Severity::Error,
            subject: Some(subject),
            message: err.to_string(),
        });
    }
}

/// One finding per line (`error: Jay: ...`, `warning: ...`), then a summary line.
impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for finding in &self.findings {
            let severity = match finding.severity {
                Severity::Error => "error",
                Severity::Warning => "warning",
            };
            match finding.subject {
                Some(subject) => writeln!(f, "{severity}: {subject}: {}", finding.message)?,
                None => writeln!(f, "{severity}: {}", finding.message)?,
            }
        }
        let errors = self
            .findings
            .iter()
            .filter(|f| f.severity == Severity::Error)
            .count();
        let warnings = self.findings.len() - errors;
        if errors == 0 && warnings == 0 {
            write!(f, "check passed: every secret and parameter decodes")
        } else {
            write!(f, "check: {errors} error(s), {warnings} warning(s)")
        }
    }
}

/// What one struct reads of one secret, and what the secret holds.
pub(super) struct KeysOf {
    item: Item,
    /// The keys of the secret's JSON object (`None`: not an object, or not fetched).
    present: Option<Vec<String>>,
    read: Vec<&'static str>,
    /// A field reads the whole value: every key is used.
    whole: bool,
}

/// Fetches each secret and parameter that `structs` read through `provider` (one request each,
/// no cache of this crate; through the extension or the agent, secrets with `refreshNow`),
/// decodes each struct, and reports every problem at once: a secret that does not
/// exist or may not be read, a missing key, a value of the wrong type, a parameter that does
/// not exist for a field without a default (errors), and keys of a secret that no field of any
/// of `structs` reads (warnings: often a typo).
///
/// Messages name secrets, parameters, keys and types, never a value.
pub async fn check(structs: &[Described], provider: &Provider) -> Report {
    let mut report = Report::default();
    let mut keys = Vec::new();
    for described in structs {
        let (one, mut its_keys) = (described.check)(provider).await;
        report.findings.extend(one.findings);
        keys.append(&mut its_keys);
    }
    // A key is extra only if no struct reads it: several structs may share a secret.
    let mut items: Vec<&Item> = Vec::new();
    for of in &keys {
        if !items.contains(&&of.item) {
            items.push(&of.item);
        }
    }
    for item in items {
        let uses: Vec<&KeysOf> = keys.iter().filter(|k| k.item == *item).collect();
        if uses.iter().any(|k| k.whole) {
            continue;
        }
        let Some(present) = uses.iter().find_map(|k| k.present.as_ref()) else {
            continue;
        };
        let read: BTreeSet<&str> = uses.iter().flat_map(|k| k.read.iter().copied()).collect();
        for key in present.iter().filter(|key| !read.contains(key.as_str())) {
            report.findings.push(Finding {
                severity: Severity::Warning,
                subject: None,
                message: format!("{item}: key `{key}` is read by no field (a typo?)"),
            });
        }
    }
    report
}

/// The check of one struct, and what it reads of each secret.
pub(super) async fn check_one<T: FromSecret>(provider: &Provider) -> (Report, Vec<KeysOf>) {
    let subject = super::short_name(std::any::type_name::<T>());
    let mut report = Report::default();
    // Forced: through the extension or the agent, a secret's live value, not their cache's
    // (they have no such option for parameters).
    let plan = match Plan::new::<T>(provider, true) {
        Ok(plan) => plan,
        Err(err) => {
            for err in each(err) {
                report.error(subject, &err);
            }
            return (report, Vec::new());
        }
    };
    // One request per item, so that one failure does not hide the others' problems.
    let fetches = plan
        .requests
        .iter()
        .map(|request| provider.fetch_all(std::slice::from_ref(request), true));
    let results = futures_util::future::join_all(fetches).await;
    let mut payloads = Vec::with_capacity(results.len());
    let mut failed = Vec::new();
    for (request, result) in plan.requests.iter().zip(results) {
        match result {
            Ok(mut payload) => payloads.push(payload.pop().flatten()),
            Err(err) => {
                report.error(subject, &err);
                failed.push(request.item());
                payloads.push(None);
            }
        }
    }
    let documents = plan.documents(payloads);
    if let Err(err) = fields::decode::<T>(&documents) {
        for err in each(err) {
            // What decoding says of a secret that could not be fetched: reported above.
            if item_of(&err).is_some_and(|item| failed.contains(item)) {
                continue;
            }
            report.error(subject, &err);
        }
    }
    let mut keys: Vec<KeysOf> = Vec::new();
    let mut specs = crate::spec::FieldSpecs::default();
    T::field_specs(&mut specs);
    for field in &specs.fields {
        let Ok((Item::Secret(_), document)) = documents.get(field.origin) else {
            continue;
        };
        let Some(item) = plan.item_of(field.origin) else {
            continue;
        };
        let position = keys.iter().position(|k| k.item == item).unwrap_or_else(|| {
            let present = document
                .and_then(|d| d.object().ok())
                .map(|object| object.keys().cloned().collect());
            keys.push(KeysOf {
                item,
                present,
                read: Vec::new(),
                whole: false,
            });
            keys.len() - 1
        });
        match field.key {
            Some(key) => keys[position].read.push(key),
            None => keys[position].whole = true,
        }
    }
    (report, keys)
}

/// The errors an error stands for: each of [`Error::Several`], else itself.
fn each(err: Error) -> Vec<Error> {
    match err {
        Error::Several(errors) => errors,
        err => vec![err],
    }
}

/// The item a decoding error is about.
fn item_of(err: &Error) -> Option<&Item> {
    match err {
        Error::InvalidFields { item, .. }
        | Error::WrongShape { item, .. }
        | Error::InvalidJson { item, .. } => Some(item),
        _ => None,
    }
}
