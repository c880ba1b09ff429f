//! The no-panic rule, fuzzed with overflow checks on (issue 12, item 11): run in the **debug**
//! profile (`cargo test -p host-tests --test fuzz_no_panic`), where an integer overflow is a
//! panic, as on a board built with `overflow-checks`. Every public entry point that reads
//! untrusted bytes or caller-chosen lengths gets random and mutated inputs; proptest reports any
//! panic as a failure, and where lengths mismatch the answer must be `Err`.
//!
//! The clippy lints of `core/src/lib.rs` keep index arithmetic and `[]` out of the library; this
//! catches what they cannot see (a `chunks(0)`, a `div_ceil(0)`, a shift past the width).

use proptest::collection::vec;
use proptest::prelude::*;
use std::sync::OnceLock;
use tinynewton::format::{self, HEADER_LEN};
use tinynewton::{
    argmax_row, cholesky_packed, evaluate, packed_index, packed_len, solve_packed, train,
    train_one_vs_rest, train_softmax, workspace_bytes_for, BiasMode, Buffers, DenseRows, Dequant,
    Evaluate, FeatureParams, FeatureTable, FeatureTransform, Logistic, Model, OwnedTransform, Rows,
    Settings, Sizes, Softmax, SolverKind, TransformKind,
};

/// CRC-32 (ISO-HDLC, the zlib CRC the formats use), table-driven: the tests re-seal mutated
/// images so the parsers get past their checksums to the structural checks.
fn crc32(bytes: &[u8]) -> u32 {
    static TABLE: OnceLock<[u32; 256]> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        let mut t = [0u32; 256];
        for (i, e) in t.iter_mut().enumerate() {
            let mut c = i as u32;
            for _ in 0..8 {
                c = if c & 1 == 1 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
            }
            *e = c;
        }
        t
    });
    !bytes.iter().fold(!0u32, |c, &b| {
        table[((c ^ u32::from(b)) & 0xFF) as usize] ^ (c >> 8)
    })
}

/// Every committed packed file, read once.
fn committed() -> &'static [Vec<u8>] {
    static FILES: OnceLock<Vec<Vec<u8>>> = OnceLock::new();
    FILES.get_or_init(|| {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        let mut files = Vec::new();
        for dir in ["data", "data/tables"] {
            let mut paths: Vec<_> = std::fs::read_dir(root.join(dir))
                .unwrap()
                .map(|e| e.unwrap().path())
                .filter(|p| p.extension().is_some_and(|e| e == "tnds"))
                .collect();
            paths.sort();
            files.extend(paths.iter().map(|p| std::fs::read(p).unwrap()));
        }
        assert!(files.len() >= 18, "{} committed files", files.len());
        files
    })
}

/// Recomputes a packed file's payload and header CRCs (bytes 56..60 and 60..64).
fn seal_packed(bytes: &mut [u8]) {
    if bytes.len() < HEADER_LEN {
        return;
    }
    let payload = crc32(&bytes[HEADER_LEN..]);
    bytes[56..60].copy_from_slice(&payload.to_le_bytes());
    let header = crc32(&bytes[..60]);
    bytes[60..64].copy_from_slice(&header.to_le_bytes());
}

/// One change to a byte image.
#[derive(Clone, Debug)]
enum Mutation {
    /// XOR the byte at `at % len` with a non-zero mask.
    Flip { at: usize, mask: u8 },
    /// Write a little-endian `u32` at the 4-aligned header offset `(field % 16)·4`.
    Field { field: usize, value: u32 },
    /// Keep the first `at % (len + 1)` bytes.
    Truncate { at: usize },
    /// Append these bytes.
    Extend { bytes: Vec<u8> },
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop_oneof![
        any::<u32>(),
        0u32..300,
        Just(u32::MAX),
        Just(u32::MAX / 2),
        Just(1 << 31),
        Just(0x4000_0000),
    ];
    prop_oneof![
        4 => (any::<usize>(), 1u8..=255).prop_map(|(at, mask)| Mutation::Flip { at, mask }),
        3 => (0usize..16, interesting).prop_map(|(field, value)| Mutation::Field { field, value }),
        1 => any::<usize>().prop_map(|at| Mutation::Truncate { at }),
        1 => vec(any::<u8>(), 1..16).prop_map(|bytes| Mutation::Extend { bytes }),
    ]
}

