//! Criterion benches of the training kernels on the committed 7-vs-1 MNIST files
//! (`cargo bench -p tinynewton --bench kernels`).
//!
//! Host seconds only rank kernels against each other on one machine; the device figure is the
//! instruction count under QEMU (`bash scripts/emulate.sh`). Each group measures a kernel next
//! to a peer in the same run:
//!
//! * `hessian_packed`: the core's kernel (rank-one updates over the row's nonzero values only)
//!   against the dense rank-one update it replaced, rewritten here over the public [`Rows`]
//!   API. Both produce the same bits, which is checked before timing.
//! * `hess_vec`: the core's product on the packed `u8` rows against the same product on rows
//!   whose `dot_codes`/`axpy_codes` skip zero codes (a candidate for the packed kernels), again
//!   after checking equal bits.
//! * `train`: one whole training run, Cholesky against CG on 7×7, and on 14×14 `u8` against
//!   `u4` (the committed file, sparse rows) and its dense-nibble copy.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use tinynewton::format::{self, Encoding, PackedDataset};
use tinynewton::{
    packed_index, packed_len, Dequant, Logistic, Rows, Settings, SolverKind, Workspace,
};

/// Weights including the bias, and samples, of the committed training files.
const M7: usize = 7 * 7 + 1;
const M14: usize = 14 * 14 + 1;
const N: usize = 1757;

type Ws7 = Workspace<M7, N, { packed_len(M7) }>;
type Ws14 = Workspace<M14, N, 0>;

/// The firmware's 7×7 settings (`C = 30`, cross-validated; see `firmware/runs/src/lib.rs`).
const CHOLESKY_7: Settings = Settings {
    solver: SolverKind::Cholesky,
    c_pos: 30.0,
    c_neg: 30.0,
    ..Settings::DEFAULT
};
/// The firmware's 14×14 settings (LIBLINEAR defaults, Newton-CG).
const CG_14: Settings = Settings {
    solver: SolverKind::Cg,
    ..Settings::DEFAULT
};

fn read(name: &str) -> Vec<u8> {
    let path = format!("{}/../data/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn parse(bytes: &[u8]) -> PackedDataset<'_> {
    format::parse(bytes).expect("committed file parses")
}

/// Trains to the optimum and returns `D = diag(C σ (1 − σ))` there, the Hessian weights the
/// solver's last iterations use.
fn hessian_weights<const M: usize, const T: usize>(
    data: &PackedDataset<'_>,
    settings: &Settings,
) -> Vec<f32> {
    let mut ws = Box::new(Workspace::<M, N, T>::new());
    tinynewton::train(ws.buffers(), data, settings, |_| {}).expect("training succeeds");
    let w = ws.weights().to_vec();
    let obj = Logistic::new(data, settings);
    let n = data.n_samples();
    let (mut u, mut z, mut g, mut dd) = (vec![0.0; M], vec![0.0; n], vec![0.0; M], vec![0.0; n]);
    obj.margins(&w, &mut u, &mut z).expect("margins");
    obj.grad(&w, &z, &mut g, &mut dd).expect("grad");
    dd
}

/// The dense Hessian build the core used before (its loop structure, over the public
/// [`Rows`] API): one rank-one update `D_i x̃_i x̃_iᵀ` per row over every entry of the triangle,
/// zeros included, with the same products `(D_i x̃_ij) x̃_ik` added row by row, so its bits must
/// equal the core's.
fn hessian_dense(data: &PackedDataset<'_>, dd: &[f32], u: &mut [f32], h: &mut [f32]) {
    let m = data.n_features();
    let dim = m + 1;
    let dequant: Dequant<'_> = data.dequant();
    let h = &mut h[..packed_len(dim)];
    h.fill(0.0);
    for (i, di) in dd.iter().enumerate() {
        let x = &mut u[..m];
        x.fill(0.0);
        data.axpy_codes(i, 1.0, x);
        for (j, xj) in x.iter_mut().enumerate() {
            let (o, s) = dequant.pair(j);
            *xj = o + s * *xj;
        }
        let x = &u[..m];
        let mut rest = &mut *h;
        for j in 0..dim {
            let Some((row, tail)) = rest.split_at_mut_checked(j + 1) else {
                break;
            };
            rest = tail;
            let xj = x.get(j).copied().unwrap_or(1.0);
            let t = *di * xj;
            let (feat, bias) = row.split_at_mut(j.min(m));
            for (hjk, xk) in feat.iter_mut().zip(x) {
                *hjk += t * *xk;
            }
            if let Some(last) = bias.first_mut() {
                *last += t * if j < m { xj } else { 1.0 };
            }
        }
    }
    for j in 0..dim {
        // Every weight regularised (the bench's settings use `BiasMode::Regularized`).
        h[packed_index(j, j)] += 1.0;
    }
}

/// Packed `u8` rows whose row kernels skip zero codes: `s + 0·u = s` and `o + a·0 = o`
/// exactly for finite `u`, `a` (and an accumulator that is never −0), so the results equal the
/// dense kernels' bit for bit.
struct SkipZeroCodes<'a>(PackedDataset<'a>);

