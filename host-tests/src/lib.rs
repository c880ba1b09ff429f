//! Shared helpers of the host tests: the independent `f64` references
//! ([`reference`](mod@reference) binary, [`softmax_reference`] multinomial) and the test data
//! ([`data`]: dequantised rows, class indices, seeded synthetic problems and splits).

pub mod data;
pub mod reference;
pub mod softmax_reference;

pub use data::{
    classes_of, dense_u4, feature_matrix, labels, problem_from_rows, row_values,
    softmax_problem_from_rows, stratified_split, Quantisation, SplitMix64, Synthetic,
    SyntheticClasses,
};
pub use reference::{
    central_difference_gradient, complex_step_gradient, complex_step_hess_vec, newton, Bias,
    Problem, RefStatus, Scalar, Solution,
};
pub use softmax_reference::{CgSolution, HvTerms, SoftmaxProblem};