fn apply(image: &mut Vec<u8>, m: &Mutation) {
    match m {
        Mutation::Flip { at, mask } if !image.is_empty() => {
            let at = at % image.len();
            image[at] ^= mask;
        }
        Mutation::Field { field, value } => {
            let at = field * 4;
            if let Some(dst) = image.get_mut(at..at + 4) {
                dst.copy_from_slice(&value.to_le_bytes());
            }
        }
        Mutation::Truncate { at } => image.truncate(at % (image.len() + 1)),
        Mutation::Extend { bytes } => image.extend_from_slice(bytes),
        Mutation::Flip { .. } => {}
    }
}

/// Reads a parsed dataset through every accessor at ordinary and absurd indices.
fn exercise_rows<R: Rows + ?Sized>(rows: &R, probe: usize) {
    let (n, m) = (rows.n_samples(), rows.n_features());
    let dequant = rows.dequant();
    for j in [0, m.saturating_sub(1), m, probe, usize::MAX] {
        let _ = dequant.pair(j);
    }
    let u = vec![0.5f32; m.min(4096) + 3];
    let mut out = vec![0.0f32; m.min(4096) + 3];
    for i in [0, n / 2, n.saturating_sub(1), n, probe, usize::MAX] {
        let _ = (rows.label(i), rows.class(i));
        let _ = rows.dot_codes(i, &u);
        rows.axpy_codes(i, 0.25, &mut out);
        let mut k3 = [0.0f32; 3];
        rows.dot_codes_multi(i, &u, probe % 7, &mut k3);
        rows.axpy_codes_multi(i, &[1.0, -1.0, 0.5], probe % 7, &mut out);
        rows.dot_codes_multi(i, &u, usize::MAX, &mut k3);
        rows.axpy_codes_multi(i, &[1.0, -1.0], usize::MAX, &mut out);
    }
}

/// A tiny `K`-class dataset whose own methods cannot panic (the test must only find the
/// library's panics).
#[derive(Clone, Debug)]
struct Tiny {
    x: Vec<f32>,
    classes: Vec<usize>,
    m: usize,
    k: usize,
}

impl Tiny {
    fn row(&self, i: usize) -> &[f32] {
        i.checked_mul(self.m)
            .and_then(|s| self.x.get(s..s.checked_add(self.m)?))
            .unwrap_or(&[])
    }
}

