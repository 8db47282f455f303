//! Compile-fail tests: every error `#[derive(FromSecret)]` emits, with its reviewed `.stderr`,
//! and compile-pass tests of the generated code under strict lints.

#[test]
fn ui() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    for kind in ["fail", "pass"] {
        let count = std::fs::read_dir(dir.join(kind))
            .expect("the ui folder")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "rs"))
            })
            .count();
        assert!(
            count > 0,
            "no ui/{kind} programs found: the globs below would test nothing"
        );
    }
    let t = trybuild::TestCases::new();
    t.compile_fail("fail/*.rs");
    t.pass("pass/*.rs");
}
