//! Small dense vector kernels with a fixed summation order (left to right, no fused
//! multiply-add), so that every target computes the same bits.
//!
//! Slices of unequal length are combined over their common prefix (`zip`): the callers check
//! lengths once, up front, and nothing here can panic.

/// `Σ a_j b_j`, summed left to right (one accumulator), over the common prefix.
///
/// Four terms per step: the same additions in the same order as the plain loop, so the same
/// bits, with a quarter of the loop overhead (on the Cortex-M4 the counter, compare and branch
/// cost as much as the multiply-add itself).
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    let n = a.len().min(b.len());
    let (a, b) = (a.get(..n).unwrap_or(&[]), b.get(..n).unwrap_or(&[]));
    let mut s = 0.0f32;
    let mut a4 = a.chunks_exact(4);
    let mut b4 = b.chunks_exact(4);
    for (x, y) in (&mut a4).zip(&mut b4) {
        if let (&[x0, x1, x2, x3], &[y0, y1, y2, y3]) = (x, y) {
            s += x0 * y0;
            s += x1 * y1;
            s += x2 * y2;
            s += x3 * y3;
        }
    }
    for (x, y) in a4.remainder().iter().zip(b4.remainder()) {
        s += x * y;
    }
    s
}

/// `y += a·x`.
#[inline]
pub fn axpy(a: f32, x: &[f32], y: &mut [f32]) {
    for (yj, xj) in y.iter_mut().zip(x) {
        *yj += a * xj;
    }
}

/// Euclidean norm `‖x‖₂` (`libm::sqrtf`, identical on every target).
///
/// The plain f32 sum of squares overflows to `inf` once `‖x‖ ≳ 1.8e19` and underflows to a
/// subnormal or 0 once `‖x‖ ≲ 1.1e-19`; a stopping test `‖g‖ ≤ ε‖g0‖` then passes or fails
/// for the wrong reason. Only in those cases is the norm recomputed with the entries scaled by
/// the largest magnitude (LAPACK's `snrm2` idea), so no square can overflow or underflow:
/// whenever the f32 sum is finite and normal the result is the f32 one, bit for bit, so trained
/// weights (and their fingerprints) do not move.
#[inline]
pub fn norm2(x: &[f32]) -> f32 {
    let plain = dot(x, x);
    if plain.is_normal() {
        libm::sqrtf(plain)
    } else {
        norm2_scaled(x)
    }
}

/// `‖x‖₂ = s·‖x/s‖₂` with `s = max |xᵢ|` (inf or NaN entries give inf or NaN). Every scaled
/// square is at most 1 and their sum at most `len`, so nothing overflows; entries below
/// `s·2⁻⁶⁴` lose their square to underflow, which changes the norm by less than one rounding.
/// In f32, not f64: the f64 sum pulled ≈ 2.5 KB of soft-float routines into every firmware
/// build (the M4F's FPU is single precision), for a path normal data never takes. Error: one
/// rounding per division, square and addition of `x/s` (each relative to a result of order 1),
/// the square root and the final product: a few ulps.
#[cold]
fn norm2_scaled(x: &[f32]) -> f32 {
    let mut scale = 0.0f32;
    for &v in x {
        let a = v.abs();
        if a.is_nan() {
            return f32::NAN;
        }
        if a > scale {
            scale = a;
        }
    }
    if scale == 0.0 || scale.is_infinite() {
        return scale;
    }
    let sum = x.iter().fold(0.0f32, |s, &v| {
        let t = v / scale;
        s + t * t
    });
    scale * libm::sqrtf(sum)
}

/// A compensated (Kahan–Babuška–Neumaier) sum: the error stays near one rounding of the
/// result instead of growing with the number of terms. The objective sums `n` loss terms of
/// similar size; plain f32 summation would leave an error of order `√n·2⁻²⁴·f`, which for
/// `n ≈ 1800` is larger than the `1e-6` relative accuracy the solver is held to.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CompensatedSum {
    sum: f32,
    compensation: f32,
}

impl CompensatedSum {
    /// An empty sum.
    pub const fn new() -> Self {
        Self {
            sum: 0.0,
            compensation: 0.0,
        }
    }

    /// Adds `x`.
    #[inline]
    pub fn add(&mut self, x: f32) {
        let s = self.sum;
        let t = s + x;
        // The low-order bits lost by `t`, exactly (Knuth's TwoSum, correct for either order of
        // magnitudes): the same error Neumaier's branch on `|sum| ≥ |x|` computes, so the same
        // bits, in six additions and no compare (13 instructions a term on the Cortex-M4 with
        // the compare, ≈ 4 % of the 7×7 MNIST Cholesky run over its objective passes).
        let x_part = t - s;
        let s_part = t - x_part;
        self.compensation += (s - s_part) + (x - x_part);
        self.sum = t;
    }

