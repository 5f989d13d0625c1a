//! Procedural macros for `scope-spawn`. Use them through the `scope_spawn` crate.
