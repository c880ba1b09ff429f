//! The multi-class runs (issue 9): softmax and one-vs-rest on a `K`-class packed pair, so the
//! firmware and the host parity check train the same rows with the same settings and print the
//! same `result` fields. The runs train on [`FirstRows`]: a prefix of the training file, with
//! fused multi-class row kernels.

use tinynewton::format::PackedDataset;
use tinynewton::{Iteration, ModelError, OvrReport, Report, Rows, Settings, Workspace};

use crate::rows::FirstRows;
use crate::{Evaluation, Files, RunError};

/// Parses both files ([`crate::parse`]: CRCs, splits, feature counts) and checks that the test
/// file has the training file's class table (class `k` is the same original label in both).
pub fn parse(files: &Files) -> Result<(PackedDataset<'static>, PackedDataset<'static>), RunError> {
    let (train, test) = crate::parse(files)?;
    if train.n_classes() < 2
        || test.n_classes() != train.n_classes()
        || !train.class_table().iter().eq(test.class_table().iter())
    {
        return Err(RunError::WrongFile { split: "test" });
    }
    Ok((train, test))
}

/// Softmax on the first `rows` training samples, from zero.
pub fn train_softmax<const M: usize, const N: usize, const T: usize>(
    ws: &mut Workspace<M, N, T>,
    train: &PackedDataset<'_>,
    rows: usize,
    settings: &Settings,
    on_iteration: impl FnMut(&Iteration),
) -> Result<Report, RunError> {
    let data = FirstRows::new(train, rows);
    tinynewton::train_softmax(ws.buffers(), &data, settings, on_iteration).map_err(RunError::Train)
}

/// One-vs-rest on the first `rows` training samples, the `K` weight vectors into `weights`
/// (`K(m + 1)`, class-major, from zero).
pub fn train_ovr<const M: usize, const N: usize, const T: usize>(
    ws: &mut Workspace<M, N, T>,
    train: &PackedDataset<'_>,
    rows: usize,
    settings: &Settings,
    weights: &mut [f32],
    on_class: impl FnMut(usize, &Report),
) -> Result<OvrReport, RunError> {
    let data = FirstRows::new(train, rows);
    tinynewton::train_one_vs_rest(ws.buffers(), &data, settings, weights, on_class)
        .map_err(RunError::Train)
}

/// Test accuracy of the class-major `weights` (softmax or one-vs-rest) by the largest decision
/// value, and their fingerprint; `u` is scratch of at least `m`.
pub fn evaluate(
    test: &PackedDataset<'_>,
    weights: &[f32],
    u: &mut [f32],
) -> Result<Evaluation, RunError> {
    let mut test_correct = 0;
    for i in 0..test.n_samples() {
        let predicted = tinynewton::argmax_row(test, i, weights, u).ok_or(RunError::Model(
            ModelError::FeatureCountMismatch {
                expected: weights.len(),
                got: test.n_features(),
            },
        ))?;
        if predicted == test.class(i) {
            test_correct += 1;
        }
    }
    Ok(Evaluation {
        test_correct,
        test_total: test.n_samples(),
        fingerprint: fingerprint(weights),
    })
}

/// FNV-1a 64 of the weights' little-endian bytes, in order (the binary model's fingerprint of
/// its weights then its bias is the same function of the same `m + 1` floats).
pub fn fingerprint(weights: &[f32]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    weights
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .fold(OFFSET_BASIS, |h, b| (h ^ u64::from(b)).wrapping_mul(PRIME))
}
