//! Every refusal of issue 3 item 8, reached through the public API as a typed error (never a
//! panic): dataset larger than the capacities, feature-count mismatches, empty data, a single
//! class, NaN/inf in the data, the dequantisation or the settings, bad labels and weights.
//! A refused call must also leave the workspace's weights untouched.

use tinynewton::{
    packed_len, BiasMode, DataError, DenseRows, Dequant, Error, FeatureTable, Model, ModelError,
    Rows, Settings, SolverKind, Workspace,
};

/// Room for 4 features + bias, 8 samples, and the packed triangle of 5 weights.
type Ws = Workspace<5, 8, { packed_len(5) }>;

/// A well-formed 6-sample, 2-feature problem with both classes.
const X: [f32; 12] = [
    0.0, 1.0, 1.0, 0.5, 2.0, -1.0, -1.0, 0.3, 0.2, -2.0, -0.5, -0.5,
];
const Y: [i8; 6] = [1, 1, 1, -1, -1, -1];

fn good() -> DenseRows<'static> {
    DenseRows::new(&X, &Y, 2).expect("well-formed")
}

/// Rows with whatever content a test needs, including what `DenseRows::new` would refuse
/// (labels other than ±1, NaN codes) and a per-feature dequantisation table: what a user's own
/// `Rows` implementation might hand the core.
struct Custom {
    x: Vec<f32>,
    y: Vec<f32>,
    m: usize,
    table: Option<Vec<u8>>,
}

impl Custom {
    fn new(x: &[f32], y: &[f32], m: usize) -> Self {
        Self {
            x: x.to_vec(),
            y: y.to_vec(),
            m,
            table: None,
        }
    }

    fn with_table(mut self, pairs: &[(f32, f32)]) -> Self {
        let mut bytes = Vec::new();
        for (o, s) in pairs {
            bytes.extend_from_slice(&o.to_le_bytes());
            bytes.extend_from_slice(&s.to_le_bytes());
        }
        self.table = Some(bytes);
        self
    }

    fn row(&self, i: usize) -> &[f32] {
        &self.x[i * self.m..(i + 1) * self.m]
    }
}

impl Rows for Custom {
    fn n_samples(&self) -> usize {
        self.y.len()
    }
    fn n_features(&self) -> usize {
        self.m
    }
    fn label(&self, i: usize) -> f32 {
        self.y[i]
    }
    fn dequant(&self) -> Dequant<'_> {
        match &self.table {
            Some(bytes) => Dequant::PerFeature(FeatureTable::new(bytes).expect("8 bytes a pair")),
            None => Dequant::Identity,
        }
    }
    fn dot_codes(&self, i: usize, u: &[f32]) -> f32 {
        self.row(i).iter().zip(u).map(|(a, b)| a * b).sum()
    }
    fn axpy_codes(&self, i: usize, a: f32, out: &mut [f32]) {
        for (o, x) in out.iter_mut().zip(self.row(i)) {
            *o += a * x;
        }
    }
}

fn labels_f32() -> Vec<f32> {
    Y.iter().map(|&y| f32::from(y)).collect()
}

/// Trains `data` in a fresh workspace with `settings`; the error, if any.
fn train_err<R: Rows + ?Sized>(data: &R, settings: &Settings) -> Option<Error> {
    let mut ws = Ws::new();
    tinynewton::train(ws.buffers(), data, settings, |_| {}).err()
}

#[test]
fn the_well_formed_problem_trains() {
    // The control: every refusal below differs from this call in exactly one respect.
    let mut ws = Ws::new();
    let report =
        tinynewton::train(ws.buffers(), &good(), &Settings::DEFAULT, |_| {}).expect("trains");
    assert_eq!(report.status, tinynewton::Status::Converged);
    let custom = Custom::new(&X, &labels_f32(), 2).with_table(&[(0.0, 1.0), (0.0, 1.0)]);
    assert!(train_err(&custom, &Settings::DEFAULT).is_none());
}

#[test]
fn more_samples_than_capacity() {
    let x = [0.5f32; 9 * 2];
    let y = [1i8, -1, 1, -1, 1, -1, 1, -1, 1];
    let rows = DenseRows::new(&x, &y, 2).expect("well-formed");
    assert_eq!(
        train_err(&rows, &Settings::DEFAULT),
        Some(Error::TooManySamples {
            samples: 9,
            capacity: 8
        })
    );
}

