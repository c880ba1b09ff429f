//! Small dense vector kernels with a fixed summation order (left to right, no fused
//! multiply-add), so that every target computes the same bits.
//!
//! Slices of unequal length are combined over their common prefix (`zip`): the callers check
//! lengths once, up front, and nothing here can panic.

/// `Σ a_j b_j`, summed left to right.
#[inline]
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).fold(0.0, |s, (x, y)| s + x * y)
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
/// for the wrong reason. Only in those cases is the sum redone in f64, where squares of f32
/// values can neither overflow (`f32::MAX² ≈ 1.2e77`) nor underflow (smallest subnormal²
/// `≈ 2e-90`): whenever the f32 sum is finite and normal the result is the f32 one, bit for bit,
/// so trained weights (and their fingerprints) do not move.
#[inline]
pub fn norm2(x: &[f32]) -> f32 {
    let plain = dot(x, x);
    if plain.is_normal() {
        libm::sqrtf(plain)
    } else {
        norm2_wide(x)
    }
}

/// `‖x‖₂` summed in f64 and rounded once to f32 (inf or NaN entries give inf or NaN).
#[cold]
fn norm2_wide(x: &[f32]) -> f32 {
    let sum = x.iter().fold(0.0f64, |s, &v| {
        let v = f64::from(v);
        s + v * v
    });
    libm::sqrt(sum) as f32
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
        let t = self.sum + x;
        // The low-order bits lost by `t`: exact in IEEE arithmetic (Neumaier's variant also
        // covers |x| > |sum|).
        if libm::fabsf(self.sum) >= libm::fabsf(x) {
            self.compensation += (self.sum - t) + x;
        } else {
            self.compensation += (x - t) + self.sum;
        }
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
    fn norm2_neither_overflows_nor_underflows() {
        // Issue 12, item 1: the f32 sum of squares gave inf for 1e20 and 0 for 1e-30.
        assert_eq!(norm2(&[1e20]), 1e20);
        assert_eq!(norm2(&[3e30, -4e30]), 5e30);
        assert_eq!(norm2(&[f32::MAX]), f32::MAX);
        assert_eq!(norm2(&[1e-30]), 1e-30);
        // 3e-25, 4e-25: exact products in f64, one rounding of sqrt then of the cast.
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
