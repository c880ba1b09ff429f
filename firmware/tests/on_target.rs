//! On-target tests under `defmt-test`: `cargo test --release` in `firmware/` builds them for the
//! board and runs them under QEMU through the cargo runner (`scripts/qemu-run.sh`); the
//! harness exits 0 after the last test, and a failed assertion panics, which panic-probe and
//! the library's HardFault handler turn into exit status 1 (`tests/must_fail.rs` shows it).
//!
//! Expected values come from the data's definition or by hand, never from the code's own
//! output: the corrupted file must fail on the payload CRC, the trained model must satisfy the
//! optimality condition evaluated independently in `f64`, the store's codes are worked out
//! from its grid, the stack measurement must see a frame of known size.
#![no_std]
#![no_main]

// The board's defmt transport, panic handler and HardFault handler.
use tinynewton_firmware as _;

/// A 4-byte aligned byte array: the packed format requires that alignment of a file in RAM.
#[repr(C, align(4))]
pub struct Aligned<const L: usize>(pub [u8; L]);

/// The smallest committed binary pair: iris setosa vs the rest, 4 features.
pub const IRIS_TRAIN: &[u8] =
    tinynewton::include_packed!("../../data/tables/iris-setosa-train.tnds");
pub const IRIS_TEST: &[u8] = tinynewton::include_packed!("../../data/tables/iris-setosa-test.tnds");
/// Bytes of the training file.
pub const IRIS_TRAIN_LEN: usize = include_bytes!("../../data/tables/iris-setosa-train.tnds").len();

#[defmt_test::tests]
mod tests {
    use core::hint::black_box;

    use tinynewton::format::{self, FormatError};
    use tinynewton::{
        Dequant, Eviction, Grid, Pushed, Rows, SampleStore, Settings, Status, StoreError, Workspace,
    };
    use tinynewton_firmware::mem;
    use tinynewton_runs::{self as runs, Files, RunError};

    use super::{Aligned, IRIS_TEST, IRIS_TRAIN, IRIS_TRAIN_LEN};

    /// The former `corrupt-dataset` build: a RAM copy of a training file with one payload byte
    /// flipped (header intact, so only the payload CRC can catch it) must be refused with the
    /// typed error, by the parser and by the runs' `parse`, which the demo logs and fails on.
    #[test]
    fn flipped_payload_byte_is_a_payload_crc_error() {
        let Some(copy) =
            cortex_m::singleton!(: Aligned<IRIS_TRAIN_LEN> = Aligned([0; IRIS_TRAIN_LEN]))
        else {
            defmt::panic!("the RAM copy was already taken");
        };
        copy.0.copy_from_slice(IRIS_TRAIN);
        // Control: the unmodified copy parses.
        let header = match format::parse(&copy.0) {
            Ok(data) => *data.header(),
            Err(e) => defmt::panic!("the committed file does not parse: {}", e),
        };
        let (offset, len) = (header.payload_offset as usize, header.payload_len as usize);
        defmt::assert!(len > 0 && offset + len == IRIS_TRAIN_LEN);
        copy.0[offset + len / 2] ^= 0xFF;
        defmt::assert_eq!(format::parse(&copy.0).err(), Some(FormatError::PayloadCrc));
        let files = Files {
            name: "iris-setosa (one payload byte flipped)",
            train: &copy.0,
            test: IRIS_TEST,
        };
        defmt::assert_eq!(
            runs::parse(&files).err(),
            Some(RunError::Format {
                split: "train",
                error: FormatError::PayloadCrc,
            })
        );
    }

