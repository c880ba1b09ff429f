#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]
// One module, `format::dsp`, has three row loops in Cortex-M4 assembly (`asm!`, issue 10);
// it alone allows `unsafe_code`.
#![deny(unsafe_code)]
// The no-panic rule, enforced (issue 12, item 11): library code indexes with `get`, sizes with
// `checked_*`/`saturating_*` and never unwraps, so no input can reach a panic on a board that
// has no one to report it to. Tests may index and unwrap: a panic there is a failed test.
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::arithmetic_side_effects,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic
    )
)]

pub mod data;
pub mod format;

pub mod cg;
pub mod cholesky;
pub mod error;
pub mod gd;
pub mod lbfgs;
pub mod linalg;
pub mod model;
pub mod newton;
pub mod objective;
pub mod online;
pub mod passes;
pub mod settings;
pub mod store;
pub mod trainer;
pub mod transform;
pub mod workspace;

pub use data::{DataError, DenseRows, Dequant, FeatureTable, Rows};

pub use cholesky::{cholesky_packed, packed_index, packed_len, solve_packed, CholeskyError};
pub use error::Error;
pub use model::{Model, ModelError, MultiModel};
pub use newton::{Flow, Iteration, Report, Status};
pub use objective::logistic::{check_data, Logistic, LogisticObjective};
pub use objective::softmax::{Softmax, SoftmaxObjective, MAX_CLASSES};
pub use objective::Objective;
pub use online::{OnlineLearner, PassiveAggressive, Schedule};
pub use settings::{BiasMode, Settings, Shape, SolverKind};
pub use store::{Eviction, Grid, Pushed, SampleStore, StoreError};
pub use trainer::{
    argmax_row, evaluate, train, train_anytime, train_one_vs_rest, train_softmax, Evaluate,
    OneVsRest, OvrReport,
};
pub use transform::{
    FeatureParams, FeatureTransform, OwnedTransform, TransformError, TransformKind,
};
pub use workspace::{workspace_bytes, workspace_bytes_for, Buffers, Sizes, Workspace};
