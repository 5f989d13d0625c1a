//! Compile-fail and compile-pass tests for the scope-spawn macros.
//!
//! See `ui-tests/README.md` for how to regenerate the `.stderr` snapshots.

/// The compiler the `.stderr` snapshots in `tests/fail/` were generated with.
/// Diagnostics change between compiler versions, so on any other one the
/// compile-fail cases are skipped rather than failed (the pass cases always run).
const SNAPSHOT_TOOLCHAIN: &str = "rustc 1.95.0";

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    let rustc = env!("UI_TESTS_RUSTC_VERSION");
    if rustc.starts_with(SNAPSHOT_TOOLCHAIN) {
        t.compile_fail("tests/fail/*.rs");
    } else {
        eprintln!(
            "skipping the compile-fail cases: their .stderr files were generated with \
             {SNAPSHOT_TOOLCHAIN}, this is {rustc}"
        );
    }
    t.pass("tests/pass/*.rs");
}
