use super::*;
use std::vec::Vec;

/// Shared grid `x = 0 + q/255` (MNIST pixels), 3 features, 2 classes.
fn pixel_grid<'a>() -> Grid<'a> {
    Grid {
        n_features: 3,
        n_classes: 2,
        max_code: 255,
        dequant: Dequant::Shared {
            offset: 0.0,
            scale: 1.0 / 255.0,
        },
        transform: None,
    }
}

/// The bytes of a transform table: `(a, b)` records, plus `(lo, hi)` for kind 3.
fn table(kind: TransformKind, records: &[[f32; 4]]) -> Vec<u8> {
    let fields = if kind == TransformKind::AffineClamp {
        4
    } else {
        2
    };
    records
        .iter()
        .flat_map(|r| {
            r[..fields]
                .iter()
                .flat_map(|v| v.to_le_bytes())
                .collect::<Vec<u8>>()
        })
        .collect()
}

/// A snapshot of everything observable, to show a refused sample changed nothing.
fn snapshot(s: &SampleStore<'_>) -> (usize, u64, u64, Vec<Vec<u8>>, Vec<usize>) {
    let rows = (0..s.len()).map(|i| s.codes(i).unwrap().to_vec()).collect();
    let classes = (0..s.len()).map(|i| s.class(i)).collect();
    (s.len(), s.seen(), s.clamped(), rows, classes)
}

#[test]
fn readings_on_the_grid_are_stored_as_their_codes() {
    let (mut codes, mut classes) = ([0u8; 12], [0u8; 4]);
    let mut s = SampleStore::new(&mut codes, &mut classes, pixel_grid(), Eviction::Fifo).unwrap();
    let q = [0u8, 7, 255];
    let raw: Vec<f32> = q.iter().map(|&q| f32::from(q) / 255.0).collect();
    assert_eq!(s.push(&raw, 1).unwrap(), Pushed::Added { slot: 0 });
    assert_eq!(s.codes(0).unwrap(), &q);
    assert_eq!((s.len(), s.class(0), s.label(0)), (1, 1, -1.0));
    assert_eq!(s.clamped(), 0);
    // Through Rows: Σ q_j u_j with the zero code skipped, in feature order.
    assert_eq!(s.dot_codes(0, &[1.0, 2.0, 3.0]), 7.0 * 2.0 + 255.0 * 3.0);
    let mut out = [0.0f32; 3];
    s.axpy_codes(0, 2.0, &mut out);
    assert_eq!(out, [0.0, 14.0, 510.0]);
    // Past the end: no row, no panic.
    assert_eq!(s.codes(1), None);
    assert_eq!(s.dot_codes(9, &[1.0; 3]), 0.0);
    assert!(s.label(9).is_nan());
    assert_eq!(s.class(9), 2);
}

#[test]
fn readings_off_the_grid_are_clamped_and_counted() {
    let (mut codes, mut classes) = ([0u8; 3], [0u8; 1]);
    let mut s = SampleStore::new(&mut codes, &mut classes, pixel_grid(), Eviction::Fifo).unwrap();
    // −0.1 and 1.5 lie beyond half a step of the grid's ends; 0.6 is inside (153/255, away
    // from a rounding tie).
    s.push(&[-0.1, 0.6, 1.5], 0).unwrap();
    assert_eq!(s.codes(0).unwrap(), &[0, 153, 255]);
    assert_eq!(s.clamped(), 2);
}

#[test]
fn a_refused_reading_leaves_the_store_unchanged() {
    let (mut codes, mut classes) = ([0u8; 6], [0u8; 2]);
    let mut s = SampleStore::new(&mut codes, &mut classes, pixel_grid(), Eviction::Fifo).unwrap();
    s.push(&[0.1, 0.2, 0.3], 0).unwrap();
    let before = snapshot(&s);
    let bad: [(&[f32], usize, StoreError); 6] = [
        (
            &[0.1, 0.2],
            0,
            StoreError::WrongLength {
                expected: 3,
                got: 2,
            },
        ),
        (
            &[0.1, 0.2, 0.3, 0.4],
            0,
            StoreError::WrongLength {
                expected: 3,
                got: 4,
            },
        ),
        (
            &[0.1, f32::NAN, 0.3],
            0,
            StoreError::NonFinite { feature: 1 },
        ),
        (
            &[0.1, 0.2, f32::INFINITY],
            0,
            StoreError::NonFinite { feature: 2 },
        ),
        (
            &[f32::NEG_INFINITY, 0.2, 0.3],
            1,
            StoreError::NonFinite { feature: 0 },
        ),
        (
            &[0.1, 0.2, 0.3],
            2,
            StoreError::BadClass {
                class: 2,
                n_classes: 2,
            },
        ),
    ];
    for (raw, class, err) in bad {
        assert_eq!(s.push(raw, class), Err(err));
        assert_eq!(snapshot(&s), before);
    }
}