#[test]
fn more_features_than_capacity() {
    let x = [0.5f32; 2 * 5];
    let rows = DenseRows::new(&x, &[1, -1], 5).expect("well-formed");
    assert_eq!(
        train_err(&rows, &Settings::DEFAULT),
        Some(Error::TooManyWeights {
            weights: 6,
            capacity: 5
        })
    );
}

#[test]
fn cholesky_without_room_for_the_triangle() {
    let mut ws: Workspace<5, 8, 2> = Workspace::new();
    let settings = Settings {
        solver: SolverKind::Cholesky,
        ..Settings::DEFAULT
    };
    assert_eq!(
        tinynewton::train(ws.buffers(), &good(), &settings, |_| {}).err(),
        Some(Error::TriangleTooSmall {
            needed: packed_len(3),
            capacity: 2
        })
    );
    // `Auto` (and `Cg`) need no triangle: the same workspace trains with CG.
    let report =
        tinynewton::train(ws.buffers(), &good(), &Settings::DEFAULT, |_| {}).expect("CG fits");
    assert_eq!(report.solver, SolverKind::Cg);
}

#[test]
fn feature_count_mismatches() {
    let mut ws = Ws::new();
    // A warm start from weights of another problem (3 weights expected: 2 features + bias).
    ws.set_weights(&[0.1, 0.2, 0.3, 0.4]).expect("fits M");
    let warm = Settings {
        warm_start: true,
        ..Settings::DEFAULT
    };
    assert_eq!(
        tinynewton::train(ws.buffers(), &good(), &warm, |_| {}).err(),
        Some(Error::LengthMismatch {
            expected: 3,
            got: 4
        })
    );
    // The refused call left the weights as they were.
    assert_eq!(ws.weights(), &[0.1, 0.2, 0.3, 0.4]);
    // More warm-start weights than the capacity M.
    assert_eq!(
        ws.set_weights(&[0.0; 6]),
        Err(Error::TooManyWeights {
            weights: 6,
            capacity: 5
        })
    );
    // The objective kernels check their vectors too.
    let mut out = [0.0f32; 3];
    assert_eq!(
        tinynewton::evaluate(
            ws.buffers(),
            &good(),
            &Settings::DEFAULT,
            &[0.0; 2],
            tinynewton::Evaluate {
                hess_vec: Some((&[0.0; 3], &mut out)),
                ..Default::default()
            }
        )
        .map(|_| ()),
        Err(Error::LengthMismatch {
            expected: 3,
            got: 2
        })
    );
    // A model of 2 features asked about 3-feature data, or a 3-value feature vector.
    let model: Model<4> = Model::new(&[1.0, -1.0], 0.5).expect("fits");
    let x3 = [0.5f32; 6];
    let rows3 = DenseRows::new(&x3, &[1, -1], 3).expect("well-formed");
    assert!(matches!(
        model.decision_row(&rows3, 0),
        Err(ModelError::FeatureCountMismatch { .. })
    ));
    assert!(matches!(
        model.decision(&[1.0, 2.0, 3.0]),
        Err(ModelError::FeatureCountMismatch { .. })
    ));
    assert!(matches!(
        model.accuracy(&rows3),
        Err(ModelError::FeatureCountMismatch { .. })
    ));
}

#[test]
fn empty_data() {
    let rows = DenseRows::new(&[], &[], 2).expect("an empty set is well-formed");
    assert_eq!(train_err(&rows, &Settings::DEFAULT), Some(Error::Empty));
}

#[test]
fn a_single_class() {
    let rows = DenseRows::new(&X, &[1; 6], 2).expect("well-formed");
    assert_eq!(
        train_err(&rows, &Settings::DEFAULT),
        Some(Error::SingleClass)
    );
    let rows = DenseRows::new(&X, &[-1; 6], 2).expect("well-formed");
    assert_eq!(
        train_err(&rows, &Settings::DEFAULT),
        Some(Error::SingleClass)
    );
}

