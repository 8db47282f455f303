//! What one load of a struct fetches: the distinct secrets and parameters its fields name,
//! resolved into requests, and the documents the fields are then read from.

use crate::backend::{Request, SecretRequest};
use crate::document::{Document, SecretPayload};
use crate::spec::{Origin, Origins};
use crate::{Error, FromSecret, Item, Provider};

/// The requests of one load: each distinct resolved secret or parameter once, however many
/// fields (or templates) name it.
pub(crate) struct Plan {
    /// Each source and the index of its request.
    sources: Vec<(Origin, usize)>,
    pub(crate) requests: Vec<Request>,
}

impl Plan {
    /// Resolves `T`'s sources with `provider`'s variables. `forced` asks the extension to bypass
    /// its cache for secrets.
    ///
    /// # Errors
    /// Every unset variable a name needs ([`Error::MissingVar`], several as [`Error::Several`]).
    pub(crate) fn new<T: FromSecret>(provider: &Provider, forced: bool) -> Result<Self, Error> {
        let mut listed = Origins::default();
        T::origins(&mut listed);
        let mut plan = Plan {
            sources: Vec::with_capacity(listed.refs.len()),
            requests: Vec::with_capacity(listed.refs.len()),
        };
        let mut errors = Vec::new();
        for source in listed.refs {
            match request::<T>(provider, source, forced) {
                Ok(request) => {
                    let index = plan.index_of(request);
                    plan.sources.push((source, index));
                }
                Err(err) => errors.push(err),
            }
        }
        match Error::from_list(errors) {
            Some(err) => Err(err),
            None => Ok(plan),
        }
    }

    /// The request of the struct's own secret, if it reads one.
    pub(crate) fn own_secret(&self) -> Option<usize> {
        self.sources
            .iter()
            .find(|(source, _)| *source == Origin::Container)
            .map(|&(_, index)| index)
    }

    /// The item that `origin` resolved to, if the struct reads from it.
    pub(crate) fn item_of(&self, origin: Origin) -> Option<Item> {
        self.sources
            .iter()
            .find(|(o, _)| *o == origin)
            .map(|&(_, index)| self.requests[index].item())
    }

    /// The index of `request`, added unless an equal one is already planned.
    fn index_of(&mut self, request: Request) -> usize {
        if let Some(index) = self.requests.iter().position(|r| r.same_item(&request)) {
            return index;
        }
        self.requests.push(request);
        self.requests.len() - 1
    }

    /// The documents the fields read, from one payload per request (`None`: a parameter that
    /// does not exist).
    pub(crate) fn documents(&self, payloads: Vec<Option<SecretPayload>>) -> Documents {
        let items: Vec<Item> = self.requests.iter().map(Request::item).collect();
        let documents = items
            .iter()
            .zip(payloads)
            .map(|(item, payload)| payload.map(|p| Document::new(item.clone(), p)))
            .collect();
        Documents {
            sources: self.sources.clone(),
            items,
            documents,
        }
    }
}

/// The request for one source.
fn request<T: FromSecret>(
    provider: &Provider,
    source: Origin,
    forced: bool,
) -> Result<Request, Error> {
    Ok(match source {
        Origin::Container => {
            let spec = &T::SPEC;
            if spec.name.is_empty() && spec.name_env.is_none() {
                return Err(Error::Config(format!(
                    "`{}` has no `name`, but a flattened struct reads keys of its secret",
                    std::any::type_name::<T>()
                )));
            }
            Request::Secret(SecretRequest {
                name: provider.secret_name(spec)?,
                version_stage: spec.version_stage,
                version_id: spec.version_id,
                refresh_now: forced,
            })
        }
        Origin::Secret(template) => Request::Secret(SecretRequest {
            name: provider.resolve_name(template)?,
            version_stage: None,
            version_id: None,
            refresh_now: forced,
        }),
        Origin::Parameter(template) => Request::Parameter(provider.resolve_name(template)?),
    })
}

/// The fetched documents of one load, by source.
#[derive(Debug)]
pub(crate) struct Documents {
    /// Each source and the index of its item and document.
    sources: Vec<(Origin, usize)>,
    items: Vec<Item>,
    /// `None`: a parameter that does not exist (its fields read as missing).
    documents: Vec<Option<Document>>,
}

impl Documents {
    /// The item and document of `source` ([`Error::Internal`] if the plan lacks it, which only
    /// a derive bug could cause).
    pub(crate) fn get(&self, source: Origin) -> Result<(&Item, Option<&Document>), Error> {
        match self.sources.iter().find(|(s, _)| *s == source) {
            Some(&(_, index)) => Ok((&self.items[index], self.documents[index].as_ref())),
            None => Err(Error::Internal(format!(
                "{source:?} was read but not fetched"
            ))),
        }
    }

    /// The item of the first source, for messages about the whole struct.
    pub(crate) fn first_item(&self) -> Option<&Item> {
        self.items.first()
    }
}
