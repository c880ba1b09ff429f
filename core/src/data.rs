//! Data access: the one small trait every solver reads samples through.
//!
//! A dataset stores *codes* `q_ij` and a dequantisation `x_ij = o_j + s_j · q_ij`
//! ([`Dequant`]). The trait exposes the codes and the dequantisation separately so that a
//! pass over the rows can fold the scale into the vector once per pass
//! (`Σ_j w_j (o_j + s_j q_ij) = Σ_j (w_j s_j) q_ij + w·o`) and the inner loop over a row costs
//! what it costs on plain `f32` rows. Rows are read in place: a packed dataset in flash is never
//! copied into RAM.

/// How stored codes map to feature values: `x_ij = offset_j + scale_j · q_ij`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Dequant<'a> {
    /// The codes are the values (`f32` rows): offset 0, scale 1.
    Identity,
    /// One `(offset, scale)` pair shared by every feature (e.g. MNIST pixels).
    Shared {
        /// Added to every scaled code.
        offset: f32,
        /// Multiplies every code.
        scale: f32,
    },
    /// One `(offset, scale)` pair per feature.
    PerFeature(FeatureTable<'a>),
}

impl Dequant<'_> {
    /// `(offset_j, scale_j)` for feature `j`.
    #[inline]
    pub fn pair(&self, j: usize) -> (f32, f32) {
        match self {
            Dequant::Identity => (0.0, 1.0),
            Dequant::Shared { offset, scale } => (*offset, *scale),
            Dequant::PerFeature(table) => table.pair(j),
        }
    }
}

/// A per-feature dequantisation table read in place: `m` little-endian `(offset, scale)` `f32`
/// pairs, 8 bytes per feature.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FeatureTable<'a> {
    bytes: &'a [u8],
}

impl<'a> FeatureTable<'a> {
    /// Wraps `bytes`; `None` unless its length is a multiple of 8.
    pub fn new(bytes: &'a [u8]) -> Option<Self> {
        bytes.len().is_multiple_of(8).then_some(Self { bytes })
    }

    /// Number of features in the table.
    pub fn len(&self) -> usize {
        self.bytes.len() / 8
    }

    /// True when the table holds no feature.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The pairs `(offset_j, scale_j)` for `j = 0, 1, …` in order (a sequential read of the
    /// table, without [`pair`](FeatureTable::pair)'s per-index checks).
    pub fn pairs(&self) -> impl Iterator<Item = (f32, f32)> + 'a {
        self.bytes.chunks_exact(8).map(|c| {
            let f = |k: usize| {
                c.get(k..k.saturating_add(4))
                    .and_then(|b| b.try_into().ok())
                    .map_or(0.0, f32::from_le_bytes)
            };
            (f(0), f(4))
        })
    }

    /// `(offset_j, scale_j)`; `(0, 1)` past the end (never a panic).
    #[inline]
    pub fn pair(&self, j: usize) -> (f32, f32) {
        // Checked arithmetic: `j` near `usize::MAX` is past the end, not an overflow.
        let at = |k: Option<usize>| {
            let k = k?;
            self.bytes
                .get(k..k.checked_add(4)?)
                .and_then(|b| b.try_into().ok())
                .map(f32::from_le_bytes)
        };
        let start = j.checked_mul(8);
        match (at(start), at(start.and_then(|k| k.checked_add(4)))) {
            (Some(o), Some(s)) => (o, s),
            _ => (0.0, 1.0),
        }
    }
}