#[test]
fn a_transform_overflow_is_refused_before_anything_is_written() {
    // Affine x' = (x − 0)·1e30 overflows to ∞ for x = 1e10: non-finite after the transform.
    let unit = table(TransformKind::Affine, &[[0.0, 1.0, 0.0, 0.0]; 3]);
    let big = table(TransformKind::Affine, &[[0.0, 1.0e30, 0.0, 0.0]; 3]);
    let mut grid = pixel_grid();
    grid.transform = Some(FeatureTransform::new(TransformKind::Affine, &big).unwrap());
    let (mut codes, mut classes) = ([0u8; 3], [0u8; 1]);
    let mut s = SampleStore::new(&mut codes, &mut classes, grid, Eviction::Fifo).unwrap();
    assert_eq!(
        s.push(&[0.0, 1.0e10, 0.0], 0),
        Err(StoreError::NonFinite { feature: 1 })
    );
    assert!(s.is_empty() && s.seen() == 0);
    // A finite transform goes through: (x − 0)·1 then the grid.
    let mut grid = pixel_grid();
    grid.transform = Some(FeatureTransform::new(TransformKind::Affine, &unit).unwrap());
    let (mut codes, mut classes) = ([0u8; 3], [0u8; 1]);
    let mut s = SampleStore::new(&mut codes, &mut classes, grid, Eviction::Fifo).unwrap();
    s.push(&[0.0, 1.0, 2.0 / 255.0], 0).unwrap();
    assert_eq!(s.codes(0).unwrap(), &[0, 255, 2]);
}

#[test]
fn clamping_transforms_count_their_clamps() {
    // Kind 3 with bounds [0, 0.6]: 0.9 is clamped to 0.6 by the transform (counted once).
    let bytes = table(TransformKind::AffineClamp, &[[0.0, 1.0, 0.0, 0.6]; 3]);
    let mut grid = pixel_grid();
    grid.transform = Some(FeatureTransform::new(TransformKind::AffineClamp, &bytes).unwrap());
    let (mut codes, mut classes) = ([0u8; 3], [0u8; 1]);
    let mut s = SampleStore::new(&mut codes, &mut classes, grid, Eviction::Fifo).unwrap();
    s.push(&[0.9, 0.2, 0.0], 0).unwrap();
    assert_eq!(s.clamped(), 1);
    assert_eq!(s.codes(0).unwrap()[0], 153); // 0.6·255 = 153
}

#[test]
fn bad_shapes_and_grids_are_refused() {
    let mk = |codes: &mut [u8], classes: &mut [u8], grid: Grid<'_>| {
        SampleStore::new(codes, classes, grid, Eviction::Fifo).map(|_| ())
    };
    let (mut c6, mut l2) = ([0u8; 6], [0u8; 2]);
    assert_eq!(
        mk(&mut c6[..5], &mut l2, pixel_grid()),
        Err(StoreError::BadShape)
    );
    assert_eq!(
        mk(&mut c6, &mut [], pixel_grid()),
        Err(StoreError::BadShape)
    );
    let mut g = pixel_grid();
    g.n_classes = 1;
    assert_eq!(mk(&mut c6, &mut l2, g), Err(StoreError::BadShape));
    g = pixel_grid();
    g.n_classes = 257;
    assert_eq!(mk(&mut c6, &mut l2, g), Err(StoreError::BadShape));
    g = pixel_grid();
    g.max_code = 0;
    assert_eq!(mk(&mut c6, &mut l2, g), Err(StoreError::BadShape));
    g = pixel_grid();
    g.dequant = Dequant::Identity;
    assert_eq!(
        mk(&mut c6, &mut l2, g),
        Err(StoreError::BadDequant { feature: 0 })
    );
    for bad in [0.0, -1.0, f32::NAN, f32::INFINITY] {
        g = pixel_grid();
        g.dequant = Dequant::Shared {
            offset: 0.0,
            scale: bad,
        };
        assert_eq!(
            mk(&mut c6, &mut l2, g),
            Err(StoreError::BadDequant { feature: 0 })
        );
    }
    // A per-feature table of the wrong length, and one with a bad second pair.
    let table: Vec<u8> = [(0.0f32, 1.0f32), (0.0, 0.0), (0.0, 1.0)]
        .iter()
        .flat_map(|&(o, s)| o.to_le_bytes().into_iter().chain(s.to_le_bytes()))
        .collect();
    g = pixel_grid();
    g.dequant = Dequant::PerFeature(crate::data::FeatureTable::new(&table[..16]).unwrap());
    assert_eq!(mk(&mut c6, &mut l2, g), Err(StoreError::BadShape));
    g.dequant = Dequant::PerFeature(crate::data::FeatureTable::new(&table).unwrap());
    assert_eq!(
        mk(&mut c6, &mut l2, g),
        Err(StoreError::BadDequant { feature: 1 })
    );
}

