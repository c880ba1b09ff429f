//! Shared helpers of the host tests: the independent `f64` reference ([`reference`]) and the
//! test data ([`data`]: dequantised rows, seeded synthetic problems).

pub mod data;
pub mod reference;

pub use data::{
    feature_matrix, labels, problem_from_rows, row_values, Quantisation, SplitMix64, Synthetic,
};
pub use reference::{
    central_difference_gradient, complex_step_gradient, complex_step_hess_vec, newton, Bias,
    Problem, RefStatus, Scalar, Solution,
};