#[test]
fn labels_other_than_plus_minus_one() {
    // DenseRows refuses them at construction…
    let mut y = Y;
    y[4] = 0;
    assert_eq!(
        DenseRows::new(&X, &y, 2).err(),
        Some(DataError::BadLabel { sample: 4 })
    );
    // …and the core refuses them from any other `Rows`.
    let mut y = labels_f32();
    y[4] = 0.5;
    assert_eq!(
        train_err(&Custom::new(&X, &y, 2), &Settings::DEFAULT),
        Some(Error::BadLabel { sample: 4 })
    );
}

#[test]
fn nan_and_infinite_data() {
    for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
        let mut x = X;
        x[7] = bad; // sample 3, feature 1
        assert_eq!(
            DenseRows::new(&x, &Y, 2).err(),
            Some(DataError::NonFinite {
                sample: 3,
                feature: 1
            })
        );
        assert_eq!(
            train_err(&Custom::new(&x, &labels_f32(), 2), &Settings::DEFAULT),
            Some(Error::NonFiniteData {
                sample: 3,
                feature: 1
            })
        );
    }
    // Finite codes whose dequantised value overflows: o + s·q = 3e38 + 3e38·2 = inf.
    let huge = Custom::new(&X, &labels_f32(), 2).with_table(&[(0.0, 1.0), (3e38, 3e38)]);
    assert_eq!(
        train_err(&huge, &Settings::DEFAULT),
        Some(Error::NonFiniteData {
            sample: 0,
            feature: 1
        })
    );
}

#[test]
fn nan_and_infinite_dequantisation() {
    for (feature, pair) in [(0, (f32::NAN, 1.0)), (1, (0.0, f32::INFINITY))] {
        let mut pairs = [(0.0, 1.0); 2];
        pairs[feature] = pair;
        let rows = Custom::new(&X, &labels_f32(), 2).with_table(&pairs);
        assert_eq!(
            train_err(&rows, &Settings::DEFAULT),
            Some(Error::NonFiniteDequant { feature })
        );
    }
}

#[test]
fn costs_not_positive_or_not_finite() {
    for c in [0.0, -1.0, f32::NAN, f32::INFINITY] {
        for settings in [
            Settings::with_c(c),
            Settings {
                c_pos: c,
                ..Settings::DEFAULT
            },
            Settings {
                c_neg: c,
                bias: BiasMode::Free,
                ..Settings::DEFAULT
            },
        ] {
            assert_eq!(
                train_err(&good(), &settings),
                Some(Error::BadCost),
                "C = {c}"
            );
        }
    }
}

#[test]
fn epsilon_not_positive_or_not_finite() {
    for epsilon in [0.0, -1e-5, f32::NAN, f32::INFINITY] {
        let settings = Settings {
            epsilon,
            ..Settings::DEFAULT
        };
        assert_eq!(
            train_err(&good(), &settings),
            Some(Error::BadEpsilon),
            "ε = {epsilon}"
        );
    }
}

#[test]
fn zero_iteration_limits() {
    for settings in [
        Settings {
            max_iter: 0,
            ..Settings::DEFAULT
        },
        Settings {
            max_cg_iter: 0,
            ..Settings::DEFAULT
        },
        Settings {
            max_line_search: 0,
            ..Settings::DEFAULT
        },
    ] {
        assert_eq!(
            train_err(&good(), &settings),
            Some(Error::BadIterationLimit)
        );
    }
}

#[test]
fn nan_and_infinite_warm_start_weights() {
    let mut ws = Ws::new();
    tinynewton::train(ws.buffers(), &good(), &Settings::DEFAULT, |_| {}).expect("trains");
    let trained = ws.weights().to_vec();
    for bad in [f32::NAN, f32::INFINITY] {
        assert_eq!(
            ws.set_weights(&[0.0, bad, 0.0]),
            Err(Error::NonFiniteWeights { index: 1 })
        );
        // Refused before anything was copied.
        assert_eq!(ws.weights(), trained.as_slice());
    }
    // A refused training call (bad settings) leaves the trained weights in place too.
    assert_eq!(
        tinynewton::train(ws.buffers(), &good(), &Settings::with_c(-1.0), |_| {}).err(),
        Some(Error::BadCost)
    );
    assert_eq!(ws.weights(), trained.as_slice());
}
