#![doc = include_str!("../README.md")]
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]
#![forbid(unsafe_code)]

pub mod data;
pub mod format;

pub mod cg;
pub mod cholesky;
pub mod error;
pub mod linalg;
pub mod model;
pub mod newton;
pub mod objective;
pub mod settings;
pub mod trainer;
pub mod transform;
pub mod workspace;

pub use data::{DataError, DenseRows, Dequant, FeatureTable, Rows};

pub use cholesky::{cholesky_packed, packed_index, packed_len, solve_packed, CholeskyError};
pub use error::Error;
pub use model::{Model, ModelError, MultiModel};
pub use newton::{Iteration, Report, Status};
pub use objective::logistic::{check_data, Logistic, LogisticObjective};
pub use objective::softmax::{Softmax, SoftmaxObjective, MAX_CLASSES};
pub use objective::Objective;
pub use settings::{BiasMode, Settings, SolverKind};
pub use trainer::{
    argmax_row, evaluate, train, train_one_vs_rest, train_softmax, Evaluate, OneVsRest, OvrReport,
};
pub use transform::{
    FeatureParams, FeatureTransform, OwnedTransform, TransformError, TransformKind,
};
pub use workspace::{workspace_bytes, workspace_bytes_for, Buffers, Sizes, Workspace};