impl Rows for SkipZeroCodes<'_> {
    fn n_samples(&self) -> usize {
        self.0.n_samples()
    }
    fn n_features(&self) -> usize {
        self.0.n_features()
    }
    fn label(&self, i: usize) -> f32 {
        self.0.label(i)
    }
    fn dequant(&self) -> Dequant<'_> {
        self.0.dequant()
    }
    fn dot_codes(&self, i: usize, u: &[f32]) -> f32 {
        let row = self.0.row_bytes(i).unwrap_or(&[]);
        let mut s = 0.0f32;
        for (&q, &uj) in row.iter().zip(u) {
            if q != 0 {
                s += f32::from(q) * uj;
            }
        }
        s
    }
    fn axpy_codes(&self, i: usize, a: f32, out: &mut [f32]) {
        let row = self.0.row_bytes(i).unwrap_or(&[]);
        for (o, &q) in out.iter_mut().zip(row) {
            if q != 0 {
                *o += a * f32::from(q);
            }
        }
    }
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

fn bench_hessian_packed(c: &mut Criterion) {
    let bytes = read("mnist-7v1-7x7-u8-train.tnds");
    let data = parse(&bytes);
    let dd = hessian_weights::<M7, { packed_len(M7) }>(&data, &CHOLESKY_7);
    let obj = Logistic::new(&data, &CHOLESKY_7);
    let mut u = vec![0.0f32; M7];
    let (mut h, mut h_dense) = (vec![0.0f32; packed_len(M7)], vec![0.0f32; packed_len(M7)]);
    obj.hessian_packed(&dd, &mut u, &mut h).expect("hessian");
    hessian_dense(&data, &dd, &mut u, &mut h_dense);
    assert_eq!(
        bits(&h),
        bits(&h_dense),
        "the kernels must agree bit for bit"
    );

    let mut group = c.benchmark_group("hessian_packed/7x7-u8");
    group.bench_function("core", |b| {
        b.iter(|| {
            obj.hessian_packed(black_box(&dd), &mut u, &mut h)
                .expect("hessian");
            black_box(&h);
        })
    });
    group.bench_function("dense-reference", |b| {
        b.iter(|| {
            hessian_dense(&data, black_box(&dd), &mut u, &mut h_dense);
            black_box(&h_dense);
        })
    });
    group.finish();
}

