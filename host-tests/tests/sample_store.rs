//! The sample store (issue 11, item 1) is a data source like a packed file: filled with the
//! dequantised values of a committed file's rows, it holds exactly that file's codes, and
//! training on it gives the same weights, bit for bit, as training on the file (which the
//! parity tests hold to the f64 optimum). A sliding window trains on exactly its last `N` rows.

use tinynewton::format::{self, PackedDataset};
use tinynewton::{packed_len, train, Eviction, Grid, Rows, SampleStore, Settings, Workspace};

static TRAIN: &[u8] = tinynewton::include_packed!("../../data/tables/breast-cancer-train.tnds");

const M: usize = 30;
const N: usize = 455;
type Ws = Workspace<{ M + 1 }, N, { packed_len(M + 1) }>;

/// Row `i`'s scaled values `o_j + s_j q_ij`, as the store receives readings.
fn values(data: &PackedDataset<'_>, i: usize) -> Vec<f32> {
    (0..data.n_features())
        .map(|j| data.value(i, j).unwrap())
        .collect()
}

/// The file's grid without its raw transform: the readings pushed are already scaled.
fn grid<'a>(data: &'a PackedDataset<'a>) -> Grid<'a> {
    Grid {
        transform: None,
        ..Grid::of(data).unwrap()
    }
}

fn weights_of<R: Rows>(data: &R) -> (Vec<u32>, tinynewton::Report) {
    let mut ws = Box::new(Ws::default());
    let report = train(&mut *ws, data, &Settings::DEFAULT, |_| {}).unwrap();
    (ws.weights().iter().map(|w| w.to_bits()).collect(), report)
}

#[test]
fn a_store_of_a_files_rows_trains_exactly_as_the_file() {
    let data = format::parse(TRAIN).unwrap();
    assert_eq!((data.n_samples(), data.n_features()), (N, M));
    let (mut codes, mut classes) = (vec![0u8; N * M], vec![0u8; N]);
    let mut store =
        SampleStore::new(&mut codes, &mut classes, grid(&data), Eviction::Fifo).unwrap();
    for i in 0..N {
        store.push(&values(&data, i), data.class(i)).unwrap();
    }
    assert_eq!(store.clamped(), 0);
    for i in 0..N {
        assert_eq!(
            store.codes(i).unwrap(),
            data.row_bytes(i).unwrap(),
            "row {i}"
        );
        assert_eq!(store.label(i), data.label(i));
    }
    let (from_file, file_report) = weights_of(&data);
    let (from_store, store_report) = weights_of(&store);
    assert_eq!(file_report.status, tinynewton::Status::Converged);
    assert_eq!(from_store, from_file);
    assert_eq!(store_report, file_report);
}

/// The packed rows `first..N` only (a window's content), read in place.
struct Tail<'a> {
    data: &'a PackedDataset<'a>,
    first: usize,
}

impl Rows for Tail<'_> {
    fn n_samples(&self) -> usize {
        N - self.first
    }
    fn n_features(&self) -> usize {
        M
    }
    fn label(&self, i: usize) -> f32 {
        self.data.label(self.first + i)
    }
    fn dequant(&self) -> tinynewton::Dequant<'_> {
        self.data.dequant()
    }
    fn dot_codes(&self, i: usize, u: &[f32]) -> f32 {
        self.data.dot_codes(self.first + i, u)
    }
    fn axpy_codes(&self, i: usize, a: f32, out: &mut [f32]) {
        self.data.axpy_codes(self.first + i, a, out)
    }
}

#[test]
fn a_sliding_window_trains_on_its_last_rows() {
    // Capacity 200 over the 455-row stream: the window holds rows 255..455 in ring order
    // (slot k holds the row ≡ k mod 200). Training visits the samples in slot order, so the
    // sums run in another order than over rows 255..455 in stream order: the two runs minimise
    // the same f, and agree to their stopping tolerance, not bit for bit. With the bias
    // regularised λ_min(H) ≥ 1, so each run's distance to the optimum is at most its final
    // ‖∇f‖; the f32 weights add round-off of a few ulps of ‖w‖ (1e-6·‖w‖ is ~8 ulps).
    // Measured: ‖Δw‖ ≈ 1.2e-6 with ‖w‖ ≈ 6.1.
    const CAP: usize = 200;
    let data = format::parse(TRAIN).unwrap();
    let (mut codes, mut classes) = (vec![0u8; CAP * M], vec![0u8; CAP]);
    let mut store =
        SampleStore::new(&mut codes, &mut classes, grid(&data), Eviction::Fifo).unwrap();
    for i in 0..N {
        store.push(&values(&data, i), data.class(i)).unwrap();
    }
    assert_eq!((store.len(), store.seen()), (CAP, N as u64));
    for slot in 0..CAP {
        let row = N - CAP + (slot + CAP - (N - CAP) % CAP) % CAP;
        assert_eq!(
            store.codes(slot).unwrap(),
            data.row_bytes(row).unwrap(),
            "slot {slot}"
        );
    }
    let tail = Tail {
        data: &data,
        first: N - CAP,
    };
    let (w_store, r_store) = weights_of(&store);
    let (w_tail, r_tail) = weights_of(&tail);
    assert_eq!(r_store.status, tinynewton::Status::Converged);
    assert_eq!(r_tail.status, tinynewton::Status::Converged);
    let (a, b): (Vec<f32>, Vec<f32>) = (
        w_store.iter().map(|&w| f32::from_bits(w)).collect(),
        w_tail.iter().map(|&w| f32::from_bits(w)).collect(),
    );
    let norm = b.iter().map(|w| w * w).sum::<f32>().sqrt();
    let diff = a
        .iter()
        .zip(&b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f32>()
        .sqrt();
    let bound = r_store.grad_norm + r_tail.grad_norm + 1e-6 * norm;
    assert!(diff <= bound, "‖Δw‖ = {diff} > {bound} (‖w‖ = {norm})");
}
