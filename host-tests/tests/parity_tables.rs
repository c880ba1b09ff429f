//! Issue "your own data": the core on the committed scikit-learn tables (per-feature scaled,
//! `u8`), each against the f64 reference solved on the same dequantised data, with LIBLINEAR's
//! defaults (`C = 1`, bias regularised) and the solver `Auto` picks (Cholesky up to 64 weights,
//! CG above):
//!
//! * objective relative error ≤ 1e-6 and identical predictions on every test sample;
//! * the test accuracies printed beside the published single-pass on-MCU figures of Train++ on
//!   the same data sets (not asserted: they are another method's numbers on another split).
//!
//! `cargo test -p host-tests --release --test parity_tables -- --nocapture` prints the table.

use host_tests::{newton, problem_from_rows, Bias};
use tinynewton::format::{self, PackedDataset};
use tinynewton::{packed_len, Settings, Workspace};

/// The reference stops at ‖∇f‖ ≤ 1e-10·‖∇f(0)‖: its own optimality gap (≤ ½‖∇f‖², as
/// λ_min(H) ≥ 1 with the bias regularised) is negligible against the 1e-6 bound.
const REF_TOL: f64 = 1e-10;
/// The acceptance bound on the objective's relative error.
const OBJECTIVE_REL_TOL: f64 = 1e-6;

struct Table {
    name: &'static str,
    train: &'static [u8],
    test: &'static [u8],
    /// Train++'s published single-pass on-MCU test accuracy on the same task, in percent.
    train_plus_plus: f64,
}

const TABLES: [Table; 3] = [
    Table {
        name: "digits 6-vs-rest",
        train: tinynewton::include_packed!("../../data/tables/digits6-vs-rest-train.tnds"),
        test: tinynewton::include_packed!("../../data/tables/digits6-vs-rest-test.tnds"),
        train_plus_plus: 98.0,
    },
    Table {
        name: "breast cancer",
        train: tinynewton::include_packed!("../../data/tables/breast-cancer-train.tnds"),
        test: tinynewton::include_packed!("../../data/tables/breast-cancer-test.tnds"),
        train_plus_plus: 85.0,
    },
    Table {
        name: "iris setosa",
        train: tinynewton::include_packed!("../../data/tables/iris-setosa-train.tnds"),
        test: tinynewton::include_packed!("../../data/tables/iris-setosa-test.tnds"),
        train_plus_plus: 97.33,
    },
];

/// Large enough for every table (digits: 64 features + bias, 1437 samples), with a full
/// triangle so `Auto` may pick Cholesky where the weight count allows.
type Ws = Workspace<65, 2048, { packed_len(65) }>;

fn parse(bytes: &'static [u8]) -> PackedDataset<'static> {
    format::parse(bytes).expect("the committed tables parse")
}

#[test]
fn tables_reach_the_f64_optimum() {
    let mut ws: Box<Ws> = Box::new(Workspace::new());
    let settings = Settings::DEFAULT;
    println!(
        "{:<18} {:>6} {:>9} {:>14} {:>16} {:>9} {:>7} {:>9} {:>9} {:>9}",
        "table",
        "solver",
        "it (ref)",
        "f (f32)",
        "f* (f64)",
        "rel err",
        "agree",
        "test",
        "ours %",
        "Train++ %"
    );
    for table in &TABLES {
        let (train, test) = (parse(table.train), parse(table.test));
        let report = tinynewton::train(ws.buffers(), &train, &settings, |_| {})
            .expect("training a committed table");
        let model = tinynewton::Model::of_workspace(&ws);
        let problem = problem_from_rows(&train, 1.0, 1.0, Bias::Regularized);
        let reference = newton(&problem, None, REF_TOL);
        let rel = (f64::from(report.objective) - reference.objective).abs() / reference.objective;
        // The test split as a reference problem, only for its decision values `X̃w`.
        let z_ref = problem_from_rows(&test, 1.0, 1.0, Bias::Regularized).decisions(&reference.w);
        let mut agree = 0;
        for (i, z) in z_ref.iter().enumerate() {
            let ours = model.label_row(&test, i).expect("a test row");
            agree += usize::from((ours > 0) == (*z > 0.0));
        }
        let (correct, total) = model.accuracy(&test).expect("test accuracy");
        let ours = 100.0 * correct as f64 / total as f64;
        println!(
            "{:<18} {:>6} {:>4} ({:>2}) {:>14.7} {:>16.10} {:>9.2e} {:>3}/{:<3} {:>4}/{:<4} {:>9.2} {:>9.2}",
            table.name,
            format!("{:?}", report.solver),
            report.iterations,
            reference.iterations,
            report.objective,
            reference.objective,
            rel,
            agree,
            total,
            correct,
            total,
            ours,
            table.train_plus_plus
        );
        assert_eq!(
            report.status,
            tinynewton::Status::Converged,
            "{}: {report:?}",
            table.name
        );
        assert!(
            rel <= OBJECTIVE_REL_TOL,
            "{}: objective rel err {rel:e}",
            table.name
        );
        assert_eq!(
            agree, total,
            "{}: test predictions differ from the f64 optimum",
            table.name
        );
    }
}
