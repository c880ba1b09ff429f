//! The multi-class runs (issue 9): softmax and one-vs-rest on a `K`-class packed pair, shared
//! word for word by the firmware (`mod multiclass`) and the host parity check
//! (`#[path = "../../src/multiclass.rs"]`), so both train the same rows with the same settings
//! and print the same `result` fields. Board- and host-free, like [`crate::runs`].

use tinynewton::format::PackedDataset;
use tinynewton::{Dequant, Iteration, ModelError, OvrReport, Report, Rows, Settings, Workspace};

use crate::runs::{self, Evaluation, Files, RunError};

/// The first `n` samples of a dataset, as a dataset: a RAM-bound run trains on a prefix of a
/// (shuffled, stratified) training file without copying it out of flash. Every access,
/// including the multi-vector kernels, is the inner dataset's, so the row loops are the same
/// code as on the whole file.
pub struct FirstRows<'a, R: Rows + ?Sized> {
    inner: &'a R,
    n: usize,
}

impl<'a, R: Rows + ?Sized> FirstRows<'a, R> {
    /// The first `min(n, inner.n_samples())` samples of `inner`.
    pub fn new(inner: &'a R, n: usize) -> Self {
        Self {
            inner,
            n: n.min(inner.n_samples()),
        }
    }
}

impl<R: Rows + ?Sized> Rows for FirstRows<'_, R> {
    #[inline]
    fn n_samples(&self) -> usize {
        self.n
    }
    #[inline]
    fn n_features(&self) -> usize {
        self.inner.n_features()
    }
    #[inline]
    fn label(&self, i: usize) -> f32 {
        self.inner.label(i)
    }
    #[inline]
    fn n_classes(&self) -> usize {
        self.inner.n_classes()
    }
    #[inline]
    fn class(&self, i: usize) -> usize {
        self.inner.class(i)
    }
    #[inline]
    fn dequant(&self) -> Dequant<'_> {
        self.inner.dequant()
    }
    #[inline]
    fn dot_codes(&self, i: usize, u: &[f32]) -> f32 {
        self.inner.dot_codes(i, u)
    }
    #[inline]
    fn axpy_codes(&self, i: usize, a: f32, out: &mut [f32]) {
        self.inner.axpy_codes(i, a, out)
    }
    #[inline]
    fn dot_codes_multi(&self, i: usize, u: &[f32], stride: usize, out: &mut [f32]) {
        self.inner.dot_codes_multi(i, u, stride, out)
    }
    #[inline]
    fn axpy_codes_multi(&self, i: usize, a: &[f32], stride: usize, out: &mut [f32]) {
        self.inner.axpy_codes_multi(i, a, stride, out)
    }
}

/// Parses both files ([`runs::parse`]: CRCs, splits, feature counts) and checks that the test
/// file has the training file's class table (class `k` is the same original label in both).
pub fn parse(files: &Files) -> Result<(PackedDataset<'static>, PackedDataset<'static>), RunError> {
    let (train, test) = runs::parse(files)?;
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