    /// Trains iris setosa vs rest on the board (LIBLINEAR's defaults, as `TINYNEWTON_DATA`
    /// runs do) and checks the result against the mathematics, evaluated here in `f64` from the
    /// dequantised data: the gradient of `f(w) = ½‖w‖² + Σ log(1 + exp(−y x̃ᵀw))` at the
    /// trained weights is at most 1e-3 of its value at 0. (The solver stops at 1e-5 of its own
    /// `f32` gradient; 100× slack covers that gradient's `f32` rounding: 4 features, 120-odd
    /// terms of relative error ≤ 1e-7 each.) Setosa is linearly separable from the other two
    /// species with a wide margin, so a model this close to the optimum classifies every test
    /// flower.
    #[test]
    fn trains_iris_setosa_to_the_optimum() {
        let files = Files {
            name: "iris-setosa",
            train: IRIS_TRAIN,
            test: IRIS_TEST,
        };
        let (train, test) = match runs::parse(&files) {
            Ok(pair) => pair,
            Err(e) => defmt::panic!("{}", e),
        };
        let m = train.n_features();
        defmt::assert_eq!(m, 4);
        let mut ws = Workspace::<5, 150, 15>::new();
        let settings = Settings::DEFAULT;
        let report = match runs::train(&mut ws, &train, &settings, |_| {}) {
            Ok(r) => r,
            Err(e) => defmt::panic!("{}", e),
        };
        defmt::assert_eq!(report.status, Status::Converged);
        let w = ws.weights();
        defmt::assert_eq!(w.len(), m + 1);

        // x̃_i in f64: the codes read one feature at a time (unit vectors), dequantised.
        let dequant: Dequant<'_> = train.dequant();
        let row = |i: usize| {
            let mut x = [0.0f64; 5];
            for (j, xj) in x.iter_mut().enumerate().take(m) {
                let mut e = [0.0f32; 4];
                e[j] = 1.0;
                let q = f64::from(train.dot_codes(i, &e));
                let (o, s) = dequant.pair(j);
                *xj = f64::from(o) + f64::from(s) * q;
            }
            x[m] = 1.0;
            x
        };
        let grad_norm = |w: &[f64; 5]| {
            let mut g = *w; // the regulariser's gradient (bias regularised, LIBLINEAR's -B 1)
            for i in 0..train.n_samples() {
                let x = row(i);
                let y = f64::from(train.label(i));
                let z: f64 = x.iter().zip(w).map(|(a, b)| a * b).sum();
                // d/dz log(1 + exp(−y z)) = −y σ(−y z)
                let coef = -y / (1.0 + libm::exp(y * z));
                for (gj, xj) in g.iter_mut().zip(&x) {
                    *gj += coef * xj;
                }
            }
            libm::sqrt(g.iter().map(|v| v * v).sum())
        };
        let mut w64 = [0.0f64; 5];
        for (a, b) in w64.iter_mut().zip(w) {
            *a = f64::from(*b);
        }
        let at_optimum = grad_norm(&w64);
        let at_zero = grad_norm(&[0.0; 5]);
        defmt::info!(
            "iris-setosa: {=u32} iterations, |grad f(w)| / |grad f(0)| = {=f64} (f64)",
            report.iterations,
            at_optimum / at_zero
        );
        defmt::assert!(at_optimum <= 1e-3 * at_zero);

        let e = match runs::evaluate(&ws, &test) {
            Ok(e) => e,
            Err(e) => defmt::panic!("{}", e),
        };
        defmt::assert_eq!(e.test_correct, e.test_total);
    }

    /// The sample store on the board's FPU: codes worked out by hand from a grid
    /// `x = 0.1·q`, clamping counted, a bad reading refused without a trace, FIFO eviction.
    #[test]
    fn sample_store_quantises_clamps_refuses_and_evicts() {
        let mut codes = [0u8; 3 * 2];
        let mut classes = [0u8; 3];
        let grid = Grid {
            n_features: 2,
            n_classes: 2,
            max_code: 255,
            dequant: Dequant::Shared {
                offset: 0.0,
                scale: 0.1,
            },
            transform: None,
        };
        let mut store = match SampleStore::new(&mut codes, &mut classes, grid, Eviction::Fifo) {
            Ok(s) => s,
            Err(e) => defmt::panic!("{}", e),
        };
        // 0.0 → 0, 25.5 → 255 (the top of the grid), both on the grid.
        defmt::assert_eq!(store.push(&[0.0, 25.5], 0), Ok(Pushed::Added { slot: 0 }));
        // 0.3 → 3; 30.0 is past the top: clamped to 255 and counted; −1 below 0: clamped to 0.
        defmt::assert_eq!(store.push(&[0.3, 30.0], 1), Ok(Pushed::Added { slot: 1 }));
        defmt::assert_eq!(store.push(&[-1.0, 1.26], 0), Ok(Pushed::Added { slot: 2 }));
        defmt::assert_eq!(store.codes(0), Some(&[0u8, 255][..]));
        defmt::assert_eq!(store.codes(1), Some(&[3u8, 255][..]));
        defmt::assert_eq!(store.codes(2), Some(&[0u8, 13][..]));
        defmt::assert_eq!(store.clamped(), 2);
        // Refused readings change nothing.
        defmt::assert_eq!(
            store.push(&[1.0, f32::NAN], 0),
            Err(StoreError::NonFinite { feature: 1 })
        );
        defmt::assert_eq!(
            store.push(&[1.0], 0),
            Err(StoreError::WrongLength {
                expected: 2,
                got: 1
            })
        );
        defmt::assert_eq!(
            store.push(&[1.0, 1.0], 2),
            Err(StoreError::BadClass {
                class: 2,
                n_classes: 2
            })
        );
        defmt::assert_eq!((store.len(), store.seen(), store.clamped()), (3, 3, 2));
        // Full: the next sample replaces the oldest (slot 0).
        defmt::assert_eq!(store.push(&[0.5, 0.5], 1), Ok(Pushed::Replaced { slot: 0 }));
        defmt::assert_eq!(store.codes(0), Some(&[5u8, 5][..]));
        defmt::assert_eq!(store.label(0), -1.0);
        defmt::assert_eq!(store.label(1), -1.0);
        defmt::assert_eq!(store.label(2), 1.0);
    }

