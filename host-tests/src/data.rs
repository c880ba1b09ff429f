//! Test data: dequantising any [`Rows`] dataset into `f64`, and seeded synthetic problems.

use nalgebra::DMatrix;
use tinynewton::format::{self, Codes, DatasetSpec, Split};
use tinynewton::{DenseRows, Dequant, Rows};

use crate::reference::{Bias, Problem};
use crate::softmax_reference::SoftmaxProblem;

/// The committed 14×14 `u4` file's rows as dense nibbles: `pack --encoding u4` stored its
/// 16-level codes in the sparse layout (the smaller file), and the tests of the dense `u4`
/// kernels on real data take this copy, code for code the same ([`format::convert`]).
/// Leaked: the tests hold datasets for their whole run.
pub fn dense_u4(bytes: &[u8]) -> &'static [u8] {
    let to = format::Encoding::U4;
    let mut out = vec![0u8; format::converted_len(bytes, to).expect("a u4-range file")];
    format::convert(bytes, to, &mut out).expect("a u4-range file");
    out.leak()
}

/// The feature values of sample `i`, `x_ij = o_j + s_j q_ij`, computed in `f64`.
///
/// The codes come from the public trait alone: `axpy_codes(i, 1, 0)` writes `0 + 1·q_ij = q_ij`,
/// exact in `f32` (codes are small integers, or the stored `f32` value itself for dense rows).
/// The pair `(o_j, s_j)` is the stored `f32` pair, widened exactly; only the final `o + s q` is
/// rounded, in `f64`.
pub fn row_values<R: Rows + ?Sized>(rows: &R, i: usize) -> Vec<f64> {
    let m = rows.n_features();
    let mut q = vec![0.0f32; m];
    rows.axpy_codes(i, 1.0, &mut q);
    let dequant = rows.dequant();
    q.iter()
        .enumerate()
        .map(|(j, &qj)| {
            let (o, s) = dequant.pair(j);
            f64::from(o) + f64::from(s) * f64::from(qj)
        })
        .collect()
}

/// Every sample's values as an `n × m` matrix (no bias column).
pub fn feature_matrix<R: Rows + ?Sized>(rows: &R) -> DMatrix<f64> {
    let (n, m) = (rows.n_samples(), rows.n_features());
    let mut x = DMatrix::zeros(n, m);
    for i in 0..n {
        for (j, v) in row_values(rows, i).into_iter().enumerate() {
            x[(i, j)] = v;
        }
    }
    x
}

/// Every sample's label (`±1`) as `f64`.
pub fn labels<R: Rows + ?Sized>(rows: &R) -> Vec<f64> {
    (0..rows.n_samples())
        .map(|i| f64::from(rows.label(i)))
        .collect()
}

/// The reference problem on the dequantised data of `rows`.
pub fn problem_from_rows<R: Rows + ?Sized>(
    rows: &R,
    c_pos: f64,
    c_neg: f64,
    bias: Bias,
) -> Problem {
    Problem::new(&feature_matrix(rows), &labels(rows), c_pos, c_neg, bias)
}

/// Every sample's class index (`0..rows.n_classes()`), read through [`Rows::class`].
///
/// # Panics
/// If a sample's class is out of range (two-class data with a label other than `±1`, or a
/// corrupt multi-class file): the reference would otherwise index past its costs.
pub fn classes_of<R: Rows + ?Sized>(rows: &R) -> Vec<usize> {
    let k = rows.n_classes();
    (0..rows.n_samples())
        .map(|i| {
            let c = rows.class(i);
            assert!(c < k, "sample {i}: class {c} outside 0..{k}");
            c
        })
        .collect()
}

/// The softmax reference problem on the dequantised data of `rows`, `K = rows.n_classes()`,
/// one cost per class.
pub fn softmax_problem_from_rows<R: Rows + ?Sized>(
    rows: &R,
    costs: Vec<f64>,
    bias: Bias,
) -> SoftmaxProblem {
    SoftmaxProblem::new(
        feature_matrix(rows),
        classes_of(rows),
        rows.n_classes(),
        costs,
        bias,
    )
}

/// SplitMix64: a tiny, seedable, well-mixed generator, so a failing case is reproducible from
/// its seed alone (proptest shrinks and reports the seed).
#[derive(Clone, Debug)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// Starts the stream at `seed`.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `[0, 1)` with 53 random bits.
    pub fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Standard normal (Box–Muller).
    pub fn normal(&mut self) -> f64 {
        let u1 = 1.0 - self.uniform(); // in (0, 1]: the log is finite
        let u2 = self.uniform();
        (-2.0 * u1.ln()).sqrt() * (core::f64::consts::TAU * u2).cos()
    }
}

