//! Code compiled into both crates: `secrets-derive/src/shared` is a symlink to this folder
//! (serde_derive_internals shares serde_derive's `internals/` the same way; git stores the
//! link, and `cargo package` copies the files it points to). What the derive checks at compile
//! time and what the runtime does at run time are then one piece of code, not two copies that
//! must agree.
//!
//! Rules for the files here: std only (no dependency, no `crate::` path, no `$crate`), items
//! `pub(crate)`, and each item used by both crates (or the other one warns that it is dead).

pub(crate) mod std_types;
pub(crate) mod template;
