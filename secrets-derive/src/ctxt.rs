//! Collects every attribute error so that one compile shows them all (as serde_derive does).

use std::cell::RefCell;
use std::fmt::Display;
use std::thread;

use quote::ToTokens;

/// The error collector of one derive invocation.
///
/// It must be consumed by [`Ctxt::check`]: dropping it unchecked panics (outside of an
/// unwinding panic), so that no path through the derive can lose the errors it collected.
pub(crate) struct Ctxt {
    /// The errors so far; `None` once [`Ctxt::check`] has taken them.
    errors: RefCell<Option<Vec<syn::Error>>>,
}

impl Ctxt {
    /// A collector with no errors yet, which must still be [`check`](Ctxt::check)ed.
    pub(crate) fn new() -> Self {
        Self {
            errors: RefCell::new(Some(Vec::new())),
        }
    }

    /// Records an error on the span of `tokens`.
    pub(crate) fn error_spanned_by<T: ToTokens, M: Display>(&self, tokens: T, message: M) {
        self.syn_error(syn::Error::new_spanned(tokens.into_token_stream(), message));
    }

    /// Records an error produced by `syn`.
    pub(crate) fn syn_error(&self, error: syn::Error) {
        self.errors
            .borrow_mut()
            .as_mut()
            .expect("errors are recorded only before `check`, which consumes the `Ctxt`")
            .push(error);
    }

    /// All errors recorded, combined into one, if any.
    pub(crate) fn check(self) -> Result<(), syn::Error> {
        let errors = self.errors.borrow_mut().take().unwrap_or_default();
        let mut errors = errors.into_iter();
        let Some(mut combined) = errors.next() else {
            return Ok(());
        };
        for error in errors {
            combined.combine(error);
        }
        Err(combined)
    }
}

impl Drop for Ctxt {
    /// Panics if the errors were never [`check`](Ctxt::check)ed, unless the thread is already
    /// panicking (a second panic would abort and hide the first).
    fn drop(&mut self) {
        if !thread::panicking() && self.errors.borrow().is_some() {
            panic!("a `Ctxt` was dropped without `check()`: its errors would be lost");
        }
    }
}

#[cfg(test)]
mod tests {
    use proc_macro2::Span;

    use super::Ctxt;

    #[test]
    fn check_combines_every_error() {
        let cx = Ctxt::new();
        cx.syn_error(syn::Error::new(Span::call_site(), "first"));
        cx.error_spanned_by(quote::quote!(x), "second");
        let messages: Vec<String> = cx
            .check()
            .unwrap_err()
            .into_iter()
            .map(|e| e.to_string())
            .collect();
        assert_eq!(messages, ["first", "second"]);
        assert!(Ctxt::new().check().is_ok());
    }

    #[test]
    #[should_panic(expected = "dropped without `check()`")]
    fn dropping_an_unchecked_ctxt_panics() {
        let cx = Ctxt::new();
        cx.syn_error(syn::Error::new(Span::call_site(), "lost"));
        drop(cx);
    }

    #[test]
    #[should_panic(expected = "dropped without `check()`")]
    fn dropping_an_unchecked_ctxt_panics_even_without_errors() {
        drop(Ctxt::new());
    }
}
