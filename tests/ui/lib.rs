//! Nothing here: this package exists for its `ui` test (`tests/ui/ui.rs`), which compiles the
//! programs in `fail/` and `pass/` with trybuild.