/// Read access to `n` labelled samples of `m` features (the bias is *not* a feature here: the
/// objective appends it).
///
/// Implementations must not panic for `i < n_samples()` and vectors of length `≥ n_features()`.
pub trait Rows {
    /// Number of samples `n`.
    fn n_samples(&self) -> usize;
    /// Number of features `m`, without the bias.
    fn n_features(&self) -> usize;
    /// Label of sample `i` for a two-class problem: `+1.0` or `-1.0`. A dataset of more than
    /// two classes answers NaN here (binary training then refuses it as a bad label); read
    /// its labels with [`class`](Rows::class).
    fn label(&self, i: usize) -> f32;
    /// Number of classes `K ≥ 2` (class indices `0..K`). Two-class data: 2.
    fn n_classes(&self) -> usize {
        2
    }
    /// Class index of sample `i` in `0..n_classes()`. Two-class data: `+1 → 0`, `−1 → 1`
    /// (anything else: `n_classes()`, out of range, so a check refuses it rather than guessing).
    fn class(&self, i: usize) -> usize {
        let y = self.label(i);
        if y == 1.0 {
            0
        } else if y == -1.0 {
            1
        } else {
            self.n_classes()
        }
    }
    /// How codes map to values.
    fn dequant(&self) -> Dequant<'_>;
    /// The two-class labels of samples `0..n` as stored bytes, each the two's-complement
    /// `i8` of its label, when the layout keeps them so (`None`, the default: it does not).
    /// The objective's passes then walk this slice (a load and a conversion per sample)
    /// instead of calling [`label`](Rows::label) once per sample per pass; an implementation
    /// answers `Some` only when `f32::from(b as i8)` is `label(i)` for every sample `i < n`.
    fn label_signs(&self) -> Option<&[u8]> {
        None
    }
    /// Typical stored non-zero codes per row (at most `m`), for estimates of work such as
    /// [`SolverKind::resolve`](crate::SolverKind::resolve)'s: a hint, never a bound a kernel
    /// relies on. The default takes the rows as dense (`m`); a layout that knows its sparsity
    /// answers the mean, rounded up.
    fn nnz_hint(&self) -> usize {
        self.n_features()
    }
    /// `Σ_j q_ij · u_j` over the stored codes of row `i` (`u.len() ≥ m`).
    fn dot_codes(&self, i: usize, u: &[f32]) -> f32;
    /// `out_j += a · q_ij` for every feature `j` of row `i` (`out.len() ≥ m`).
    fn axpy_codes(&self, i: usize, a: f32, out: &mut [f32]);
    /// One row of a Hessian-vector product, `X̃ᵀ(D ⊙ X̃v)`: `xv = (Σ_j q_ij u_j + offset) + bias`,
    /// then `out_j += (weight · xv) · q_ij` for every feature; returns `xv`. The default is
    /// [`dot_codes`](Rows::dot_codes) then [`axpy_codes`](Rows::axpy_codes), and an
    /// implementation must give the same bits (it may read the row once instead of twice).
    fn dot_axpy_codes(
        &self,
        i: usize,
        u: &[f32],
        offset: f32,
        bias: f32,
        weight: f32,
        out: &mut [f32],
    ) -> f32 {
        let xv = (self.dot_codes(i, u) + offset) + bias;
        self.axpy_codes(i, weight * xv, out);
        xv
    }
    /// The rows' part of a Hessian-vector product in one pass: for every row `i < dd.len()`,
    /// `xv_i = dot_axpy_codes(i, u, offset, bias, dd_i, out)`; returns `Σ_i dd_i · xv_i`
    /// (summed in row order, one accumulator) and stores `xv_i` into `xv` when it is not
    /// empty. The default is that loop ([`hess_vec_codes_each`]); an implementation must
    /// give the same bits (a layout may hoist per-row work out of the loop), with one stated
    /// exception: a layout may quantise the update's weights `c_i = dd_i · xv_i` to `ĉ_i`,
    /// adding `X̃ᵀĉ` and returning `Σ_i ĉ_i`, when it documents the bound on `|ĉ_i − c_i|`
    /// and keeps `xv` at least as accurate as the `f32` sum (CG keeps `X̃d` from it). The
    /// packed dense `u8` rows do ([`crate::format`]'s fixed-point pass, `2⁻¹⁵·max|c|` per
    /// block of rows): the product then shapes CG's direction within that bound, while the
    /// gradient, the objective and the margins stay exact to `f32`.
    fn hess_vec_codes(
        &self,
        dd: &[f32],
        u: &[f32],
        offset: f32,
        bias: f32,
        out: &mut [f32],
        xv: &mut [f32],
    ) -> f32 {
        hess_vec_codes_each(self, dd, u, offset, bias, out, xv)
    }
    /// `out_j += a_i · q_ij` for every row `i < n` and feature `j`, where `a_i = a(i)` is asked
    /// for once per row, in row order, before the row is added (a layout may ask for the next
    /// row's too before adding either: the dense `u8` rows go two at a time) (a gradient pass,
    /// `X̃ᵀa`, whose weights come from the margins row by row). The default is one
    /// [`axpy_codes`](Rows::axpy_codes) per row; an implementation must give the same bits.
    fn axpy_codes_rows(&self, a: &mut dyn FnMut(usize) -> f32, out: &mut [f32]) {
        for i in 0..self.n_samples() {
            self.axpy_codes(i, a(i), out);
        }
    }
    /// `out_i = Σ_j q_ij · u_j` for every row `i < min(n, out.len())` (`u.len() ≥ m`): the
    /// margins pass `X̃v` (e.g. `X̃d` for the line search). The default is one
    /// [`dot_codes`](Rows::dot_codes) per row; an implementation must give the same bits.
    fn dot_codes_rows(&self, u: &[f32], out: &mut [f32]) {
        dot_codes_rows_each(self, u, out)
    }
    /// The first feature of row `i` whose stored code `q_ij` or dequantised value
    /// `o_j + s_j·q_ij` is NaN or infinite (`None`: all finite), for the check before
    /// training. The default reads the row through [`axpy_codes`](Rows::axpy_codes) into the
    /// scratch `u` (`0 + 1·q = q` exactly; `u.len() ≥ m`, a shorter scratch is checked as far
    /// as it reaches); a layout whose values were validated when it was built answers without
    /// reading the row.
    fn first_non_finite(&self, i: usize, u: &mut [f32]) -> Option<usize> {
        let len = u.len().min(self.n_features());
        let u = u.get_mut(..len).unwrap_or(&mut []);
        u.fill(0.0);
        self.axpy_codes(i, 1.0, u);
        let dequant = self.dequant();
        u.iter().enumerate().position(|(j, q)| {
            let (o, s) = dequant.pair(j);
            !q.is_finite() || !(o + s * q).is_finite()
        })
    }
    /// `out_k = Σ_j q_ij · u[k·stride + j]` for every `k < out.len()`: the dot products of
    /// row `i` with several vectors laid `stride ≥ m` apart (a multi-class pass reads the row
    /// once for all of them). The default calls [`dot_codes`](Rows::dot_codes) per vector;
    /// vectors that do not fit `u` get 0.
    fn dot_codes_multi(&self, i: usize, u: &[f32], stride: usize, out: &mut [f32]) {
        dot_codes_each(self, i, u, stride, out)
    }
    /// `out[k·stride + j] += a_k · q_ij` for every `k < a.len()` and feature `j` (the
    /// transpose of [`dot_codes_multi`](Rows::dot_codes_multi)). The default calls
    /// [`axpy_codes`](Rows::axpy_codes) per vector; vectors that do not fit `out` are skipped.
    fn axpy_codes_multi(&self, i: usize, a: &[f32], stride: usize, out: &mut [f32]) {
        axpy_codes_each(self, i, a, stride, out)
    }
    /// The non-zero codes of row `i` in increasing feature order: `code[..nnz]` receives the
    /// codes `q_ij ≠ 0` (as `f32`, bit for bit what [`axpy_codes`](Rows::axpy_codes) adds with
    /// `a = 1`), `index[..nnz]` their features `j`; returns `nnz`. The caller passes
    /// `code.len() ≥ m` (the default reads the whole row into it first) and
    /// `index.len() ≥ m`; features past either slice or past `u16::MAX` are not reported.
    /// The explicit Hessian's rank-one updates use it to touch only the row's non-zeros.
    /// The default reads the row with `axpy_codes` into the zeroed `code` and compacts it in
    /// place ([`nonzero_codes_each`]).
    fn nonzero_codes(&self, i: usize, index: &mut [u16], code: &mut [f32]) -> usize {
        nonzero_codes_each(self, i, index, code)
    }
    /// Adds the codes' Gram matrix of every row, `Σ_i dd_i q̃_i q̃_iᵀ` (`q̃_i`: the row's
    /// codes with the bias feature's `1` appended at index `m`), into the packed lower triangle
    /// `h[..packed_len(m + 1)]`: rows in order, each entry receiving `(dd_i q̃_ij) q̃_ik` once
    /// per row, zero codes and rows with `dd_i = 0` skipped (exact, see
    /// [`Logistic::hessian_packed`](crate::Logistic::hessian_packed)); `index` and `code`
    /// (`> m` entries each) are its scratch. `false` (nothing added) when the layout has no
    /// pass of its own: the explicit Hessian then reads the rows one at a time. A sparse
    /// file's pass: looking a row up by its index cost as much as copying its entries (≈ 110
    /// instructions a 7×7 MNIST row on the emulated Cortex-M4), a walk reads each row's end
    /// once.
    fn gram_codes(
        &self,
        _dd: &[f32],
        _index: &mut [u16],
        _code: &mut [f32],
        _h: &mut [f32],
    ) -> bool {
        false
    }
    /// The codes of row `i` as `f32` into `code[..m]`, zeros included (bit for bit what
    /// [`axpy_codes`](Rows::axpy_codes) adds with `a = 1` to a zeroed `code`); returns how many
    /// are non-zero (`0` when `code` is shorter than `m`). The explicit Hessian reads rows of
    /// dense layouts with it. The default is that `axpy_codes` and a count.
    fn codes(&self, i: usize, code: &mut [f32]) -> usize {
        codes_each(self, i, code)
    }
}

