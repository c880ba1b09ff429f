//! Writer → parser → dequantise on synthetic images, against pooled values computed here in
//! f64: every value must be within half a quantisation step, and the `Rows` kernels must agree
//! with an f64 dot product over the dequantised values.

use tinynewton::format::{self, Codes, DatasetSpec, Split};
use tinynewton::{Dequant, FeatureTable, Rows};

const SIDE: usize = 28;
const N: usize = 40;

/// Deterministic 28x28 "images" with the full byte range (an LCG; any bytes do).
fn images() -> Vec<u8> {
    let mut s = 12_345u32;
    (0..N * SIDE * SIDE)
        .map(|_| {
            s = s.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (s >> 23) as u8
        })
        .collect()
}

/// Block means of `k × k` pixels divided by 255, in f64.
fn pooled(pixels: &[u8], k: usize) -> Vec<f64> {
    let side = SIDE / k;
    let mut out = Vec::with_capacity(N * side * side);
    for img in pixels.chunks(SIDE * SIDE) {
        for by in 0..side {
            for bx in 0..side {
                let mut sum = 0.0;
                for dy in 0..k {
                    for dx in 0..k {
                        sum += f64::from(img[(by * k + dy) * SIDE + bx * k + dx]);
                    }
                }
                out.push(sum / (k * k) as f64 / 255.0);
            }
        }
    }
    out
}

fn labels() -> Vec<i8> {
    (0..N)
        .map(|i| if i.is_multiple_of(3) { 1 } else { -1 })
        .collect()
}

fn spec<'a>(
    labels: &'a [i8],
    codes: Codes<'a>,
    side: usize,
    dequant: Dequant<'a>,
) -> DatasetSpec<'a> {
    DatasetSpec {
        m: side * side,
        width: side as u16,
        height: side as u16,
        split: Split::All,
        pos_label: 7,
        neg_label: 1,
        dequant,
        labels,
        codes,
    }
}

/// Checks values against `x` within `half_step`, and both kernels against f64.
fn check(bytes: &[u8], x: &[f64], half_step: f64) {
    let ds = format::parse(bytes).unwrap();
    let m = ds.n_features();
    let u: Vec<f32> = (0..m)
        .map(|j| ((j * 37) % 11) as f32 / 11.0 - 0.5)
        .collect();
    for i in 0..N {
        assert_eq!(ds.label(i), if i.is_multiple_of(3) { 1.0 } else { -1.0 });
        let deq = ds.dequant();
        let mut exact = 0.0f64;
        for j in 0..m {
            let v = f64::from(ds.value(i, j).unwrap());
            assert!(
                (v - x[i * m + j]).abs() <= half_step,
                "sample {i} feature {j}: {v} vs {}",
                x[i * m + j]
            );
            exact += v * f64::from(u[j]);
        }
        // Σ_j u_j (o_j + s_j q_ij) = Σ_j (u_j s_j) q_ij + Σ_j u_j o_j: the folding a solver does.
        let us: Vec<f32> = (0..m).map(|j| u[j] * deq.pair(j).1).collect();
        let bias: f32 = (0..m).map(|j| u[j] * deq.pair(j).0).sum();
        let folded = f64::from(ds.dot_codes(i, &us) + bias);
        // f32 sum of m ≤ 196 terms each ≤ 0.5·|o|+|s|·q ≲ 1 in size: round-off ≤ m·2⁻²⁴·Σ|terms| < 1e-3.
        assert!(
            (folded - exact).abs() <= 1e-3,
            "sample {i}: {folded} vs {exact}"
        );
        let mut acc = vec![0.0f32; m];
        ds.axpy_codes(i, 2.0, &mut acc);
        for (j, a) in acc.iter().enumerate() {
            // 2·q exactly representable: exact equality.
            assert_eq!(*a, 2.0 * ds.code(i, j).unwrap());
        }
    }
}

#[test]
fn u8_and_u4_values_are_within_half_a_step_of_the_pooled_pixels() {
    let labels = labels();
    for k in [2, 4] {
        let side = SIDE / k;
        let x = pooled(&images(), k);
        // Quantisers written here from the rule (independently of `tinynewton pack`).
        let q8: Vec<u8> = x.iter().map(|v| (v * 255.0).round() as u8).collect();
        let q4: Vec<u8> = x.iter().map(|v| (v * 15.0).round() as u8).collect();
        let shared = |scale: f32| Dequant::Shared { offset: 0.0, scale };
        let s8 = spec(&labels, Codes::U8(&q8), side, shared(1.0 / 255.0));
        let s4 = spec(&labels, Codes::U4(&q4), side, shared(1.0 / 15.0));
        for (s, half_step) in [(s8, 0.5 / 255.0), (s4, 0.5 / 15.0)] {
            let mut buf = vec![0; format::encoded_len(&s).unwrap()];
            format::write(&s, &mut buf).unwrap();
            // Half a step, plus f32 rounding of the scale and of o + s·q (|x| ≤ 1: a few 1e-8).
            check(&buf, &x, half_step + 1e-6);
        }
    }
}

#[test]
fn f32_and_per_feature_files_round_trip() {
    let labels = labels();
    let x = pooled(&images(), 4);
    let m = 49;
    let xf: Vec<f32> = x.iter().map(|&v| v as f32).collect();
    let s = spec(&labels, Codes::F32(&xf), 7, Dequant::Identity);
    let mut buf = vec![0; format::encoded_len(&s).unwrap()];
    format::write(&s, &mut buf).unwrap();
    // Only the f64 → f32 conversion: relative 2⁻²⁴ of values ≤ 1.
    check(&buf, &x, 1e-7);

    // Per-feature: feature j is stored as (x − o_j) / s_j quantised to u8.
    let pairs: Vec<(f32, f32)> = (0..m)
        .map(|j| (-0.25 + j as f32 / 100.0, (1.0 + j as f32 / 49.0) / 255.0))
        .collect();
    let table_bytes: Vec<u8> = pairs
        .iter()
        .flat_map(|(o, s)| o.to_le_bytes().into_iter().chain(s.to_le_bytes()))
        .collect();
    let table = FeatureTable::new(&table_bytes).unwrap();
    let q: Vec<u8> = x
        .iter()
        .enumerate()
        .map(|(k, &v)| {
            let (o, s) = pairs[k % m];
            ((v - f64::from(o)) / f64::from(s))
                .round()
                .clamp(0.0, 255.0) as u8
        })
        .collect();
    // Clamped values lie outside the table's range; compare against what the table can represent.
    let representable: Vec<f64> = x
        .iter()
        .enumerate()
        .map(|(k, &v)| {
            let (o, s) = pairs[k % m];
            v.clamp(f64::from(o), f64::from(o) + 255.0 * f64::from(s))
        })
        .collect();
    let s = spec(&labels, Codes::U8(&q), 7, Dequant::PerFeature(table));
    let mut buf = vec![0; format::encoded_len(&s).unwrap()];
    format::write(&s, &mut buf).unwrap();
    let largest_step = pairs.iter().map(|p| f64::from(p.1)).fold(0.0, f64::max);
    check(&buf, &representable, 0.5 * largest_step + 1e-6);
}