/// Sample `k` of a stream: feature 0 carries `k mod 256` as its code, so a slot tells which
/// sample it holds (modulo 256).
fn sample(k: usize) -> [f32; 3] {
    [(k % 256) as f32 / 255.0, 0.0, 0.0]
}

#[test]
fn fifo_keeps_the_most_recent_samples() {
    let (mut codes, mut classes) = ([0u8; 12], [0u8; 4]);
    let mut s = SampleStore::new(&mut codes, &mut classes, pixel_grid(), Eviction::Fifo).unwrap();
    for k in 0..10 {
        let pushed = s.push(&sample(k), k % 2).unwrap();
        let expect = if k < 4 {
            Pushed::Added { slot: k }
        } else {
            Pushed::Replaced { slot: k % 4 }
        };
        assert_eq!(pushed, expect);
    }
    let mut held: Vec<u8> = (0..4).map(|i| s.codes(i).unwrap()[0]).collect();
    held.sort_unstable();
    assert_eq!(held, [6, 7, 8, 9]);
    assert_eq!((s.len(), s.seen()), (4, 10));
    s.clear();
    assert!(s.is_empty() && s.seen() == 0);
}

#[test]
fn reservoir_sampling_keeps_a_uniform_sample_of_the_stream() {
    // 200 streams of S = 250 samples into N = 25 slots: each sample is kept with probability
    // N/S = 0.1, so each decile of the stream (25 samples) expects 200·25·0.1 = 500 kept. A
    // decile's count is a sum of 5000 Bernoulli(0.1) draws (correlated only through the fixed
    // total): sd ≈ √(5000·0.1·0.9) ≈ 21, and ±100 is ~4.7 sd. A FIFO would keep only the last
    // decile (5000 there, 0 elsewhere); a rule that favoured early samples would shift mass
    // to the first deciles by far more than 100.
    const S: usize = 250;
    const N: usize = 25;
    let mut per_decile = [0usize; 10];
    for seed in 1..=200u64 {
        let (mut codes, mut classes) = ([0u8; N * 3], [0u8; N]);
        let mut s = SampleStore::new(
            &mut codes,
            &mut classes,
            pixel_grid(),
            Eviction::Reservoir { seed },
        )
        .unwrap();
        for k in 0..S {
            s.push(&sample(k), 0).unwrap();
        }
        assert_eq!((s.len(), s.seen()), (N, S as u64));
        for i in 0..N {
            let k = usize::from(s.codes(i).unwrap()[0]);
            per_decile[k / (S / 10)] += 1;
        }
    }
    for (d, &c) in per_decile.iter().enumerate() {
        assert!((400..=600).contains(&c), "decile {d}: {c} of 5000 kept");
    }
    // The first N samples fill the slots in order whatever the seed.
    let (mut codes, mut classes) = ([0u8; 6], [0u8; 2]);
    let mut s = SampleStore::new(
        &mut codes,
        &mut classes,
        pixel_grid(),
        Eviction::Reservoir { seed: 0 },
    )
    .unwrap();
    assert_eq!(s.push(&sample(0), 0), Ok(Pushed::Added { slot: 0 }));
    assert_eq!(s.push(&sample(1), 0), Ok(Pushed::Added { slot: 1 }));
    let later = s.push(&sample(2), 0).unwrap();
    assert!(matches!(
        later,
        Pushed::Skipped | Pushed::Replaced { slot: 0 | 1 }
    ));
}

