//! The firmware demo's training runs, one crate shared by the firmware (its default binary), the
//! host parity check (`firmware/host-parity`) and `host-tests/tests/model_selection.rs`, so every
//! side trains the same bytes with the same settings and prints the same `result` fields: the
//! committed MNIST files and their cross-validated settings, parsing, training and evaluation
//! here, the multi-class runs in [`multiclass`] (on [`rows::FirstRows`], a training prefix with
//! fused row kernels), and the shape of a build's selection of runs in [`selection`]. Which runs a
//! build makes, and their workspace capacities, are chosen at build time by the consumer's build
//! script (`firmware/build_support/datasets.rs` writes the `for_each_run` that calls a
//! [`selection::RunVisitor`]). Keep this crate free of anything board- or host-specific, and of
//! build-time generated code (model_selection has no build script).
#![no_std]

pub mod multiclass;
pub mod rows;
pub mod selection;

use tinynewton::format::{self, FormatError, PackedDataset};
use tinynewton::{Buffers, Rows, Workspace};
use tinynewton::{Error, Iteration, ModelError, Report, Settings, SolverKind, Status};

/// One dataset: its name in the result line and its train and test files, 4-byte aligned in
/// flash as the format asks (`include_packed!` wraps `include_bytes!` in `Aligned`).
pub struct Files {
    /// `mnist-7v1-<size>-<encoding>`, or a packed pair's name (`iris-setosa`).
    pub name: &'static str,
    /// Training split.
    pub train: &'static [u8],
    /// Test split.
    pub test: &'static [u8],
}

/// 7×7 `u8`: 49 features + bias, trained with the explicit Hessian and Cholesky.
pub fn mnist7_u8() -> Files {
    Files {
        name: "mnist-7v1-7x7-u8",
        train: tinynewton::include_packed!("../../../data/mnist-7v1-7x7-u8-train.tnds"),
        test: tinynewton::include_packed!("../../../data/mnist-7v1-7x7-u8-test.tnds"),
    }
}

/// 14×14 `u8`: 196 features + bias, trained with Newton-CG.
pub fn mnist14_u8() -> Files {
    Files {
        name: "mnist-7v1-14x14-u8",
        train: tinynewton::include_packed!("../../../data/mnist-7v1-14x14-u8-train.tnds"),
        test: tinynewton::include_packed!("../../../data/mnist-7v1-14x14-u8-test.tnds"),
    }
}

/// 14×14 `u4`: 16-level codes, stored sparse as `pack --encoding u4` chose (130 KB against
/// 139 KB for the `u8` file; dense nibbles took 174 KB), the same bits as the dense nibbles.
pub fn mnist14_u4() -> Files {
    Files {
        name: "mnist-7v1-14x14-u4",
        train: tinynewton::include_packed!("../../../data/mnist-7v1-14x14-u4-train.tnds"),
        test: tinynewton::include_packed!("../../../data/mnist-7v1-14x14-u4-test.tnds"),
    }
}

/// 7×7: explicit-Hessian solver, `C = 30` chosen by 5-fold cross-validation on the training
/// split only (`host-tests/tests/model_selection.rs` recomputes the choice and fails if this
/// constant drifts from it). LIBLINEAR's default `C = 1` underfits 49 coarse pixels: its f64
/// optimum classifies 430/440 test samples, below the 98 % the device must reach.
pub const SETTINGS_CHOLESKY: Settings = Settings {
    solver: SolverKind::Cholesky,
    c_pos: 30.0,
    c_neg: 30.0,
    ..Settings::DEFAULT
};

/// 14×14: LIBLINEAR's `-s 0 -c 1 -B 1` defaults (also the cross-validated choice: see
/// `host-tests/tests/model_selection.rs`), matrix-free Newton-CG.
pub const SETTINGS_CG: Settings = Settings {
    solver: SolverKind::Cg,
    ..Settings::DEFAULT
};