fn bench_hess_vec(c: &mut Criterion) {
    let bytes = read("mnist-7v1-14x14-u8-train.tnds");
    let data = parse(&bytes);
    let dd = hessian_weights::<M14, 0>(&data, &CG_14);
    let skipping = SkipZeroCodes(parse(&bytes));
    let obj = Logistic::new(&data, &CG_14);
    let obj_skip = Logistic::new(&skipping, &CG_14);
    // A fixed, sign-mixed direction of unit-order entries, like a CG search direction.
    let v: Vec<f32> = (0..M14)
        .map(|j| ((j * 37 % 101) as f32 - 50.0) / 50.0)
        .collect();
    let mut u = vec![0.0f32; M14];
    let (mut out, mut out_skip) = (vec![0.0f32; M14], vec![0.0f32; M14]);
    obj.hess_vec(&dd, &v, &mut u, &mut out).expect("hess_vec");
    obj_skip
        .hess_vec(&dd, &v, &mut u, &mut out_skip)
        .expect("hess_vec");
    assert_eq!(
        bits(&out),
        bits(&out_skip),
        "the kernels must agree bit for bit"
    );

    let mut group = c.benchmark_group("hess_vec/14x14-u8");
    group.bench_function("core", |b| {
        b.iter(|| {
            obj.hess_vec(black_box(&dd), black_box(&v), &mut u, &mut out)
                .expect("hess_vec");
            black_box(&out);
        })
    });
    group.bench_function("skip-zero-codes", |b| {
        b.iter(|| {
            obj_skip
                .hess_vec(black_box(&dd), black_box(&v), &mut u, &mut out_skip)
                .expect("hess_vec");
            black_box(&out_skip);
        })
    });
    group.finish();
}

fn bench_train(c: &mut Criterion) {
    let bytes7 = read("mnist-7v1-7x7-u8-train.tnds");
    let bytes14 = read("mnist-7v1-14x14-u8-train.tnds");
    let bytes14_u4 = read("mnist-7v1-14x14-u4-train.tnds");
    // The same codes as dense nibbles (`pack --encoding u4-dense`): the dense `u4` kernels.
    let mut bytes14_u4d = vec![0; format::converted_len(&bytes14_u4, Encoding::U4).expect("u4")];
    format::convert(&bytes14_u4, Encoding::U4, &mut bytes14_u4d).expect("u4 codes");
    let (data7, data14, data14_u4) = (parse(&bytes7), parse(&bytes14), parse(&bytes14_u4));
    let data14_u4d = parse(&bytes14_u4d);
    let mut ws7 = Box::new(Ws7::new());
    let mut ws14 = Box::new(Ws14::new());
    // Print the fingerprints once: equal to the firmware's when the kernels keep their bits.
    tinynewton::train(ws7.buffers(), &data7, &CHOLESKY_7, |_| {}).expect("train");
    tinynewton::train(ws14.buffers(), &data14, &CG_14, |_| {}).expect("train");
    println!(
        "fingerprints: 7x7 cholesky {:#018x}, 14x14 cg {:#018x}",
        tinynewton::Model::of_workspace(&ws7).fingerprint(),
        tinynewton::Model::of_workspace(&ws14).fingerprint()
    );

    let mut group = c.benchmark_group("train");
    group.sample_size(20);
    group.bench_function("7x7-u8/cholesky", |b| {
        b.iter(|| {
            tinynewton::train(ws7.buffers(), black_box(&data7), &CHOLESKY_7, |_| {}).expect("train")
        })
    });
    let cg_7 = Settings {
        solver: SolverKind::Cg,
        ..CHOLESKY_7
    };
    group.bench_function("7x7-u8/cg", |b| {
        b.iter(|| {
            tinynewton::train(ws7.buffers(), black_box(&data7), &cg_7, |_| {}).expect("train")
        })
    });
    group.bench_function("14x14-u8/cg", |b| {
        b.iter(|| {
            tinynewton::train(ws14.buffers(), black_box(&data14), &CG_14, |_| {}).expect("train")
        })
    });
    group.bench_function("14x14-u4/cg", |b| {
        b.iter(|| {
            tinynewton::train(ws14.buffers(), black_box(&data14_u4), &CG_14, |_| {}).expect("train")
        })
    });
    group.bench_function("14x14-u4-dense/cg", |b| {
        b.iter(|| {
            tinynewton::train(ws14.buffers(), black_box(&data14_u4d), &CG_14, |_| {})
                .expect("train")
        })
    });
    group.finish();
}

criterion_group!(benches, bench_hessian_packed, bench_hess_vec, bench_train);
criterion_main!(benches);
