//! Selects the same runs as the firmware's build script (the shared
//! `../build_support/datasets.rs`, same environment variables), so the host trains the same
//! files with the same capacities and settings. The host has no board: no fit check, and the
//! MNIST default also runs the `u4` 14×14 file (the STM32F411 build's).

use std::{env, path::PathBuf};

// Shared with ../build.rs, which uses the parts a host does not (`Target::Board`).
#[allow(dead_code)]
#[path = "../build_support/datasets.rs"]
mod datasets;

fn main() {
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let here = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let firmware = here
        .parent()
        .expect("host-parity lives in firmware/")
        .to_path_buf();
    println!("cargo:rerun-if-changed=build.rs");
    datasets::generate_or_exit(&firmware, &out, &datasets::Target::Host);
}
