//! Compiles `slot.rs` against loom (the `secrets_loom` cfg, for this crate only: loom's own
//! dependencies and the rest of the workspace keep the real `std` types), and writes a mutant of
//! it for the negative control: `protect` without its validation (the pointer it stored in the
//! slot is used whether or not `current` still holds it).

use std::path::Path;
use std::{env, fs};

const SLOT: &str = "../../secrets-runtime/src/cache/slot.rs";

/// The validation in `Published::protect`, and what the mutant runs instead: it still re-reads
/// `current` (so the value's contents stay ordered after its publication) but ignores the result.
const VALIDATION: &str = "if now == pointer {";
const UNVALIDATED: &str = "if true || now == pointer {";

fn main() {
    println!("cargo::rustc-check-cfg=cfg(secrets_loom)");
    println!("cargo::rustc-cfg=secrets_loom");
    println!("cargo::rerun-if-changed={SLOT}");
    println!("cargo::rerun-if-changed=build.rs");

    let source = fs::read_to_string(SLOT).expect("read secrets-runtime/src/cache/slot.rs");
    assert_eq!(
        source.matches(VALIDATION).count(),
        1,
        "tests/loom/build.rs: `{VALIDATION}` is no longer in slot.rs exactly once; update the \
         mutation of the negative control to the new validation step",
    );
    // `include!` takes items only: drop the module's inner doc comment and attributes (the
    // including module restates `allow(unsafe_code)`).
    let mutant: String = source
        .replace(VALIDATION, UNVALIDATED)
        .lines()
        .filter(|line| {
            let line = line.trim_start();
            !line.starts_with("//!") && !line.starts_with("#![")
        })
        .flat_map(|line| [line, "\n"])
        .collect();
    let out = env::var_os("OUT_DIR").expect("OUT_DIR is set by cargo");
    fs::write(Path::new(&out).join("slot_unvalidated.rs"), mutant).expect("write the mutant");
}