    /// The compensated total.
    #[inline]
    pub fn total(&self) -> f32 {
        self.sum + self.compensation
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_axpy_norm_small_exact_cases() {
        // Small integers: every operation is exact in f32, so equality is the right test.
        assert_eq!(dot(&[1.0, 2.0, 3.0], &[4.0, -5.0, 6.0]), 12.0);
        let mut y = [1.0, 1.0];
        axpy(2.0, &[3.0, -4.0], &mut y);
        assert_eq!(y, [7.0, -7.0]);
        assert_eq!(norm2(&[3.0, 4.0]), 5.0);
    }

    #[test]
    fn dot_is_the_left_to_right_sum_bit_for_bit() {
        // The unrolled loop must add the same terms in the same order as the plain one: the
        // Cholesky factor and the trained weights' fingerprints depend on these bits.
        let mut state = 0x1234_5678u32;
        let mut next = || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        for len_a in 0usize..23 {
            for len_b in [len_a, len_a + 1, len_a.saturating_sub(2)] {
                let a: std::vec::Vec<f32> = (0..len_a).map(|_| next() * 1e3).collect();
                let b: std::vec::Vec<f32> = (0..len_b).map(|_| next()).collect();
                let plain = a.iter().zip(&b).fold(0.0f32, |s, (x, y)| s + x * y);
                assert_eq!(dot(&a, &b).to_bits(), plain.to_bits(), "{len_a} {len_b}");
            }
        }
    }

    #[test]
    fn norm2_neither_overflows_nor_underflows() {
        // Issue 12, item 1: the f32 sum of squares gave inf for 1e20 and 0 for 1e-30.
        assert_eq!(norm2(&[1e20]), 1e20);
        assert_eq!(norm2(&[3e30, -4e30]), 5e30);
        assert_eq!(norm2(&[f32::MAX]), f32::MAX);
        assert_eq!(norm2(&[1e-30]), 1e-30);
        // 3e-25, 4e-25: scaled by 4e-25, a handful of roundings of order-1 values (see
        // `norm2_scaled`); one f32 epsilon covers them.
        let small = norm2(&[3e-25, 4e-25]);
        assert!(
            (small as f64 - 5e-25).abs() <= 5e-25 * f32::EPSILON as f64,
            "{small:e}"
        );
        assert!(norm2(&[f32::MIN_POSITIVE / 4.0]) > 0.0);
        assert_eq!(norm2(&[]), 0.0);
        assert_eq!(norm2(&[0.0, -0.0]), 0.0);
        assert_eq!(norm2(&[1.0, f32::INFINITY]), f32::INFINITY);
        assert!(norm2(&[1.0, f32::NAN]).is_nan());
    }

    #[test]
    fn norm2_is_the_plain_f32_norm_whenever_that_is_normal() {
        // The trained-weights fingerprints depend on these bits: for every vector whose f32
        // sum of squares is finite and normal, the result is sqrtf of that sum exactly.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..2000 {
            let len = (next() % 40) as usize;
            let exponent = (next() % 60) as i32 - 30;
            let v: std::vec::Vec<f32> = (0..len)
                .map(|_| {
                    let u = (next() >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
                    u * 10f32.powi(exponent)
                })
                .collect();
            let plain = dot(&v, &v);
            if plain.is_normal() {
                assert_eq!(norm2(&v).to_bits(), libm::sqrtf(plain).to_bits(), "{v:?}");
            }
        }
    }

    /// Neumaier's branch, the form `add` had: the bits `add` must keep.
    fn neumaier(terms: &[f32]) -> (f32, f32) {
        let (mut sum, mut c) = (0.0f32, 0.0f32);
        for &x in terms {
            let t = sum + x;
            if sum.abs() >= x.abs() {
                c += (sum - t) + x;
            } else {
                c += (x - t) + sum;
            }
            sum = t;
        }
        (sum, c)
    }

    #[test]
    fn two_sum_gives_neumaiers_bits() {
        // Terms of both signs over 60 binary orders of magnitude, so that every order of
        // |sum| and |x| and exact cancellations occur.
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..200 {
            let terms: std::vec::Vec<f32> = (0..300)
                .map(|_| {
                    let u = (next() >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
                    let e = (next() % 60) as i32 - 30;
                    u * 2f32.powi(e)
                })
                .collect();
            let mut s = CompensatedSum::new();
            for &x in &terms {
                s.add(x);
            }
            let (sum, c) = neumaier(&terms);
            assert_eq!(
                (s.sum.to_bits(), s.compensation.to_bits()),
                (sum.to_bits(), c.to_bits())
            );
        }
    }

    #[test]
    fn compensated_sum_beats_plain_sum() {
        // 2000 terms 1/(1 + k mod 17) in f32, like the objective's n ≈ 1800 loss terms: the
        // compensated total is within one rounding of the exact (f64) sum of the same f32
        // terms, i.e. |error| ≤ ε·|S| (ε = 2⁻²³ ≥ one ulp relative); plain summation drifts
        // by many ulps.
        let mut s = CompensatedSum::new();
        let mut plain = 0.0f32;
        let mut exact = 0.0f64;
        for k in 1..=2000 {
            let t = 1.0 / (1 + k % 17) as f32;
            s.add(t);
            plain += t;
            exact += t as f64;
        }
        let err = (s.total() as f64 - exact).abs();
        let plain_err = (plain as f64 - exact).abs();
        assert!(err <= f32::EPSILON as f64 * exact, "{err:e}");
        std::println!("compensated error {err:e}, plain error {plain_err:e}");
        assert!(
            plain_err > 4.0 * f32::EPSILON as f64 * exact,
            "{plain_err:e}"
        );
    }
}
