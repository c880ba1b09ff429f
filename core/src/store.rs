//! A bounded store of labelled samples received at run time: the data a board learns from when
//! the samples arrive while it runs (a sensor, a serial link) instead of with the firmware.
//!
//! Raw `f32` readings go in through the deployed model's feature transform (raw → scaled, the
//! same [`FeatureTransform`] a packed file carries) and are quantised to `u8` codes against a
//! dequantisation `x_j = o_j + s_j·q_j` fixed when the store is created (from calibration data or
//! a packed file: [`Grid::of`]). The store then *is* a dataset: it implements [`Rows`],
//! so every solver trains on it as on a packed file, reading the codes in place.
//!
//! Capacity is fixed by the caller's buffers (`N × m` code bytes and `N` class bytes, e.g.
//! `static` arrays): no allocator. When full, a new sample evicts an old one by the chosen
//! [`Eviction`]: a sliding window ([`Eviction::Fifo`]) keeps the `N` most recent samples,
//! reservoir sampling ([`Eviction::Reservoir`], Vitter's algorithm R) keeps a uniform sample of
//! everything seen so far.
//!
//! A reading of the wrong length, with a NaN/∞ value (raw, or after the transform), or a class out
//! of range is a [`StoreError`] and leaves the store exactly as it was: every check runs before
//! the first byte is written.

use crate::data::{Dequant, Rows};
// The packed files' `u8` row kernels: a word of four codes at a time, zero blocks, words and
// half words skipped, the terms of the plain loop in feature order (so its bits).
use crate::format::{axpy_u8, dot_u8};
use crate::transform::{FeatureTransform, TransformKind};

/// Which stored sample a new one replaces once the store is full.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Eviction {
    /// The oldest (a sliding window over the last `N` samples): follows drift.
    Fifo,
    /// A uniformly random one with probability `N / seen` (reservoir sampling, algorithm R): the
    /// store is a uniform sample of the whole stream. `seed` starts the generator (any value;
    /// `0` is replaced by a fixed non-zero one).
    Reservoir {
        /// Seed of the xorshift64* generator.
        seed: u64,
    },
}

/// What [`SampleStore::push`] did with a sample.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum Pushed {
    /// Stored in a free slot.
    Added {
        /// The slot (row index) it went to.
        slot: usize,
    },
    /// Stored over an older sample.
    Replaced {
        /// The slot (row index) it went to.
        slot: usize,
    },
    /// Not kept (reservoir sampling drew a slot past the capacity).
    Skipped,
}

/// Why a store could not be made or a sample was refused. A refused sample changes nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[non_exhaustive]
pub enum StoreError {
    /// The reading has `got` values where the store has `expected` features.
    WrongLength {
        /// Features of the store.
        expected: usize,
        /// Values in the reading.
        got: usize,
    },
    /// Value `feature` of the reading is NaN or infinite, as read or after the transform.
    NonFinite {
        /// Index of the feature.
        feature: usize,
    },
    /// The class index is not below the store's class count.
    BadClass {
        /// The class given.
        class: usize,
        /// Classes of the store.
        n_classes: usize,
    },
    /// The buffers, feature count, class count or code range cannot make a store: `m = 0`,
    /// capacity 0, code buffer not `capacity · m` bytes, fewer than 2 or more than 256 classes,
    /// a transform or dequantisation table of another length, or `max_code = 0`.
    BadShape,
    /// Feature `feature`'s dequantisation pair is not finite with a positive scale (the codes
    /// could not be computed), or the dequantisation is the identity (no `u8` grid).
    BadDequant {
        /// Index of the feature.
        feature: usize,
    },
}

impl core::fmt::Display for StoreError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match *self {
            StoreError::WrongLength { expected, got } => {
                write!(
                    f,
                    "the reading has {got} values, the store {expected} features"
                )
            }
            StoreError::NonFinite { feature } => {
                write!(f, "value {feature} of the reading is NaN or infinite")
            }
            StoreError::BadClass { class, n_classes } => {
                write!(f, "class {class} is not below the class count {n_classes}")
            }
            StoreError::BadShape => f.write_str(
                "the store's buffers, feature count, class count or code range do not fit",
            ),
            StoreError::BadDequant { feature } => write!(
                f,
                "feature {feature}'s dequantisation pair is not finite with a positive scale"
            ),
        }
    }
}