/// [`Rows::hess_vec_codes`] by one [`Rows::dot_axpy_codes`] per row (the trait's default).
pub fn hess_vec_codes_each<R: Rows + ?Sized>(
    rows: &R,
    dd: &[f32],
    u: &[f32],
    offset: f32,
    bias: f32,
    out: &mut [f32],
    xv: &mut [f32],
) -> f32 {
    let mut sum_t = 0.0f32;
    let mut xv = xv.iter_mut();
    for (i, &di) in dd.iter().enumerate() {
        let xvi = rows.dot_axpy_codes(i, u, offset, bias, di, out);
        sum_t += di * xvi;
        if let Some(k) = xv.next() {
            *k = xvi;
        }
    }
    sum_t
}

/// [`Rows::dot_codes_rows`] by one [`Rows::dot_codes`] per row (the trait's default).
pub fn dot_codes_rows_each<R: Rows + ?Sized>(rows: &R, u: &[f32], out: &mut [f32]) {
    for (i, oi) in out.iter_mut().enumerate().take(rows.n_samples()) {
        *oi = rows.dot_codes(i, u);
    }
}

/// [`Rows::nonzero_codes`] through [`Rows::axpy_codes`] (the trait's default): the row's codes
/// are added into the zeroed `code[..m]` (`0 + 1·q = q` exactly) and the non-zero ones moved
/// to the front, in place (the write position never passes the read position).
pub fn nonzero_codes_each<R: Rows + ?Sized>(
    rows: &R,
    i: usize,
    index: &mut [u16],
    code: &mut [f32],
) -> usize {
    let m = rows.n_features();
    let Some(q) = code.get_mut(..m) else {
        return 0;
    };
    q.fill(0.0);
    rows.axpy_codes(i, 1.0, q);
    let mut nnz = 0usize;
    for j in 0..m.min(index.len()) {
        let (Ok(feature), Some(&qj)) = (u16::try_from(j), code.get(j)) else {
            break;
        };
        if qj != 0.0 {
            if let (Some(c), Some(k)) = (code.get_mut(nnz), index.get_mut(nnz)) {
                *c = qj;
                *k = feature;
            }
            // nnz ≤ j < m: cannot wrap.
            nnz = nnz.saturating_add(1);
        }
    }
    nnz
}

