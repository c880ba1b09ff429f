//! The deterministic shuffle and train/test split.
//!
//! Written here (not taken from a crate) so the stream of a seed never changes with a dependency
//! version: the committed data files depend on it.
//!
//! - Generator: SplitMix64 (Steele, Lea, Flood 2014; the constants of Vigna's reference
//!   `splitmix64.c`): `state += 0x9E3779B97F4A7C15`, then the variant-13 mix of `state`.
//! - Bounded draws: `⌊x · b / 2⁶⁴⌋` for a 64-bit draw `x` (multiply-shift); its bias, below
//!   `b / 2⁶⁴`, is far under anything a split of ≤ 2³² samples can show.
//! - Shuffle: Fisher–Yates from the back: for `i = n-1 … 1`, swap `i` with a uniform `j ∈ [0, i]`.
//! - Split: the first `⌈fraction · n⌉` entries of the permutation are the test set, the rest the
//!   training set, each in permutation order.

/// SplitMix64: a 64-bit generator whose output depends only on the seed.
#[derive(Clone, Debug)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// Starts the stream of `seed`.
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64-bit output.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A draw in `0..bound` by multiply-shift (`bound ≥ 1`).
    pub fn below(&mut self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }
}

/// A uniformly shuffled `0..n` (Fisher–Yates driven by `SplitMix64::new(seed)`).
pub fn permutation(n: usize, seed: u64) -> Vec<usize> {
    let mut p: Vec<usize> = (0..n).collect();
    let mut rng = SplitMix64::new(seed);
    for i in (1..n).rev() {
        let j = rng.below(i as u64 + 1) as usize;
        p.swap(i, j);
    }
    p
}

/// `⌈fraction · n⌉`, the size of the test set.
///
/// The product is taken in f64 and lowered by 1e-9 before the ceiling: decimal fractions such as
/// 0.2 are not exact in binary, and `0.2 · 2000` must give 400, not 401. No real fraction of
/// `n ≤ 2³²` samples lies within 1e-9 above an integer except by that representation error.
pub fn test_count(n: usize, fraction: f64) -> usize {
    ((fraction * n as f64 - 1e-9).ceil().max(0.0) as usize).min(n)
}

/// `(train, test)` indices: the permutation of `seed`, test first.
pub fn split(n: usize, fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut p = permutation(n, seed);
    let train = p.split_off(test_count(n, fraction));
    (train, p)
}

