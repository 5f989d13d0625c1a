//! Records the compiler version, so that `tests/ui.rs` only compares `.stderr`
//! snapshots on the toolchain they were generated with.

use std::env;
use std::process::Command;

fn main() {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let version = Command::new(rustc)
        .arg("--version")
        .output()
        .ok()
        .and_then(|output| String::from_utf8(output.stdout).ok())
        .unwrap_or_default();
    println!("cargo::rustc-env=UI_TESTS_RUSTC_VERSION={}", version.trim());
    println!("cargo::rerun-if-env-changed=RUSTC");
}