impl core::error::Error for StoreError {}

/// How readings become codes: the feature and class counts, the raw → scaled transform (if
/// any) and the code grid `x_j = o_j + s_j·q`, `q ∈ 0..=max_code`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Grid<'a> {
    /// Features `m` of a reading.
    pub n_features: usize,
    /// Classes `K`, `2 ≤ K ≤ 256` (binary: class 0 is `+1`, class 1 is `−1`).
    pub n_classes: usize,
    /// Largest code (255 for `u8` data, 15 for data quantised to `u4`).
    pub max_code: u8,
    /// The grid: shared or per-feature `(o_j, s_j)` with `s_j > 0`.
    pub dequant: Dequant<'a>,
    /// Raw readings → scaled features, applied before quantising.
    pub transform: Option<FeatureTransform<'a>>,
}

impl<'a> Grid<'a> {
    /// The grid of a packed dataset: its feature and class counts, dequantisation, largest code
    /// and raw-feature transform, so a sample quantised into the store is coded as the packer
    /// coded that file's (up to rounding ties) and a model trained on either reads raw readings
    /// the same way. `f32` files have no grid: [`StoreError::BadDequant`].
    pub fn of(data: &'a crate::format::PackedDataset<'a>) -> Result<Self, StoreError> {
        let max_code = data
            .header()
            .encoding
            .max_code()
            .ok_or(StoreError::BadDequant { feature: 0 })?;
        Ok(Grid {
            n_features: data.n_features(),
            n_classes: data.n_classes(),
            max_code,
            dequant: data.dequant(),
            transform: data.transform(),
        })
    }
}

/// `N` samples of `m` `u8` codes with class indices, in borrowed buffers; see the module docs.
#[derive(Debug)]
pub struct SampleStore<'a> {
    codes: &'a mut [u8],
    classes: &'a mut [u8],
    m: usize,
    n_classes: usize,
    max_code: u8,
    dequant: Dequant<'a>,
    transform: Option<FeatureTransform<'a>>,
    eviction: Eviction,
    len: usize,
    next: usize,
    seen: u64,
    rng: u64,
    clamped: u64,
}

/// The generator's state when a seed of 0 is given (xorshift needs a non-zero state).
const DEFAULT_SEED: u64 = 0x9E37_79B9_7F4A_7C15;

impl<'a> SampleStore<'a> {
    /// A store of capacity `classes.len()` samples on `grid`: `codes` holds exactly
    /// `classes.len() · grid.n_features` bytes.
    pub fn new(
        codes: &'a mut [u8],
        classes: &'a mut [u8],
        grid: Grid<'a>,
        eviction: Eviction,
    ) -> Result<Self, StoreError> {
        let Grid {
            n_features: m,
            n_classes,
            max_code,
            dequant,
            transform,
        } = grid;
        let capacity = classes.len();
        let shape_ok = m > 0
            && capacity > 0
            && capacity.checked_mul(m) == Some(codes.len())
            && (2..=256).contains(&n_classes)
            && max_code > 0
            && transform.is_none_or(|t| t.len() == m);
        if !shape_ok {
            return Err(StoreError::BadShape);
        }
        match dequant {
            Dequant::Identity => return Err(StoreError::BadDequant { feature: 0 }),
            Dequant::PerFeature(table) if table.len() != m => return Err(StoreError::BadShape),
            _ => {}
        }
        for feature in 0..m {
            let (o, s) = dequant.pair(feature);
            let top = o + s * f32::from(max_code);
            if !(o.is_finite() && s.is_finite() && s > 0.0 && top.is_finite()) {
                return Err(StoreError::BadDequant { feature });
            }
        }
        let rng = match eviction {
            Eviction::Reservoir { seed } if seed != 0 => seed,
            _ => DEFAULT_SEED,
        };
        Ok(Self {
            codes,
            classes,
            m,
            n_classes,
            max_code,
            dequant,
            transform,
            eviction,
            len: 0,
            next: 0,
            seen: 0,
            rng,
            clamped: 0,
        })
    }