/// `(train, test)` indices of a *stratified* split of samples of classes `classes[i]`, seeded.
///
/// The test part holds `⌈fraction · n⌉` samples in all ([`test_count`], as [`split`]), shared
/// out as scikit-learn's `StratifiedShuffleSplit` does: class `c` first gets `⌊fraction · n_c⌋`,
/// and the samples left over go one each to the classes with the largest fractional parts
/// `fraction · n_c − ⌊fraction · n_c⌋` (ties: the lower class index) — but a class never gives
/// up its last sample, so every class keeps a training sample. Then, with the permutation of
/// `seed` (as in [`split`]), the first quota samples of each class in permutation order are
/// held out. Both parts are in permutation order.
pub fn stratified(classes: &[u8], fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let mut per_class = [0usize; 256];
    for &c in classes {
        per_class[usize::from(c)] += 1;
    }
    let cap = |c: usize| per_class[c].saturating_sub(1);
    // The same 1e-9 guard as `test_count`: 0.2 · 15 must floor to 3.
    let exact: Vec<f64> = per_class.iter().map(|&n| fraction * n as f64).collect();
    let mut quota: Vec<usize> = (0..256)
        .map(|c| ((exact[c] + 1e-9).floor().max(0.0) as usize).min(cap(c)))
        .collect();
    let mut left = test_count(classes.len(), fraction).saturating_sub(quota.iter().sum());
    let mut order: Vec<usize> = (0..256).filter(|&c| per_class[c] > 0).collect();
    // Largest fractional part first; `sort_by` is stable, so ties keep the class order.
    order.sort_by(|&a, &b| {
        let frac = |c: usize| exact[c] - quota[c] as f64;
        frac(b).total_cmp(&frac(a))
    });
    for c in order {
        if left == 0 {
            break;
        }
        if quota[c] < cap(c) {
            quota[c] += 1;
            left -= 1;
        }
    }
    let mut taken = [0usize; 256];
    let (mut train, mut test) = (Vec::new(), Vec::new());
    for i in permutation(classes.len(), seed) {
        let c = usize::from(classes[i]);
        if taken[c] < quota[c] {
            taken[c] += 1;
            test.push(i);
        } else {
            train.push(i);
        }
    }
    (train, test)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_stream() {
        // Outputs of Vigna's splitmix64.c for seeds 0 and 1234567.
        let mut rng = SplitMix64::new(0);
        assert_eq!(rng.next_u64(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(rng.next_u64(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(rng.next_u64(), 0x06C4_5D18_8009_454F);
        let mut rng = SplitMix64::new(1_234_567);
        assert_eq!(rng.next_u64(), 6_457_827_717_110_365_317);
        assert_eq!(rng.next_u64(), 3_203_168_211_198_807_973);
    }

    #[test]
    fn permutation_is_a_permutation_and_seeded() {
        let p = permutation(1000, 0);
        let mut sorted = p.clone();
        sorted.sort_unstable();
        assert!(sorted.iter().copied().eq(0..1000));
        assert_eq!(p, permutation(1000, 0));
        assert_ne!(p, permutation(1000, 1));
        assert_ne!(p, sorted);
    }

    #[test]
    fn test_counts_round_up() {
        assert_eq!(test_count(2197, 0.2), 440);
        assert_eq!(test_count(2000, 0.2), 400);
        assert_eq!(test_count(10, 0.25), 3);
        assert_eq!(test_count(10, 0.0), 0);
        assert_eq!(test_count(3, 0.7), 3);
        let (train, test) = split(2197, 0.2, 0);
        assert_eq!((train.len(), test.len()), (1757, 440));
    }

    #[test]
    fn stratified_split_keeps_class_proportions() {
        // 10 of class 0, 5 of class 1, 1 of class 2, interleaved.
        let classes: Vec<u8> = (0..16)
            .map(|i| match i {
                15 => 2,
                _ if i % 3 == 0 => 1,
                _ => 0,
            })
            .collect();
        let (train, test) = stratified(&classes, 0.2, 7);
        let count = |part: &[usize], c: u8| part.iter().filter(|&&i| classes[i] == c).count();
        // ⌈0.2·16⌉ = 4 in all: ⌊0.2·10⌋ = 2, ⌊0.2·5⌋ = 1, ⌊0.2·1⌋ = 0; the one left over goes
        // to class 2 (fraction 0.2) but would take its only sample, so to class 0 (tie with
        // class 1 at 0.0, lower index).
        assert_eq!(
            (count(&test, 0), count(&test, 1), count(&test, 2)),
            (3, 1, 0)
        );
        assert_eq!(
            (count(&train, 0), count(&train, 1), count(&train, 2)),
            (7, 4, 1)
        );
        // scikit-learn's digits: 1797 samples, 360 held out (1437 for training).
        let digits: Vec<u8> = (0..1797).map(|i| (i % 10) as u8).collect();
        assert_eq!(stratified(&digits, 0.2, 0).1.len(), 360);
        let mut all: Vec<usize> = train.iter().chain(&test).copied().collect();
        all.sort_unstable();
        assert!(all.into_iter().eq(0..16));
        // Seeded: the same seed gives the same parts, another seed other ones.
        assert_eq!(stratified(&classes, 0.2, 7), (train.clone(), test.clone()));
        assert_ne!(stratified(&classes, 0.2, 8).1, test);
        // Test samples in permutation order.
        let p = permutation(16, 7);
        let pos = |i: usize| p.iter().position(|&k| k == i).unwrap();
        assert!(test.windows(2).all(|w| pos(w[0]) < pos(w[1])));
    }
}