/// [`Rows::codes`] through [`Rows::axpy_codes`] (the trait's default): the codes added into
/// the zeroed `code[..m]` (`0 + 1·q = q` exactly), then counted.
pub fn codes_each<R: Rows + ?Sized>(rows: &R, i: usize, code: &mut [f32]) -> usize {
    let Some(q) = code.get_mut(..rows.n_features()) else {
        return 0;
    };
    q.fill(0.0);
    rows.axpy_codes(i, 1.0, q);
    q.iter().filter(|&&v| v != 0.0).count()
}

/// [`Rows::dot_codes_multi`] by one [`Rows::dot_codes`] per vector (the trait's default; an
/// implementation falls back to it for layouts it has no row-once kernel for).
pub fn dot_codes_each<R: Rows + ?Sized>(
    rows: &R,
    i: usize,
    u: &[f32],
    stride: usize,
    out: &mut [f32],
) {
    let m = rows.n_features();
    for (k, ok) in out.iter_mut().enumerate() {
        let start = k.saturating_mul(stride);
        *ok = match u.get(start..start.saturating_add(m)) {
            Some(uk) => rows.dot_codes(i, uk),
            None => 0.0,
        };
    }
}

/// [`Rows::axpy_codes_multi`] by one [`Rows::axpy_codes`] per vector (the trait's default).
pub fn axpy_codes_each<R: Rows + ?Sized>(
    rows: &R,
    i: usize,
    a: &[f32],
    stride: usize,
    out: &mut [f32],
) {
    let m = rows.n_features();
    for (k, ak) in a.iter().enumerate() {
        let start = k.saturating_mul(stride);
        if let Some(ok) = out.get_mut(start..start.saturating_add(m)) {
            rows.axpy_codes(i, *ak, ok);
        }
    }
}

