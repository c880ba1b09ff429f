//! The runs this build trains, written by the build script (`build_support/datasets.rs`): the
//! committed 7-vs-1 MNIST pair by default, or the packed pairs `TINYNEWTON_DATA` names. The host
//! parity check includes the same generated code from the same script.

pub use tinynewton_runs::selection::{RunSpec, RunVisitor};

include!(concat!(env!("OUT_DIR"), "/selection.rs"));