impl Rows for Tiny {
    fn n_samples(&self) -> usize {
        self.classes.len()
    }
    fn n_features(&self) -> usize {
        self.m
    }
    fn label(&self, i: usize) -> f32 {
        match (self.k, self.classes.get(i)) {
            (2, Some(0)) => 1.0,
            (2, Some(1)) => -1.0,
            _ => f32::NAN,
        }
    }
    fn n_classes(&self) -> usize {
        self.k
    }
    fn class(&self, i: usize) -> usize {
        self.classes.get(i).copied().unwrap_or(self.k)
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

/// Feature values: mostly ordinary, sometimes huge or tiny (finite: the datasets refuse NaN).
fn value() -> impl Strategy<Value = f32> {
    prop_oneof![
        8 => -4.0f32..4.0,
        1 => prop_oneof![Just(1e30f32), Just(-1e30), Just(1e-30), Just(0.0), Just(f32::MAX)],
    ]
}

/// `k` classes over `n` samples of `m` features (`n ≥ 1`).
fn tiny(max_k: usize) -> impl Strategy<Value = Tiny> {
    (1usize..14, 0usize..4, 2usize..=max_k).prop_flat_map(|(n, m, k)| {
        (vec(value(), n * m), vec(0..k + 1, n)).prop_map(move |(x, mut classes)| {
            // Mostly valid class indices; an index k (out of range) now and then.
            for c in classes.iter_mut().skip(1) {
                if *c == k {
                    *c = 0;
                }
            }
            Tiny { x, classes, m, k }
        })
    })
}

/// A length near `want` (equal half the time) or anywhere small.
fn len_near(want: usize, noise: i8) -> usize {
    match noise {
        -1 => want.saturating_sub(1),
        1 => want + 1,
        2 => want + 7,
        _ => want,
    }
}

fn noise() -> impl Strategy<Value = i8> {
    prop_oneof![4 => Just(0i8), 1 => Just(-1i8), 1 => Just(1i8), 1 => Just(2i8)]
}

fn filled(len: usize, seed: f32) -> Vec<f32> {
    (0..len).map(|j| seed * (j as f32 - 1.5)).collect()
}

fn settings() -> impl Strategy<Value = Settings> {
    (
        // Mostly valid settings, so most runs get past `validate` into the Newton loop.
        prop_oneof![
            3 => Just(1.0f32),
            3 => 1e-3f32..1e3,
            1 => prop_oneof![Just(0.0f32), Just(f32::NAN), Just(1e38)],
        ],
        prop_oneof![Just(1.0f32), 1e-3f32..1e3],
        any::<bool>(),
        prop_oneof![1 => Just(0u32), 8 => 1u32..10],
        prop_oneof![
            Just(SolverKind::Auto),
            Just(SolverKind::Cholesky),
            Just(SolverKind::Cg),
            Just(SolverKind::GradientDescent),
            Just(SolverKind::Lbfgs)
        ],
        any::<bool>(),
        prop_oneof![3 => Just(u32::MAX), 1 => 0u32..12],
        0u32..40,
    )
        .prop_map(
            |(c_pos, c_neg, free, iters, solver, warm_start, max_passes, lbfgs_pairs)| Settings {
                c_pos,
                c_neg,
                bias: if free {
                    BiasMode::Free
                } else {
                    BiasMode::Regularized
                },
                epsilon: 1e-4,
                max_iter: iters,
                max_cg_iter: iters.saturating_mul(3),
                max_line_search: iters.saturating_mul(2),
                solver,
                warm_start,
                max_passes,
                lbfgs_pairs,
            },
        )
}

fn transform_kind(b: u8) -> TransformKind {
    TransformKind::from_byte(b % 4).unwrap_or(TransformKind::None)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 1000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn parse_refuses_random_bytes(bytes in vec(any::<u8>(), 0..300), sealed in any::<bool>()) {
        let mut bytes = bytes;
        if sealed && bytes.len() >= HEADER_LEN {
            // A header that passes the first checks, so the fields behind them are reached.
            bytes[..4].copy_from_slice(b"TNDS");
            let version = 1 + u16::from(bytes[4] & 1);
            bytes[4..6].copy_from_slice(&version.to_le_bytes());
            bytes[6..8].copy_from_slice(&(HEADER_LEN as u16).to_le_bytes());
            seal_packed(&mut bytes);
        }
        if let Ok(ds) = format::parse(&bytes) {
            exercise_rows(&ds, bytes.len());
        }
    }

    #[test]
    fn model_from_bytes_refuses_random_bytes(bytes in vec(any::<u8>(), 0..400), v in 0u16..5) {
        let mut bytes = bytes;
        if bytes.len() >= 12 {
            bytes[..4].copy_from_slice(b"TNMD");
            bytes[4..6].copy_from_slice(&v.to_le_bytes());
            let body = bytes.len() - 4;
            let crc = crc32(&bytes[..body]);
            bytes[body..].copy_from_slice(&crc.to_le_bytes());
        }
        if let Ok(model) = Model::<64>::from_bytes(&bytes) {
            exercise_model(&model, bytes.len());
        }
    }

    #[test]
    fn packed_index_and_len_saturate(j in any::<usize>(), k in any::<usize>(), small in 0usize..300) {
        prop_assert_eq!(packed_index(j, k), packed_index(k, j));
        prop_assert!(packed_len(j) >= packed_len(j / 2));
        prop_assert_eq!(packed_len(small + 1), packed_len(small) + small + 1);
        prop_assert_eq!(packed_index(small, small), packed_len(small + 1) - 1);
    }

    #[test]
    fn cholesky_and_solve_refuse_short_slices(
        a in vec(-3.0f32..3.0, 0..80),
        m in prop_oneof![0usize..14, any::<usize>()],
        b in vec(-3.0f32..3.0, 0..16),
    ) {
        let mut a = a;
        // Diagonally dominant where the slice allows, so some factorisations succeed.
        for j in 0..m.min(12) {
            if let Some(x) = a.get_mut(packed_index(j, j)) {
                *x = 20.0;
            }
        }
        let short_a = a.len() < packed_len(m);
        let r = cholesky_packed(&mut a, m);
        prop_assert!(!short_a || r == Err(tinynewton::CholeskyError::ShapeMismatch));
        let mut b2 = b.clone();
        let s = solve_packed(&a, m, &mut b2);
        prop_assert_eq!(s.is_err(), short_a || b.len() < m, "{:?}", s);
    }

    #[test]
    fn feature_tables_and_dequant_pairs_never_panic(
        bytes in vec(any::<u8>(), 0..48),
        j in prop_oneof![0usize..10, any::<usize>(), Just(usize::MAX / 8)],
    ) {
        let table = FeatureTable::new(&bytes);
        prop_assert_eq!(table.is_some(), bytes.len() % 8 == 0);
        if let Some(t) = table {
            let (o, s) = t.pair(j);
            if j >= t.len() {
                prop_assert_eq!((o.to_bits(), s.to_bits()), (0f32.to_bits(), 1f32.to_bits()));
            }
            let _ = Dequant::PerFeature(t).pair(j);
        }
        let _ = (Dequant::Identity.pair(j), Dequant::Shared { offset: 1.0, scale: 2.0 }.pair(j));
    }

    #[test]
    fn carve_and_sizes_never_panic(
        len in 0usize..400,
        weights in prop_oneof![0usize..20, any::<usize>()],
        samples in prop_oneof![0usize..20, any::<usize>()],
        triangle in prop_oneof![0usize..60, any::<usize>()],
        (n, m, k) in (any::<usize>(), any::<usize>(), any::<usize>()),
        word in 0usize..17,
        explicit in any::<bool>(),
    ) {
        let sizes = Sizes { weights, samples, triangle };
        let mut storage = vec![0.0f32; len];
        let mut dim = 0;
        let carved = Buffers::carve(&mut storage, sizes, &mut dim);
        prop_assert_eq!(carved.is_ok(), len >= sizes.floats());
        if let Ok(mut b) = carved {
            prop_assert_eq!(b.capacity().weights, weights);
            let _ = b.set_weights(&[1.0, 2.0]);
            let _ = b.check_fits(Sizes::softmax(n, m, k, explicit));
            let _ = b.weights();
        }
        for s in [Sizes::softmax(n, m, k, explicit), Sizes::binary(n, m, explicit), sizes] {
            let _ = (s.floats(), s.fit_in(n, m, k));
            let _ = workspace_bytes_for(s.weights, s.samples, s.triangle, word);
            for shape in [
                tinynewton::Shape::dense(s.weights, s.samples),
                tinynewton::Shape {
                    weights: s.weights,
                    samples: s.samples,
                    nnz_per_row: word,
                },
            ] {
                let _ = (shape.explicit_work(), shape.cg_work());
                let _ = SolverKind::Auto.resolve(&shape, triangle);
                let _ = SolverKind::Cholesky.resolve(&shape, triangle);
                let _ = SolverKind::Lbfgs.storage_floats(&shape, k as u32);
            }
        }
    }

    #[test]
    fn transforms_check_lengths(
        kind in any::<u8>(),
        bytes in vec(any::<u8>(), 0..70),
        raw in vec(-1e3f32..1e3, 0..6),
        out_len in 0usize..6,
    ) {
        let kind = transform_kind(kind);
        if let Ok(t) = FeatureTransform::new(kind, &bytes) {
            let mut out = vec![0.0f32; out_len];
            let r = t.apply(&raw, &mut out);
            prop_assert!(r.is_err() || (raw.len() == t.len() && out_len == t.len()));
            let _ = (t.param(usize::MAX), t.pair(usize::MAX / 8), t.params().count());
            if let Ok(owned) = OwnedTransform::<4>::from_view(&t) {
                let r = owned.apply(&raw, &mut out);
                prop_assert!(r.is_err() || (raw.len() == t.len() && out_len == t.len()));
            }
        }
    }
}

fn exercise_model(model: &Model<64>, probe: usize) {
    let m = model.n_features();
    for len in [0, m.saturating_sub(1), m, m + 1, probe % 70] {
        let x = vec![0.5f32; len];
        assert_eq!(model.decision(&x).is_ok(), len == m);
        let _ = (model.probability(&x), model.label(&x));
        let _ = (model.decision_raw(&x), model.label_raw(&x));
    }
    let _ = model.fingerprint();
    for len in [0, model.byte_len().saturating_sub(1), model.byte_len()] {
        let mut out = vec![0u8; len];
        let r = model.to_bytes(&mut out);
        assert_eq!(r.is_ok(), len >= model.byte_len(), "{r:?}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 500,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn parse_refuses_mutated_committed_files(
        file in any::<prop::sample::Index>(),
        mutations in vec(mutation(), 1..5),
        sealed in any::<bool>(),
        probe in any::<usize>(),
    ) {
        let files = committed();
        let original = &files[file.index(files.len())];
        let mut bytes = original.clone();
        for m in &mutations {
            apply(&mut bytes, m);
        }
        if sealed {
            seal_packed(&mut bytes);
        }
        if let Ok(ds) = format::parse(&bytes) {
            exercise_rows(&ds, probe);
            let _ = (ds.class_counts(), ds.code(probe, probe), ds.value(0, probe));
            let _ = (ds.row_bytes(probe), ds.label_i8(probe), ds.class_of(probe));
        }
    }

    #[test]
    fn model_from_bytes_refuses_mutated_images(
        weights in vec(-5.0f32..5.0, 0..=64),
        kind in any::<u8>(),
        mutations in vec(mutation(), 1..4),
        sealed in any::<bool>(),
    ) {
        let mut model = Model::<64>::new(&weights, 0.25).unwrap();
        let kind = transform_kind(kind);
        if kind != TransformKind::None {
            let params: Vec<FeatureParams> =
                weights.iter().map(|&w| FeatureParams::clamped(w, 0.5, -1.0, 1.0)).collect();
            model = model
                .with_owned_transform(OwnedTransform::from_params(kind, &params).unwrap())
                .unwrap();
        }
        let mut image = vec![0u8; model.byte_len()];
        model.to_bytes(&mut image).unwrap();
        prop_assert_eq!(Model::<64>::from_bytes(&image).unwrap().fingerprint(), model.fingerprint());
        for m in &mutations {
            apply(&mut image, m);
        }
        if sealed && image.len() >= 4 {
            let body = image.len() - 4;
            let crc = crc32(&image[..body]);
            image[body..].copy_from_slice(&crc.to_le_bytes());
        }
        if let Ok(read) = Model::<64>::from_bytes(&image) {
            exercise_model(&read, image.len());
        }
        // A smaller capacity refuses what does not fit instead of overrunning.
        let _ = Model::<3>::from_bytes(&image);
    }

    #[test]
    fn logistic_passes_check_lengths(
        data in tiny(2),
        s in settings(),
        nz in vec(noise(), 12),
        alpha in prop_oneof![Just(1.0f32), -2.0f32..2.0],
    ) {
        let labels: Vec<i8> = data.classes.iter().map(|&c| if c == 0 { 1 } else { -1 }).collect();
        let Ok(rows) = DenseRows::new(&data.x, &labels, data.m) else {
            return Ok(());
        };
        let f = Logistic::new(&rows, &s);
        let (n, m, dim) = (data.classes.len(), data.m, data.m + 1);
        let len = |i: usize, want: usize| len_near(want, nz[i]);
        let w = filled(len(0, dim), 0.1);
        let d = filled(len(1, dim), -0.2);
        let mut u = filled(len(2, m), 0.0);
        let mut z = filled(len(3, n), 0.3);
        let mut xd = filled(len(4, n), 0.1);
        let mut g = filled(len(5, dim), 0.0);
        let mut dd = filled(len(6, n), 0.2);
        let mut h = filled(len(7, packed_len(dim)), 0.0);
        let (wl, dl, ul, zl, xl, gl, ddl) = (w.len() == dim, d.len() == dim, u.len() >= m,
            z.len() == n, xd.len() == n, g.len() == dim, dd.len() == n);
        prop_assert_eq!(f.margins(&w, &mut u, &mut z).is_ok(), wl && ul && zl);
        prop_assert_eq!(f.value(&w, &z).is_ok(), wl && zl);
        let step_ok = wl && dl && zl && xl;
        prop_assert_eq!(f.value_along(&w, &d, alpha, &z, &xd).is_ok(), step_ok);
        prop_assert_eq!(f.value_change(&w, &d, alpha, &z, &xd).is_ok(), step_ok);
        prop_assert_eq!(f.grad(&w, &z, &mut g, &mut dd).is_ok(), wl && zl && gl && ddl);
        prop_assert_eq!(f.hess_vec(&dd, &d, &mut u, &mut g).is_ok(), ddl && dl && ul && gl);
        prop_assert_eq!(f.x_times(&d, &mut u, &mut xd).is_ok(), dl && ul && xl);
        prop_assert_eq!(f.hess_diag(&dd, &mut u, &mut g).is_ok(), ddl && ul && gl);
        let hl = h.len() >= packed_len(dim);
        prop_assert_eq!(f.hessian_packed(&dd, &mut u, &mut h).is_ok(), ddl && ul && hl);
        let mut w2 = w.clone();
        prop_assert_eq!(f.step(&mut w2, &d, alpha, &mut z, &xd).is_ok(), step_ok);
        let _ = tinynewton::check_data(&rows, &mut u);
    }

    #[test]
    fn softmax_passes_check_lengths(
        data in tiny(5),
        s in settings(),
        nz in vec(noise(), 12),
        alpha in prop_oneof![Just(1.0f32), -2.0f32..2.0],
        costs in vec(0.5f32..2.0, 0..6),
    ) {
        let costs = if costs.len() == data.k { costs } else { Vec::new() };
        let f = Softmax::new(&data, &s, &costs);
        let (n, m, k) = (data.classes.len(), data.m, data.k);
        let dim = k * (m + 1);
        let len = |i: usize, want: usize| len_near(want, nz[i]);
        let w = filled(len(0, dim), 0.1);
        let d = filled(len(1, dim), -0.2);
        let mut u = filled(len(2, k * m), 0.0);
        let mut p = filled(len(3, n * k), 0.2);
        let mut g = filled(len(4, dim), 0.0);
        let mut h = filled(len(5, packed_len(dim)), 0.0);
        let (wl, dl, ul, pl, gl) =
            (w.len() == dim, d.len() == dim, u.len() >= k * m, p.len() >= n * k, g.len() == dim);
        prop_assert_eq!(f.value_grad(&w, &mut u, &mut p, &mut g).is_ok(), wl && gl && ul && pl);
        prop_assert_eq!(f.hess_vec(&p, &d, &mut u, &mut g).is_ok(), dl && gl && ul && pl);
        prop_assert_eq!(f.hess_diag(&p, &mut u, &mut g).is_ok(), gl && u.len() >= m && pl);
        let hl = h.len() >= packed_len(dim);
        prop_assert_eq!(f.hessian_packed(&p, &mut u, &mut h).is_ok(), u.len() >= m && hl && pl);
        prop_assert_eq!(f.value_change(&w, &d, alpha, &p, &mut u).is_ok(), wl && dl && ul && pl);
        let mut out = vec![0.0f32; len(6, k)];
        let _ = argmax_row(&data, 0, &w, &mut out);
        let _ = argmax_row(&data, usize::MAX, &w, &mut u);
    }

    #[test]
    fn training_tiny_problems_never_panics(
        data in tiny(4),
        s in settings(),
        nz in vec(noise(), 4),
        explicit in any::<bool>(),
        start in vec(-1.0f32..1.0, 0..8),
    ) {
        let (n, m, k) = (data.classes.len(), data.m, data.k);
        // Binary: sizes near what the problem needs, so some runs are refused for capacity.
        let need = Sizes::binary(n, m, explicit);
        let sizes = Sizes {
            weights: len_near(need.weights, nz[0]),
            samples: len_near(need.samples, nz[1]),
            triangle: len_near(need.triangle, nz[2]),
        };
        let mut storage = vec![0.0f32; sizes.floats()];
        let mut dim = 0;
        let mut b = Buffers::carve(&mut storage, sizes, &mut dim).unwrap();
        let _ = b.set_weights(&start);
        let labels: Vec<i8> = data.classes.iter().map(|&c| if c == 0 { 1 } else { -1 }).collect();
        if let Ok(rows) = DenseRows::new(&data.x, &labels, m) {
            let _ = train(b.reborrow(), &rows, &s, |_| {});
            let _ = evaluate(b.reborrow(), &rows, &s, &start, Evaluate::default());
        }
        let _ = train(b.reborrow(), &data, &s, |_| {});
        // Softmax and one-vs-rest on the same data.
        let need = Sizes::softmax(n, m, k, explicit);
        let sizes = Sizes {
            weights: len_near(need.weights, nz[3]),
            ..need
        };
        let mut storage = vec![0.0f32; sizes.floats()];
        let mut dim = 0;
        let mut b = Buffers::carve(&mut storage, sizes, &mut dim).unwrap();
        let _ = b.set_weights(&start);
        let _ = train_softmax(b.reborrow(), &data, &s, |_| {});
        let mut ovr = vec![0.0f32; len_near(k * (m + 1), nz[3])];
        let _ = train_one_vs_rest(b.reborrow(), &data, &s, &mut ovr, |_, _| {});
    }
}

#[test]
fn the_crc_agrees_with_the_committed_files() {
    for file in committed() {
        let stored = u32::from_le_bytes(file[60..64].try_into().unwrap());
        assert_eq!(crc32(&file[..60]), stored);
        let mut resealed = file.clone();
        seal_packed(&mut resealed);
        assert_eq!(&resealed, file);
        assert!(format::parse(file).is_ok());
    }
}

/// The committed 7x7 test file: sparse rows (`u8-sparse`), small enough to mutate often.
static SPARSE_7: &[u8] = include_bytes!("../../data/mnist-7v1-7x7-u8-test.tnds");

/// Where the sparse payload's sections start: (row offsets, indices, codes, end).
fn sparse_sections(bytes: &[u8]) -> (usize, usize, usize, usize) {
    let word = |at: usize| u32::from_le_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
    let (n, m, payload, len) = (word(8), word(12), word(48), word(52));
    let w = if m <= 256 { 1 } else { 2 };
    let indices = payload + 4 * (n + 1);
    let nnz = (len - 4 * (n + 1)) / (w + 1);
    (payload, indices, indices + w * nnz, payload + len)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 2000,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    /// Changes inside a sparse payload, CRCs resealed so the structural checks are what answer:
    /// the row offsets (out of order, past the entries, a truncated table through the payload
    /// length), the indices (not increasing, `≥ m`) and the codes (a stored zero). Each is
    /// refused with the error that names it, or read without a panic when the change left a
    /// valid file (an index moved within its gap, a code to another non-zero value).
    #[test]
    fn sealed_sparse_payload_mutations_are_typed_errors(
        at in any::<prop::sample::Index>(),
        value in prop_oneof![Just(0u8), Just(255u8), any::<u8>()],
        shrink_payload in 0u32..12,
        probe in any::<usize>(),
    ) {
        let (offsets, indices, codes, end) = sparse_sections(SPARSE_7);
        let mut bytes = SPARSE_7.to_vec();
        let at = offsets + at.index(end - offsets);
        bytes[at] = value;
        if shrink_payload > 8 {
            // The payload length no longer covers the offset table and whole entries.
            let len = u32::from_le_bytes(bytes[52..56].try_into().unwrap()) - shrink_payload;
            bytes[52..56].copy_from_slice(&len.to_le_bytes());
        }
        seal_packed(&mut bytes);
        match format::parse(&bytes) {
            Ok(ds) => {
                prop_assert!(shrink_payload <= 8);
                exercise_rows(&ds, probe);
                let _ = (ds.code(probe % 500, probe % 60), ds.sparse_row(probe % 500));
            }
            Err(e) => {
                use format::FormatError::*;
                let want: &[format::FormatError] = if shrink_payload > 8 {
                    &[BadLayout, LengthMismatch]
                } else if at < indices {
                    // An offset moved within the limits hands entries to the next row, whose
                    // indices then fail to increase.
                    &[BadRowOffsets, BadFeatureIndex]
                } else if at < codes {
                    &[BadFeatureIndex]
                } else {
                    &[ZeroCodeStored]
                };
                prop_assert!(want.contains(&e), "byte {at} = {value}: {e:?}, wanted {want:?}");
                if at >= codes && shrink_payload <= 8 {
                    prop_assert_eq!(value, 0);
                }
            }
        }
    }
}