#[test]
fn below_and_the_generator_stay_in_range() {
    let mut state = DEFAULT_SEED;
    for n in [1u64, 2, 3, 1000, u64::MAX] {
        for _ in 0..100 {
            assert!(below(next_random(&mut state), n) < n);
        }
    }
    assert_eq!(below(u64::MAX, 0), 0);
}

#[test]
fn keep_recent_keeps_the_newest_samples_in_arrival_order() {
    // Filling (6 of 8), then full and wrapped (13 pushed into 8 slots).
    for pushes in [6usize, 13] {
        let (mut codes, mut classes) = ([0u8; 24], [0u8; 8]);
        let mut s =
            SampleStore::new(&mut codes, &mut classes, pixel_grid(), Eviction::Fifo).unwrap();
        for k in 0..pushes {
            s.push(&sample(k), k % 2).unwrap();
        }
        assert_eq!(s.keep_recent(3), 3);
        let held: Vec<u8> = (0..3).map(|i| s.codes(i).unwrap()[0]).collect();
        let want: Vec<u8> = (pushes - 3..pushes).map(|k| k as u8).collect();
        assert_eq!(held, want, "after {pushes} pushes");
        assert_eq!((s.len(), s.class(0)), (3, (pushes - 3) % 2));
        // The next sample goes after them, and the window fills again before evicting.
        assert_eq!(s.push(&sample(99), 1), Ok(Pushed::Added { slot: 3 }));
        assert_eq!(s.keep_recent(10), 4);
    }
    // A reservoir keeps its uniform sample.
    let (mut codes, mut classes) = ([0u8; 24], [0u8; 8]);
    let mut s = SampleStore::new(
        &mut codes,
        &mut classes,
        pixel_grid(),
        Eviction::Reservoir { seed: 3 },
    )
    .unwrap();
    for k in 0..20 {
        s.push(&sample(k), 0).unwrap();
    }
    assert_eq!(s.keep_recent(2), 8);
}

