//! Compile-fail and compile-pass tests for the scope-spawn macros.