    /// Number of samples held.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when no sample is held.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Most samples the store holds.
    pub fn capacity(&self) -> usize {
        self.classes.len()
    }

    /// Samples offered to [`push`](Self::push) and accepted as valid (kept or not).
    pub fn seen(&self) -> u64 {
        self.seen
    }

    /// Values clamped so far: scaled readings outside the transform's bounds or the code grid
    /// (`[o_j, o_j + max_code·s_j]`, half a step either side) were stored as the nearest end.
    pub fn clamped(&self) -> u64 {
        self.clamped
    }

    /// The eviction rule.
    pub fn eviction(&self) -> Eviction {
        self.eviction
    }

    /// Forgets every sample (the counters too); the buffers are kept.
    pub fn clear(&mut self) {
        self.len = 0;
        self.next = 0;
        self.seen = 0;
        self.clamped = 0;
    }

    /// Forgets all but the `k` most recently stored samples (a FIFO store after a concept
    /// drift), keeping their order; the counters stay. A reservoir does not track recency and
    /// is left as it is (its sample stays uniform over the stream). Returns the samples kept.
    pub fn keep_recent(&mut self, k: usize) -> usize {
        if self.eviction != Eviction::Fifo || k >= self.len {
            return self.len;
        }
        // Slots in arrival order: 0..len while filling; next..cap then 0..next once full. The
        // `k` newest are the last `k` of that order; rotate them to the front.
        let m = self.m;
        let first_newest = if self.len < self.capacity() {
            self.len.saturating_sub(k)
        } else {
            (self.next.saturating_add(self.capacity()).saturating_sub(k))
                .checked_rem(self.capacity())
                .unwrap_or(0)
        };
        let start = first_newest.saturating_mul(m);
        self.codes.rotate_left(start.min(self.codes.len()));
        self.classes
            .rotate_left(first_newest.min(self.classes.len()));
        self.len = k;
        self.next = k;
        k
    }

    /// The stored codes of sample `i` (`None` past [`len`](Self::len)).
    pub fn codes(&self, i: usize) -> Option<&[u8]> {
        if i >= self.len {
            return None;
        }
        let start = i.checked_mul(self.m)?;
        self.codes.get(start..start.checked_add(self.m)?)
    }