/// A synthetic dataset held as plain `f32` rows.
#[derive(Clone, Debug)]
pub struct Synthetic {
    /// Row-major `n × m` features, each in `[-bound, bound]`.
    pub x: Vec<f32>,
    /// `±1` labels; both classes are present.
    pub labels: Vec<i8>,
    /// Number of features.
    pub m: usize,
}

impl Synthetic {
    /// `n` samples of `m` features uniform in `[-bound, bound]`; labels from a random linear
    /// rule with a random bias plus logistic-scale label noise (so the classes overlap and the
    /// optimum is well inside the unit-cost regime). The first two samples are forced to `+1`
    /// and `-1` so both classes are always present.
    ///
    /// # Panics
    /// If `n < 2` or `m == 0` (a harness bug).
    pub fn generate(seed: u64, n: usize, m: usize, bound: f64) -> Self {
        assert!(n >= 2 && m >= 1);
        let mut rng = SplitMix64::new(seed);
        let w_true: Vec<f64> = (0..m)
            .map(|_| 2.0 * rng.normal() / (m as f64).sqrt())
            .collect();
        let b_true = 0.5 * rng.normal();
        let mut x = Vec::with_capacity(n * m);
        let mut labels = Vec::with_capacity(n);
        for i in 0..n {
            let row: Vec<f32> = (0..m).map(|_| rng.range(-bound, bound) as f32).collect();
            let z: f64 = row
                .iter()
                .zip(&w_true)
                .map(|(&a, &b)| f64::from(a) * b)
                .sum::<f64>()
                / bound
                + b_true;
            let noise = {
                let u = rng.range(1e-12, 1.0 - 1e-12);
                (u / (1.0 - u)).ln()
            };
            let y = match i {
                0 => 1,
                1 => -1,
                _ if z + noise >= 0.0 => 1,
                _ => -1,
            };
            x.extend_from_slice(&row);
            labels.push(y);
        }
        Self { x, labels, m }
    }

    /// The dataset through the core's dense-row type.
    ///
    /// # Panics
    /// Never for data from [`Synthetic::generate`] (finite values, `±1` labels, consistent shape).
    pub fn rows(&self) -> DenseRows<'_> {
        DenseRows::new(&self.x, &self.labels, self.m).expect("synthetic data is well formed")
    }
}

/// How [`Synthetic::packed`] quantises.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quantisation {
    /// `u8` codes (256 levels).
    U8,
    /// `u4` codes (16 levels, two per byte).
    U4,
}

impl Synthetic {
    /// The dataset quantised per feature (`x_j ≈ o_j + s_j q_j` with `o_j = min_j`,
    /// `s_j = (max_j − min_j)/levels`) and written as a packed file with a per-feature table, so
    /// a solver reads it through `Dequant::PerFeature` — the path where the scale is folded into
    /// the vector and the offsets into a dot product with `w`.
    ///
    /// # Panics
    /// If the core's writer refuses the spec (a harness bug: the codes and pairs are valid).
    pub fn packed(&self, quantisation: Quantisation) -> Vec<u8> {
        let levels = match quantisation {
            Quantisation::U8 => 255.0f32,
            Quantisation::U4 => 15.0f32,
        };
        let n = self.labels.len();
        let mut table = Vec::with_capacity(8 * self.m);
        let mut codes = vec![0u8; n * self.m];
        for j in 0..self.m {
            let column = (0..n).map(|i| self.x[i * self.m + j]);
            let lo = column.clone().fold(f32::INFINITY, f32::min);
            let hi = column.fold(f32::NEG_INFINITY, f32::max);
            let scale = if hi > lo { (hi - lo) / levels } else { 1.0 };
            table.extend_from_slice(&lo.to_le_bytes());
            table.extend_from_slice(&scale.to_le_bytes());
            for i in 0..n {
                let q = ((self.x[i * self.m + j] - lo) / scale)
                    .round()
                    .clamp(0.0, levels);
                codes[i * self.m + j] = q as u8;
            }
        }
        let spec = DatasetSpec {
            m: self.m,
            width: 0,
            height: 0,
            split: Split::All,
            pos_label: 1,
            neg_label: 0,
            dequant: Dequant::PerFeature(
                tinynewton::FeatureTable::new(&table).expect("8 bytes per feature"),
            ),
            labels: &self.labels,
            codes: match quantisation {
                Quantisation::U8 => Codes::U8(&codes),
                Quantisation::U4 => Codes::U4(&codes),
            },
        };
        let len = format::encoded_len(&spec).expect("valid synthetic spec");
        let mut out = vec![0u8; len];
        format::write(&spec, &mut out).expect("valid synthetic spec");
        out
    }
}