/// Why a plain `f32` dataset was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum DataError {
    /// `x.len()` is not `labels.len() · m`.
    ShapeMismatch,
    /// A label is neither `+1` nor `-1`.
    BadLabel {
        /// Index of the sample.
        sample: usize,
    },
    /// A feature value is NaN or infinite.
    NonFinite {
        /// Index of the sample.
        sample: usize,
        /// Index of the feature.
        feature: usize,
    },
}

impl core::fmt::Display for DataError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            DataError::ShapeMismatch => {
                f.write_str("the value count is not (number of labels) x (number of features)")
            }
            DataError::BadLabel { sample } => {
                write!(f, "the label of sample {sample} is neither +1 nor -1")
            }
            DataError::NonFinite { sample, feature } => {
                write!(f, "sample {sample}, feature {feature} is NaN or infinite")
            }
        }
    }
}

impl core::error::Error for DataError {}

/// Plain row-major `f32` samples with `±1` labels, borrowed (e.g. a `static` array).
#[derive(Clone, Copy, Debug)]
pub struct DenseRows<'a> {
    x: &'a [f32],
    labels: &'a [i8],
    m: usize,
}

impl<'a> DenseRows<'a> {
    /// Checks shape, labels (`±1`) and that every value is finite.
    pub fn new(x: &'a [f32], labels: &'a [i8], m: usize) -> Result<Self, DataError> {
        if labels.len().checked_mul(m) != Some(x.len()) {
            return Err(DataError::ShapeMismatch);
        }
        if let Some(sample) = labels.iter().position(|&y| y != 1 && y != -1) {
            return Err(DataError::BadLabel { sample });
        }
        if let Some(k) = x.iter().position(|v| !v.is_finite()) {
            // `x` has an entry, so `m > 0`: the checked forms never answer `None`.
            return Err(DataError::NonFinite {
                sample: k.checked_div(m).unwrap_or(0),
                feature: k.checked_rem(m).unwrap_or(0),
            });
        }
        Ok(Self { x, labels, m })
    }

    /// Row `i`, empty past the end (checked: an `i` far past `n` is no overflow either).
    fn row(&self, i: usize) -> &'a [f32] {
        i.checked_mul(self.m)
            .and_then(|start| self.x.get(start..start.checked_add(self.m)?))
            .unwrap_or(&[])
    }
}

impl Rows for DenseRows<'_> {
    fn n_samples(&self) -> usize {
        self.labels.len()
    }
    fn n_features(&self) -> usize {
        self.m
    }
    fn label(&self, i: usize) -> f32 {
        f32::from(self.labels.get(i).copied().unwrap_or(1))
    }
    fn dequant(&self) -> Dequant<'_> {
        Dequant::Identity
    }
    #[inline]
    fn dot_codes(&self, i: usize, u: &[f32]) -> f32 {
        self.row(i).iter().zip(u).fold(0.0, |s, (x, u)| s + x * u)
    }
    #[inline]
    fn axpy_codes(&self, i: usize, a: f32, out: &mut [f32]) {
        for (o, x) in out.iter_mut().zip(self.row(i)) {
            *o += a * x;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pair_past_the_end_never_overflows() {
        // Issue 12, item 11: `8 * j + 4` overflowed for these `j` (a panic with overflow
        // checks on, as in `cargo test` without `--release`).
        let bytes: [u8; 8] = [0, 0, 128, 63, 0, 0, 0, 64]; // (1.0, 2.0)
        let table = FeatureTable::new(&bytes).unwrap();
        assert_eq!(table.pair(0), (1.0, 2.0));
        assert_eq!(table.pair(1), (0.0, 1.0));
        assert_eq!(table.pair(usize::MAX), (0.0, 1.0));
        assert_eq!(table.pair(usize::MAX / 8), (0.0, 1.0));
        let dequant = Dequant::PerFeature(table);
        assert_eq!(dequant.pair(usize::MAX / 8), (0.0, 1.0));
        assert_eq!(dequant.pair(usize::MAX), (0.0, 1.0));
    }

    #[test]
    fn data_errors_display_in_words() {
        assert_eq!(
            std::format!("{}", DataError::BadLabel { sample: 4 }),
            "the label of sample 4 is neither +1 nor -1"
        );
        let e: &dyn core::error::Error = &DataError::NonFinite {
            sample: 1,
            feature: 2,
        };
        assert_eq!(
            std::format!("{e}"),
            "sample 1, feature 2 is NaN or infinite"
        );
    }
}