    /// The stored rows in slot order, then empty rows without end (for passes whose vectors
    /// are longer than the store: a missing row reads as no codes, as [`codes`](Self::codes)'s
    /// `None` does for the `Rows` methods).
    fn rows(&self) -> impl Iterator<Item = &[u8]> + '_ {
        // m > 0: `new` refuses a store without features.
        let m = self.m.max(1);
        self.codes
            .chunks_exact(m)
            .take(self.len)
            .chain(core::iter::repeat(&[][..]))
    }

    /// Scales `raw` (through the transform, if any) and quantises it into the store with class
    /// `class`. Every check (length, finite values before and after the transform, class range)
    /// runs before anything is written: an `Err` leaves the store unchanged.
    pub fn push(&mut self, raw: &[f32], class: usize) -> Result<Pushed, StoreError> {
        if raw.len() != self.m {
            return Err(StoreError::WrongLength {
                expected: self.m,
                got: raw.len(),
            });
        }
        if class >= self.n_classes {
            return Err(StoreError::BadClass {
                class,
                n_classes: self.n_classes,
            });
        }
        for (feature, &x) in raw.iter().enumerate() {
            if !self.scaled(feature, x).0.is_finite() {
                return Err(StoreError::NonFinite { feature });
            }
        }
        // Valid: from here on nothing can fail.
        self.seen = self.seen.saturating_add(1);
        let (slot, pushed) = match self.slot() {
            Some(slot) => slot,
            None => return Ok(Pushed::Skipped),
        };
        let start = slot.saturating_mul(self.m);
        let mut clamped = 0u64;
        if let Some(row) = self.codes.get_mut(start..start.saturating_add(self.m)) {
            for (feature, (q, &x)) in row.iter_mut().zip(raw).enumerate() {
                let (v, bounded) = scaled_value(self.transform, feature, x);
                let (code, on_grid) = quantise(self.dequant.pair(feature), self.max_code, v);
                *q = code;
                if bounded || !on_grid {
                    clamped = clamped.saturating_add(1);
                }
            }
        }
        if let Some(c) = self.classes.get_mut(slot) {
            // class < n_classes ≤ 256: fits a u8.
            *c = u8::try_from(class).unwrap_or(u8::MAX);
        }
        self.clamped = self.clamped.saturating_add(clamped);
        Ok(pushed)
    }

    /// The scaled values of a reading (through the transform, if any) into `out[..m]`, with the
    /// checks of [`push`](Self::push): what a model predicts on before the sample is stored.
    /// `out` is untouched on `Err`.
    pub fn scale_into(&self, raw: &[f32], out: &mut [f32]) -> Result<(), StoreError> {
        if raw.len() != self.m {
            return Err(StoreError::WrongLength {
                expected: self.m,
                got: raw.len(),
            });
        }
        let got = out.len();
        let out = out.get_mut(..self.m).ok_or(StoreError::WrongLength {
            expected: self.m,
            got,
        })?;
        for (feature, &x) in raw.iter().enumerate() {
            if !self.scaled(feature, x).0.is_finite() {
                return Err(StoreError::NonFinite { feature });
            }
        }
        for (feature, (o, &x)) in out.iter_mut().zip(raw).enumerate() {
            *o = self.scaled(feature, x).0;
        }
        Ok(())
    }

    /// The slot a valid new sample goes to (and how), or `None` when reservoir sampling skips
    /// it; advances the FIFO position or the generator. Call after `seen` counts the sample.
    fn slot(&mut self) -> Option<(usize, Pushed)> {
        let capacity = self.capacity();
        if self.len < capacity {
            let slot = self.len;
            self.len = self.len.saturating_add(1);
            self.next = if self.len == capacity { 0 } else { self.len };
            return Some((slot, Pushed::Added { slot }));
        }
        let slot = match self.eviction {
            Eviction::Fifo => {
                let slot = self.next;
                self.next = slot.saturating_add(1).checked_rem(capacity).unwrap_or(0);
                slot
            }
            Eviction::Reservoir { .. } => {
                // Algorithm R: sample j uniform in 0..seen; keep the new one in slot j if j < N.
                let j = below(next_random(&mut self.rng), self.seen);
                usize::try_from(j).ok().filter(|&j| j < capacity)?
            }
        };
        Some((slot, Pushed::Replaced { slot }))
    }

    /// Feature `feature`'s scaled value of reading `x` (the transform's, or `x`).
    fn scaled(&self, feature: usize, x: f32) -> (f32, bool) {
        if !x.is_finite() {
            return (f32::NAN, false);
        }
        scaled_value(self.transform, feature, x)
    }
}

/// The scaled value of raw reading `x` of `feature`, and whether the transform's bounds clamped
/// it.
fn scaled_value(transform: Option<FeatureTransform<'_>>, feature: usize, x: f32) -> (f32, bool) {
    let Some(t) = transform else {
        return (x, false);
    };
    let Some(p) = t.param(feature) else {
        return (x, false);
    };
    let kind = t.kind();
    let v = kind.scale(p, x);
    let clamped = match kind {
        TransformKind::AffineClip01 | TransformKind::AffineClamp => {
            TransformKind::Affine.scale(p, x) != v
        }
        _ => false,
    };
    (v, clamped)
}

/// The code nearest to `v` on the grid `o + s·q`, `q ∈ 0..=max_code`, and whether `v` lay on
/// the grid's span (within half a step of it) rather than being clamped to an end.
fn quantise((o, s): (f32, f32), max_code: u8, v: f32) -> (u8, bool) {
    let q = libm::roundf((v - o) / s);
    let top = f32::from(max_code);
    if q < 0.0 {
        (0, false)
    } else if q > top {
        (max_code, false)
    } else {
        // 0 ≤ q ≤ max_code ≤ 255, an integer: the cast is exact.
        (q as u8, true)
    }
}