/// A synthetic `K`-class dataset held as plain `f32` rows; implements [`Rows`] with class
/// indices (its `label` is NaN for `K > 2`, as the trait asks of multi-class data).
#[derive(Clone, Debug)]
pub struct SyntheticClasses {
    /// Row-major `n × m` features, each in `[-bound, bound]`.
    pub x: Vec<f32>,
    /// Class index per sample, in `0..k`; every class is present.
    pub classes: Vec<usize>,
    /// Number of features.
    pub m: usize,
    /// Number of classes.
    pub k: usize,
}

impl SyntheticClasses {
    /// `n` samples of `m` features uniform in `[-bound, bound]`; classes drawn from a random
    /// multinomial logistic model, `y = argmax_k (w_kᵀx/bound + b_k + g_k)` with standard Gumbel
    /// noise `g_k = −log(−log u)` (the Gumbel-max trick samples `softmax(s)` exactly), so the
    /// classes overlap and the optimum stays in the unit-cost regime. The first `k` samples
    /// are forced to classes `0..k` so every class is present.
    ///
    /// # Panics
    /// If `n < k`, `k < 2` or `m == 0` (a harness bug).
    pub fn generate(seed: u64, n: usize, m: usize, k: usize, bound: f64) -> Self {
        assert!(k >= 2 && n >= k && m >= 1);
        let mut rng = SplitMix64::new(seed);
        let w_true: Vec<f64> = (0..k * m)
            .map(|_| 2.0 * rng.normal() / (m as f64).sqrt())
            .collect();
        let b_true: Vec<f64> = (0..k).map(|_| 0.5 * rng.normal()).collect();
        let mut x = Vec::with_capacity(n * m);
        let mut classes = Vec::with_capacity(n);
        for i in 0..n {
            let row: Vec<f32> = (0..m).map(|_| rng.range(-bound, bound) as f32).collect();
            let noisy: Vec<f64> = (0..k)
                .map(|c| {
                    let s: f64 = row
                        .iter()
                        .zip(&w_true[c * m..(c + 1) * m])
                        .map(|(&a, &b)| f64::from(a) * b)
                        .sum::<f64>()
                        / bound
                        + b_true[c];
                    let u = rng.range(1e-12, 1.0 - 1e-12);
                    s - (-u.ln()).ln()
                })
                .collect();
            let y = if i < k {
                i
            } else {
                (0..k)
                    .max_by(|&a, &b| noisy[a].total_cmp(&noisy[b]))
                    .unwrap_or(0)
            };
            x.extend_from_slice(&row);
            classes.push(y);
        }
        Self { x, classes, m, k }
    }

    fn row(&self, i: usize) -> &[f32] {
        &self.x[i * self.m..(i + 1) * self.m]
    }
}

impl Rows for SyntheticClasses {
    fn n_samples(&self) -> usize {
        self.classes.len()
    }
    fn n_features(&self) -> usize {
        self.m
    }
    /// Two classes: `0 → +1`, `1 → −1` (the trait's mapping); more: NaN.
    fn label(&self, i: usize) -> f32 {
        match (self.k, self.classes[i]) {
            (2, 0) => 1.0,
            (2, _) => -1.0,
            _ => f32::NAN,
        }
    }
    fn n_classes(&self) -> usize {
        self.k
    }
    fn class(&self, i: usize) -> usize {
        self.classes[i]
    }
    fn dequant(&self) -> Dequant<'_> {
        Dequant::Identity
    }
    fn dot_codes(&self, i: usize, u: &[f32]) -> f32 {
        self.row(i).iter().zip(u).fold(0.0, |s, (x, u)| s + x * u)
    }
    fn axpy_codes(&self, i: usize, a: f32, out: &mut [f32]) {
        for (o, x) in out.iter_mut().zip(self.row(i)) {
            *o += a * x;
        }
    }
}

/// A seeded stratified split: within each class, a SplitMix64 Fisher–Yates shuffle of the
/// sample indices, then the first `⌈train_fraction · n_k⌉` go to training. Returns the training
/// and test indices, each in increasing order.
pub fn stratified_split(
    classes: &[usize],
    k: usize,
    train_fraction: f64,
    seed: u64,
) -> (Vec<usize>, Vec<usize>) {
    let mut rng = SplitMix64::new(seed);
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for c in 0..k {
        let mut members: Vec<usize> = (0..classes.len()).filter(|&i| classes[i] == c).collect();
        for a in (1..members.len()).rev() {
            let b = (rng.next_u64() % (a as u64 + 1)) as usize;
            members.swap(a, b);
        }
        let n_train = (train_fraction * members.len() as f64).ceil() as usize;
        train.extend_from_slice(&members[..n_train]);
        test.extend_from_slice(&members[n_train..]);
    }
    train.sort_unstable();
    test.sort_unstable();
    (train, test)
}
