//! Why training (or an objective evaluation) was refused: one small error enum.
//!
//! Every check runs before the first pass of the solver, so a refused call leaves the
//! workspace's weights untouched and never panics.

/// A typed reason for refusing data, settings or capacities.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum Error {
    /// The dataset has more samples than the workspace's sample capacity `N`.
    TooManySamples {
        /// Samples in the dataset.
        samples: usize,
        /// The workspace's capacity `N`.
        capacity: usize,
    },
    /// The weight count (features + 1 for the bias) exceeds the workspace's capacity `M`.
    TooManyWeights {
        /// Weights needed: `n_features() + 1`.
        weights: usize,
        /// The workspace's capacity `M`.
        capacity: usize,
    },
    /// [`SolverKind::Cholesky`](crate::SolverKind::Cholesky) was demanded but the packed
    /// triangle capacity `T` is smaller than `packed_len(weights)`.
    TriangleTooSmall {
        /// Floats needed: `packed_len(weights)`.
        needed: usize,
        /// The workspace's capacity `T`.
        capacity: usize,
    },
    /// [`SolverKind::Lbfgs`](crate::SolverKind::Lbfgs) was demanded but the solver storage
    /// `T` cannot hold its `(s, y)` pairs ([`lbfgs_len`](crate::settings::lbfgs_len)).
    PairsTooSmall {
        /// Floats needed: `lbfgs_len(weights, lbfgs_pairs)`.
        needed: usize,
        /// The workspace's capacity `T`.
        capacity: usize,
    },
    /// The dataset has no sample.
    Empty,
    /// Every sample has the same label: the optimum is at infinity without the regulariser's
    /// help on the features, and the problem says nothing about the other class.
    SingleClass,
    /// A label is neither `+1.0` nor `-1.0`.
    BadLabel {
        /// Index of the sample.
        sample: usize,
    },
    /// A stored code, or the value it dequantises to, is NaN or infinite.
    NonFiniteData {
        /// Index of the sample.
        sample: usize,
        /// Index of the feature.
        feature: usize,
    },
    /// A dequantisation pair `(offset, scale)` is NaN or infinite.
    NonFiniteDequant {
        /// Index of the feature.
        feature: usize,
    },
    /// A class cost `C₊` or `C₋` is `≤ 0`, NaN or infinite.
    BadCost,
    /// The tolerance `epsilon` is `≤ 0`, NaN or infinite.
    BadEpsilon,
    /// An iteration limit (`max_iter`, `max_cg_iter`, `max_line_search`) is zero, or
    /// `lbfgs_pairs` is not in `1..=MAX_LBFGS_PAIRS`.
    BadIterationLimit,
    /// A warm-start weight is NaN or infinite.
    NonFiniteWeights {
        /// Index of the weight (the bias is the last one).
        index: usize,
    },
    /// Warm-start weights, or a vector handed to an objective kernel, do not have the length
    /// the dataset needs (`n_features() + 1` weights, `n_samples()` margins).
    LengthMismatch {
        /// The length the dataset needs.
        expected: usize,
        /// The length that was given.
        got: usize,
    },
    /// More classes than a multi-class objective handles
    /// ([`MAX_CLASSES`](crate::objective::softmax::MAX_CLASSES)).
    TooManyClasses {
        /// Classes in the dataset.
        classes: usize,
        /// The largest class count supported.
        capacity: usize,
    },
    /// The objective or its gradient at the starting point is NaN or infinite in f32: the
    /// features, the costs or the warm-start weights are too large (or too small) for f32.
    NonFiniteStart,
    /// A class of a multi-class dataset has no training sample: its weights would be
    /// pushed towards −∞ with nothing to say where to stop short.
    EmptyClass {
        /// Index of the class.
        class: usize,
    },
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            Error::TooManySamples { samples, capacity } => {
                write!(f, "{samples} samples exceed the capacity N = {capacity}")
            }
            Error::TooManyWeights { weights, capacity } => {
                write!(
                    f,
                    "{weights} weights (features + bias) exceed the capacity M = {capacity}"
                )
            }
            Error::TriangleTooSmall { needed, capacity } => write!(
                f,
                "Cholesky needs a packed triangle of {needed} floats, capacity T = {capacity}"
            ),
            Error::PairsTooSmall { needed, capacity } => write!(
                f,
                "L-BFGS needs {needed} floats for its (s, y) pairs, capacity T = {capacity}"
            ),
            Error::Empty => f.write_str("the dataset has no sample"),
            Error::SingleClass => f.write_str("the dataset has a single class"),
            Error::BadLabel { sample } => write!(f, "label of sample {sample} is not ±1"),
            Error::NonFiniteData { sample, feature } => {
                write!(f, "sample {sample}, feature {feature} is NaN or infinite")
            }
            Error::NonFiniteDequant { feature } => {
                write!(
                    f,
                    "dequantisation pair of feature {feature} is NaN or infinite"
                )
            }
            Error::BadCost => f.write_str("class costs must be finite and > 0"),
            Error::BadEpsilon => f.write_str("epsilon must be finite and > 0"),
            Error::BadIterationLimit => f.write_str("iteration limits must be ≥ 1"),
            Error::NonFiniteWeights { index } => {
                write!(f, "warm-start weight {index} is NaN or infinite")
            }
            Error::LengthMismatch { expected, got } => {
                write!(f, "length {got} given, {expected} expected")
            }
            Error::TooManyClasses { classes, capacity } => {
                write!(f, "{classes} classes exceed the supported {capacity}")
            }
            Error::NonFiniteStart => f.write_str(
                "the objective or its gradient at the starting point overflows f32: rescale the features (e.g. pack --scale minmax), lower C, or start from smaller weights",
            ),
            Error::EmptyClass { class } => {
                write!(f, "class {class} has no training sample")
            }
        }
    }
}

impl core::error::Error for Error {}