#[test]
fn the_word_kernels_give_the_plain_loops_bits_and_the_f64_sums() {
    // Rows whose lengths leave every remainder after whole words (m mod 4 = 0..3) and whose
    // codes put zeros in every slot of a word, in runs (whole zero words and half words) and
    // alone; `u` and `a` with both signs, so skipped and multiplied zeros are ±0. Checked
    // against two references: the plain f32 loop over the non-zero codes in feature order
    // (the kernels claim its bits exactly), and the f64 sum, within the f32 round-off of a
    // sum of `m` terms: |error| ≤ m·ε·Σ|q_j u_j| (each of the ≤ m additions and products
    // rounds once, relative error ε/2 each; m·ε is a safe bound for m ≤ 65).
    for m in [1usize, 2, 3, 4, 5, 7, 8, 13, 64, 65] {
        let n = 6;
        let grid = Grid {
            n_features: m,
            n_classes: 2,
            max_code: 255,
            dequant: Dequant::Shared {
                offset: 0.0,
                scale: 1.0,
            },
            transform: None,
        };
        let (mut codes, mut classes) = (vec![0u8; n * m], vec![0u8; n]);
        let mut s = SampleStore::new(&mut codes, &mut classes, grid, Eviction::Fifo).unwrap();
        let code = |i: usize, j: usize| -> u8 {
            let run = (j / 4 + i).is_multiple_of(3); // whole zero words
            let lone = (i * 7 + j * 3).is_multiple_of(5); // single zeros anywhere
            if run || lone {
                0
            } else {
                ((i * 37 + j * 11) % 255 + 1) as u8
            }
        };
        for i in 0..n {
            let raw: Vec<f32> = (0..m).map(|j| f32::from(code(i, j))).collect();
            s.push(&raw, i % 2).unwrap();
        }
        let u: Vec<f32> = (0..m)
            .map(|j| (j as f32 * 0.37 - 3.1) * if j % 3 == 1 { -1.0 } else { 1.0 })
            .collect();
        for i in 0..n {
            let q = s.codes(i).unwrap().to_vec();
            let mut plain = 0.0f32;
            for (&qj, &uj) in q.iter().zip(&u) {
                if qj != 0 {
                    plain += f32::from(qj) * uj;
                }
            }
            let got = s.dot_codes(i, &u);
            assert_eq!(got.to_bits(), plain.to_bits(), "dot, m = {m}, row {i}");
            let exact: f64 = q
                .iter()
                .zip(&u)
                .map(|(&qj, &uj)| f64::from(qj) * f64::from(uj))
                .sum();
            let size: f64 = q
                .iter()
                .zip(&u)
                .map(|(&qj, &uj)| (f64::from(qj) * f64::from(uj)).abs())
                .sum();
            let bound = m as f64 * f64::from(f32::EPSILON) * size;
            assert!(
                (f64::from(got) - exact).abs() <= bound,
                "dot, m = {m}, row {i}"
            );

            for a in [0.75f32, -1.5] {
                let start: Vec<f32> = (0..m).map(|j| j as f32 * 0.5 - 2.0).collect();
                let mut out = start.clone();
                s.axpy_codes(i, a, &mut out);
                let mut want = start.clone();
                for (o, &qj) in want.iter_mut().zip(&q) {
                    if qj != 0 {
                        *o += a * f32::from(qj);
                    }
                }
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&out), bits(&want), "axpy, m = {m}, row {i}, a = {a}");
                // One product and one sum per entry: within ε of the f64 value (two roundings
                // of ε/2 each).
                for ((&o, &st), &qj) in out.iter().zip(&start).zip(&q) {
                    let exact = f64::from(st) + f64::from(a) * f64::from(qj);
                    assert!(
                        (f64::from(o) - exact).abs()
                            <= f64::from(f32::EPSILON)
                                * (exact.abs() + f64::from(a.abs()) * f64::from(qj))
                    );
                }
                // Through the row-once path of a Hessian-vector row: the same bits as the two
                // halves.
                let mut out2 = start.clone();
                let xv = s.dot_axpy_codes(i, &u, 0.25, -0.5, a, &mut out2);
                let want_xv = (plain + 0.25) + -0.5;
                assert_eq!(xv.to_bits(), want_xv.to_bits());
                let mut want2 = start.clone();
                s.axpy_codes(i, a * want_xv, &mut want2);
                assert_eq!(bits(&out2), bits(&want2));
            }
        }
        // The whole-pass methods walk the rows: the bits of the per-row definitions (the
        // trait's defaults), with `dd` one longer than the store (an empty row past its end).
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let dd: Vec<f32> = (0..=n).map(|i| 0.2 + i as f32 * 0.1).collect();
        let (mut out, mut xv) = (vec![0.5f32; m], vec![0.0f32; n + 1]);
        let sum = s.hess_vec_codes(&dd, &u, 0.25, -0.5, &mut out, &mut xv);
        let (mut out_d, mut xv_d) = (vec![0.5f32; m], vec![0.0f32; n + 1]);
        let sum_d =
            crate::data::hess_vec_codes_each(&s, &dd, &u, 0.25, -0.5, &mut out_d, &mut xv_d);
        assert_eq!(
            (sum.to_bits(), bits(&out), bits(&xv)),
            (sum_d.to_bits(), bits(&out_d), bits(&xv_d)),
            "hess_vec_codes, m = {m}"
        );
        let mut margins = vec![9.0f32; n + 2];
        s.dot_codes_rows(&u, &mut margins);
        let mut want = vec![9.0f32; n + 2];
        crate::data::dot_codes_rows_each(&s, &u, &mut want);
        assert_eq!(bits(&margins), bits(&want), "dot_codes_rows, m = {m}");
        let mut grad = vec![0.0f32; m];
        s.axpy_codes_rows(&mut |i| 1.0 - i as f32 * 0.3, &mut grad);
        let mut want = vec![0.0f32; m];
        for i in 0..n {
            s.axpy_codes(i, 1.0 - i as f32 * 0.3, &mut want);
        }
        assert_eq!(bits(&grad), bits(&want), "axpy_codes_rows, m = {m}");
        // Vectors shorter than the row: as far as they reach, no panic.
        let short = &u[..m / 2];
        let q = s.codes(0).unwrap().to_vec();
        let want: f32 = q
            .iter()
            .zip(short)
            .filter(|(q, _)| **q != 0)
            .fold(0.0, |acc, (&qj, &uj)| acc + f32::from(qj) * uj);
        assert_eq!(s.dot_codes(0, short).to_bits(), want.to_bits());
    }
}