    /// The stack high-water mark sees a frame of known size: a call that writes an 8 KiB local
    /// array (deeper than anything before it) moves the mark to at least its depth.
    #[test]
    fn peak_stack_sees_a_deep_frame() {
        #[inline(never)]
        fn deep() -> usize {
            let mut a = [0u32; 2048];
            for (i, v) in a.iter_mut().enumerate() {
                *v = i as u32;
            }
            black_box(&mut a);
            mem::stack_depth()
        }
        let before = mem::peak_stack();
        let depth = black_box(deep());
        let after = mem::peak_stack();
        defmt::info!(
            "peak stack {=usize} before, {=usize} after a call {=usize} bytes deep",
            before,
            after,
            depth
        );
        defmt::assert!(depth >= 8192);
        defmt::assert!(before < depth);
        defmt::assert!(after >= depth);
        defmt::assert!(mem::static_ram() + after <= mem::ram_total());
    }

    /// The three assembly row loops of `tinynewton::format::dsp` give the bits of their
    /// plain-Rust twins (what the host runs): every word count from 0 to 19 and 64 (odd counts
    /// take the single word before the unrolled pairs), operands of unequal lengths (the loops
    /// take the shortest), pseudo-random codes and halves, and the extremes: codes 0 and 255
    /// against halves ±32767 and −32768, sums that wrap (the `SMLAD` Q-flag cases), and `f32`
    /// weights of both signs, zero and subnormal.
    #[test]
    fn dsp_loops_match_the_plain_rust() {
        use tinynewton::format::dsp;
        // SplitMix64: a fixed sequence.
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            (z ^ (z >> 31)) as u32
        };
        const W: usize = 64;
        let halves = [0u32, 1, 0x7FFF, 0x8000, 0x8001, 0xFFFF, 0x00FF];
        let weights = [0.0f32, -0.0, 1.0, -3.5, 1e-40, 6.1e4, -2.5e-3];
        let mut cases = 0u32;
        for round in 0..24u32 {
            let extreme = round % 3 == 0;
            let mut row = [[0u8; 4]; W];
            let mut row2 = [[0u8; 4]; W];
            let mut k = [[0u32; 4]; W];
            let mut acc0 = [[0i32; 4]; W];
            let mut out0 = [[0f32; 4]; W];
            for j in 0..W {
                let (r, r2) = if extreme {
                    (0xFF00_FFFF_u32.rotate_left(j as u32 * 8), 0xFFFF_FFFF)
                } else {
                    (next(), next())
                };
                row[j] = r.to_le_bytes();
                row2[j] = r2.to_le_bytes();
                for kk in k[j].iter_mut() {
                    *kk = if extreme {
                        halves[next() as usize % halves.len()]
                            | (halves[next() as usize % halves.len()] << 16)
                    } else {
                        next()
                    };
                }
                for a in acc0[j].iter_mut() {
                    *a = if extreme {
                        i32::MAX - (next() % 4) as i32
                    } else {
                        next() as i32
                    };
                }
                for o in out0[j].iter_mut() {
                    *o = (next() as i32 as f32) * 1e-6;
                }
            }
            let c = if extreme { 0x8000_7FFF } else { next() };
            let a = weights[round as usize % weights.len()];
            let a2 = (next() as i32 as f32) * 1e-7;
            for words in (0..20).chain([W]) {
                // The second row and the accumulators one word longer than the first row
                // where there is room: the loops must stop at the shortest.
                let long = (words + 1).min(W);
                let (r, r2) = (black_box(&row[..words]), black_box(&row2[..long]));
                defmt::assert_eq!(
                    dsp::dot_row(r, &k[..long]),
                    dsp::dot_row_plain(r, &k[..long])
                );
                let (mut acc, mut acc_plain) = (acc0, acc0);
                dsp::update_rows(r, r2, c, &mut acc[..long]);
                dsp::update_rows_plain(r, r2, c, &mut acc_plain[..long]);
                defmt::assert_eq!(acc, acc_plain);
                let (mut out, mut out_plain) = (out0, out0);
                dsp::axpy_rows2_u8(r, r2, a, a2, &mut out[..long]);
                dsp::axpy_rows2_u8_plain(r, r2, a, a2, &mut out_plain[..long]);
                for (o, p) in out.as_flattened().iter().zip(out_plain.as_flattened()) {
                    defmt::assert_eq!(o.to_bits(), p.to_bits());
                }
                cases += 1;
            }
        }
        defmt::info!("dsp loops: {=u32} cases equal to the plain Rust", cases);
    }
}