/// xorshift64* (Vigna): a small, fast, statistically decent generator; plenty for choosing
/// which sample to evict.
fn next_random(state: &mut u64) -> u64 {
    let mut x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    x.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

/// A number in `0..n` from a uniform 64-bit `r` by Lemire's multiply-shift (bias below
/// `n / 2⁶⁴`, nothing a sample count reaches).
fn below(r: u64, n: u64) -> u64 {
    let wide = u128::from(r).wrapping_mul(u128::from(n));
    u64::try_from(wide >> 64).unwrap_or(0)
}

impl Rows for SampleStore<'_> {
    fn n_samples(&self) -> usize {
        self.len
    }

    fn n_features(&self) -> usize {
        self.m
    }

    /// Class 0 is `+1`, class 1 is `−1` (the packed files' convention); NaN for `K > 2`.
    fn label(&self, i: usize) -> f32 {
        if i >= self.len {
            return f32::NAN;
        }
        match (self.n_classes, self.classes.get(i)) {
            (2, Some(0)) => 1.0,
            (2, Some(1)) => -1.0,
            _ => f32::NAN,
        }
    }

    fn n_classes(&self) -> usize {
        self.n_classes
    }

    fn class(&self, i: usize) -> usize {
        match self.classes.get(i) {
            Some(&c) if i < self.len => usize::from(c),
            _ => self.n_classes,
        }
    }

    fn dequant(&self) -> Dequant<'_> {
        self.dequant
    }

    /// No row can hold a non-finite value: codes lie in `0..=max_code`, and
    /// [`new`](SampleStore::new) refused any feature whose range `o_j … o_j + s_j·max_code` is
    /// not finite (rounding is monotone, so every code's value lies in that range). So no pass
    /// over the codes: the default's scan was 7.7 % of a live run's modelled cycles
    /// (`scripts/live.sh --cycles`).
    fn first_non_finite(&self, _i: usize, _u: &mut [f32]) -> Option<usize> {
        None
    }

    fn dot_codes(&self, i: usize, u: &[f32]) -> f32 {
        dot_u8(self.codes(i).unwrap_or(&[]), u)
    }

    fn axpy_codes(&self, i: usize, a: f32, out: &mut [f32]) {
        axpy_u8(self.codes(i).unwrap_or(&[]), a, out);
    }

    /// The rows in slot order (`0..len`), each row found by walking the codes rather than by
    /// index; per row the terms of [`dot_axpy_codes`](Rows::dot_axpy_codes), so the same bits
    /// as the trait's default (rows past the store's end, if `dd` is longer, are empty: `xv`
    /// is `offset + bias`, as there).
    fn hess_vec_codes(
        &self,
        dd: &[f32],
        u: &[f32],
        offset: f32,
        bias: f32,
        out: &mut [f32],
        xv: &mut [f32],
    ) -> f32 {
        let mut sum_t = 0.0f32;
        let mut xv = xv.iter_mut();
        for (row, &di) in self.rows().zip(dd) {
            let xvi = (dot_u8(row, u) + offset) + bias;
            axpy_u8(row, di * xvi, out);
            sum_t += di * xvi;
            if let Some(k) = xv.next() {
                *k = xvi;
            }
        }
        sum_t
    }

    /// The rows in slot order, walked; per row [`axpy_codes`](Rows::axpy_codes)'s kernel.
    fn axpy_codes_rows(&self, a: &mut dyn FnMut(usize) -> f32, out: &mut [f32]) {
        for (i, row) in self.rows().take(self.len).enumerate() {
            axpy_u8(row, a(i), out);
        }
    }

    /// The rows in slot order, walked; per row [`dot_codes`](Rows::dot_codes)'s kernel.
    fn dot_codes_rows(&self, u: &[f32], out: &mut [f32]) {
        for (oi, row) in out.iter_mut().zip(self.rows().take(self.len)) {
            *oi = dot_u8(row, u);
        }
    }

    /// The row read once for both halves (the trait's default finds it twice); the same
    /// kernels, so the same bits.
    fn dot_axpy_codes(
        &self,
        i: usize,
        u: &[f32],
        offset: f32,
        bias: f32,
        weight: f32,
        out: &mut [f32],
    ) -> f32 {
        let row = self.codes(i).unwrap_or(&[]);
        let xv = (dot_u8(row, u) + offset) + bias;
        axpy_u8(row, weight * xv, out);
        xv
    }
}

#[cfg(test)]
mod tests;