/// Why a run could not produce a result.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum RunError {
    /// A packed file failed to parse or its CRC check.
    Format {
        /// `train` or `test`.
        split: &'static str,
        /// The check that failed.
        error: FormatError,
    },
    /// The file parsed but is not the split it is embedded as, or the test file's feature count
    /// differs from the training file's.
    WrongFile {
        /// `train` or `test`.
        split: &'static str,
    },
    /// The solver refused the data, settings or capacities.
    Train(Error),
    /// Evaluating the trained model failed.
    Model(ModelError),
}

/// Parses and CRC-checks both files (in place: nothing is copied out of flash).
pub fn parse(files: &Files) -> Result<(PackedDataset<'static>, PackedDataset<'static>), RunError> {
    let train = format::parse(files.train).map_err(|error| RunError::Format {
        split: "train",
        error,
    })?;
    let test = format::parse(files.test).map_err(|error| RunError::Format {
        split: "test",
        error,
    })?;
    if train.header().split != format::Split::Train {
        return Err(RunError::WrongFile { split: "train" });
    }
    if test.header().split != format::Split::Test || test.n_features() != train.n_features() {
        return Err(RunError::WrongFile { split: "test" });
    }
    Ok((train, test))
}

/// Trains on `train` from zero (or from the workspace's weights if `settings.warm_start`);
/// `on_iteration` runs after every accepted Newton step.
pub fn train<const M: usize, const N: usize, const T: usize>(
    ws: &mut Workspace<M, N, T>,
    train: &PackedDataset<'_>,
    settings: &Settings,
    on_iteration: impl FnMut(&Iteration),
) -> Result<Report, RunError> {
    tinynewton::train(ws.buffers(), train, settings, on_iteration).map_err(RunError::Train)
}

/// [`train`] with a callback that sees the current weights after every accepted step and may
/// stop the run (`ControlFlow::Break`: status `stopped`): the anytime mode.
///
/// Takes the workspace's [`Buffers`], not the workspace: one copy of the caller's run serves
/// workspaces of every capacity.
pub fn train_anytime(
    buffers: Buffers<'_>,
    train: &PackedDataset<'_>,
    settings: &Settings,
    on_iteration: impl FnMut(&Iteration, &[f32]) -> core::ops::ControlFlow<()>,
) -> Result<Report, RunError> {
    tinynewton::train_anytime(buffers, train, settings, on_iteration).map_err(RunError::Train)
}

/// Correct test predictions of the model of weights `w` (features, bias last): the anytime
/// mode's accuracy after each iteration.
pub fn test_correct<const M: usize>(
    w: &[f32],
    test: &PackedDataset<'_>,
) -> Result<(usize, usize), RunError> {
    tinynewton::Model::<M>::from_weights(w)
        .accuracy(test)
        .map_err(RunError::Model)
}

/// How the trained model does on the test split.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Evaluation {
    /// Correctly classified test samples.
    pub test_correct: usize,
    /// Test samples.
    pub test_total: usize,
    /// FNV-1a of the trained weights' bits: equal on host and device iff bit-identical.
    pub fingerprint: u64,
}

/// Evaluates the workspace's model on `test`.
pub fn evaluate<const M: usize, const N: usize, const T: usize>(
    ws: &Workspace<M, N, T>,
    test: &PackedDataset<'_>,
) -> Result<Evaluation, RunError> {
    evaluate_weights::<M>(ws.weights(), test)
}

/// Evaluates the model of weights `w` (features, bias last; at most `M`) on `test`.
pub fn evaluate_weights<const M: usize>(
    w: &[f32],
    test: &PackedDataset<'_>,
) -> Result<Evaluation, RunError> {
    let model = tinynewton::Model::<M>::from_weights(w);
    let (test_correct, test_total) = model.accuracy(test).map_err(RunError::Model)?;
    Ok(Evaluation {
        test_correct,
        test_total,
        fingerprint: model.fingerprint(),
    })
}

/// `status=` value of the result line.
pub fn status_name(status: Status) -> &'static str {
    status.name()
}

/// `solver=` value of the result line.
pub fn solver_name(solver: SolverKind) -> &'static str {
    solver.name()
}
