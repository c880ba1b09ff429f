//! `tinynewton inspect FILE`: what a packed file holds, as text or JSON, and its first samples as a
//! PNG grid.

use std::path::{Path, PathBuf};

use anyhow::{bail, ensure, Context, Result};
use image::{ImageFormat, Rgb, RgbImage};
use serde_json::json;
use tinynewton::format::{self, DequantKind, PackedDataset, MAX_CLASSES, REST};
use tinynewton::{Dequant, Rows, TransformKind};

use crate::output::{self, say};

/// Arguments of `tinynewton inspect`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// A packed dataset (.tnds).
    pub file: PathBuf,
    /// Print one JSON object instead of text.
    #[arg(long)]
    pub json: bool,
    /// Draw the first --count samples as a grid of images into this PNG.
    #[arg(long, value_name = "OUT.png")]
    pub png: Option<PathBuf>,
    /// How many samples the PNG shows.
    #[arg(long, default_value_t = 64, requires = "png")]
    pub count: usize,
    /// Pixels per feature in the PNG (default: enough for tiles of at least 56 px).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub scale: Option<u32>,
}

/// Smallest and largest code and value over the whole dataset.
#[derive(Debug, Clone, Copy)]
struct Range {
    code: (f32, f32),
    value: (f32, f32),
}

fn range(ds: &PackedDataset<'_>) -> Range {
    let (mut code, mut value) = (
        (f32::INFINITY, f32::NEG_INFINITY),
        (f32::INFINITY, f32::NEG_INFINITY),
    );
    for i in 0..ds.n_samples() {
        for j in 0..ds.n_features() {
            if let (Some(q), Some(x)) = (ds.code(i, j), ds.value(i, j)) {
                code = (code.0.min(q), code.1.max(q));
                value = (value.0.min(x), value.1.max(x));
            }
        }
    }
    Range { code, value }
}

fn class_name(label: i32) -> String {
    if label == REST {
        "rest".to_owned()
    } else {
        label.to_string()
    }
}

/// A class as JSON: its number, or `"rest"`.
fn class_json(label: i32) -> serde_json::Value {
    if label == REST {
        json!("rest")
    } else {
        json!(label)
    }
}

/// The raw-feature transform as JSON: its kind and, when the file has a section, one object per
/// feature with the shift `a` and factor `b` (and the bounds `lo`, `hi` the affine-clamp kind
/// stores; the other kinds' bounds are implied, not stored, and JSON has no infinity).
fn transform_json(ds: &PackedDataset<'_>) -> serde_json::Value {
    let Some(t) = ds.transform() else {
        return json!({"kind": TransformKind::None.name()});
    };
    let features: Vec<serde_json::Value> = t
        .params()
        .map(|p| {
            if t.kind().stores_bounds() {
                json!({"shift": p.a, "factor": p.b, "lo": p.lo, "hi": p.hi})
            } else {
                json!({"shift": p.a, "factor": p.b})
            }
        })
        .collect();
    json!({"kind": t.kind().name(), "formula": transform_formula(t.kind()), "features": features})
}

/// What a kind computes from a raw reading `x` of feature `j`.
fn transform_formula(kind: TransformKind) -> &'static str {
    match kind {
        TransformKind::None => "x' = x",
        TransformKind::Affine => "x' = (x - a_j) * b_j",
        TransformKind::AffineClip01 => "x' = clamp((x - a_j) * b_j, 0, 1)",
        TransformKind::AffineClamp => "x' = clamp((x - a_j) * b_j, lo_j, hi_j)",
    }
}

/// Each class's original label and sample count, in class-index order.
fn classes(ds: &PackedDataset<'_>) -> Vec<(i32, usize)> {
    let mut counts = [0; MAX_CLASSES];
    let counts = ds.class_counts_into(&mut counts).unwrap_or(&[]);
    ds.class_table()
        .iter()
        .zip(counts.iter().copied())
        .collect()
}

/// Runs `tinynewton inspect`.
pub fn run(args: &Args) -> Result<()> {
    let path = &args.file;
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let ds = format::parse(&bytes).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let h = *ds.header();
    let (pos, neg) = ds.class_counts();
    let r = range(&ds);
    let (offset, scale) = (h.offset, h.scale);
    // Non-zero density: what the sparse layout stores, and what decides whether it pays.
    let nonzero = ds.count_nonzero();
    let codes_total = (h.n as usize).saturating_mul(h.m as usize);
    let density = nonzero as f64 / codes_total.max(1) as f64;
    let layout = if h.encoding.is_sparse() {
        "sparse"
    } else {
        "dense"
    };
    let index_bytes = if h.m <= 256 { 1 } else { 2 };
    if args.json {
        let dequant = match ds.dequant() {
            Dequant::Identity => json!({"kind": "identity", "offset": 0.0, "scale": 1.0}),
            Dequant::Shared { offset, scale } => {
                json!({"kind": "shared", "offset": offset, "scale": scale})
            }
            Dequant::PerFeature(_) => json!({"kind": "per-feature", "features": h.m}),
        };
        let mut report = json!({
            "file": path.display().to_string(),
            "file_len": bytes.len(),
            "version": h.version,
            "n": h.n,
            "n_classes": h.n_classes,
            "classes": classes(&ds)
                .into_iter()
                .map(|(label, count)| json!({"label": class_json(label), "count": count}))
                .collect::<Vec<_>>(),
            "m": h.m,
            "width": h.width,
            "height": h.height,
            "encoding": h.encoding.name(),
            "split": h.split.name(),
        });
        if h.version == format::VERSION {
            // The two-class fields exist only in a two-class (version 1) file.
            report["pos_label"] = class_json(h.pos_label);
            report["neg_label"] = class_json(h.neg_label);
            report["positives"] = json!(pos);
            report["negatives"] = json!(neg);
        }
        let rest = json!({
            "dequant": dequant,
            "transform": transform_json(&ds),
            "code_min": r.code.0,
            "code_max": r.code.1,
            "value_min": r.value.0,
            "value_max": r.value.1,
            "layout": layout,
            "nonzero": nonzero,
            "density": density,
            "row_stride": h.row_stride,
            "payload_offset": h.payload_offset,
            "header_crc": format!("0x{:08x}", h.header_crc),
            "payload_crc": format!("0x{:08x}", h.payload_crc),
            "crc_ok": true,
        });
        if let (Some(a), Some(b)) = (report.as_object_mut(), rest.as_object()) {
            a.extend(b.clone());
        }
        say!("{report}");
    } else {
        say!(
            "file:      {} ({} bytes, format version {})",
            path.display(),
            bytes.len(),
            h.version
        );
        if h.version == format::VERSION {
            say!(
                "samples:   {} ({pos} +1 = class {}, {neg} -1 = class {}), split {}",
                h.n,
                class_name(h.pos_label),
                class_name(h.neg_label),
                h.split.name()
            );
        } else {
            say!("samples:   {}, split {}", h.n, h.split.name());
            let each: Vec<String> = classes(&ds)
                .into_iter()
                .map(|(label, count)| format!("{label} ({count})"))
                .collect();
            say!(
                "classes:   {} (label (samples) per class index): {}",
                h.n_classes,
                each.join(", ")
            );
        }
        match h.image() {
            Some((w, ht)) => say!("features:  {} ({w}x{ht} image)", h.m),
            None => say!("features:  {}", h.m),
        }
        let dq = match h.dequant_kind {
            DequantKind::Shared => format!("value = {offset} + {scale} * q"),
            DequantKind::PerFeature => "value = o_j + s_j * q (per-feature table)".to_owned(),
        };
        if h.encoding.is_sparse() {
            say!(
                "encoding:  {} (sparse rows: {} row offsets, a {index_bytes}-byte index and a code per non-zero), {dq}",
                h.encoding.name(),
                u64::from(h.n) + 1
            );
        } else {
            say!(
                "encoding:  {}, dense rows, row stride {} bytes, {dq}",
                h.encoding.name(),
                h.row_stride
            );
        }
        say!(
            "non-zero:  {nonzero} of {codes_total} codes ({:.1} %), {layout} layout",
            100.0 * density
        );
        match ds.transform() {
            Some(t) => say!(
                "transform: {}, {} (a_j, b_j{} per feature; 0 before any clamp when b_j = 0)",
                t.kind().name(),
                transform_formula(t.kind()),
                if t.kind().stores_bounds() {
                    ", lo_j, hi_j"
                } else {
                    ""
                }
            ),
            None => say!(
                "transform: {} (the values are the raw features)",
                TransformKind::None.name()
            ),
        }
        say!("codes:     {} ..= {}", r.code.0, r.code.1);
        say!("values:    {} ..= {}", r.value.0, r.value.1);
        say!(
            "crc:       header 0x{:08x} ok, payload 0x{:08x} ok",
            h.header_crc,
            h.payload_crc
        );
    }
    if let Some(png) = &args.png {
        draw(&ds, r, args.count, args.scale, png)?;
        if !args.json {
            say!(
                "png:       {} (first {} samples)",
                png.display(),
                args.count.min(ds.n_samples())
            );
        }
    }
    Ok(())
}

/// Tiles of at least this many pixels are easy to see.
const MIN_TILE: u32 = 56;
const GAP: u32 = 2;
/// Frame colours: the label of each tile at a glance.
const POSITIVE: Rgb<u8> = Rgb([40, 160, 60]);
const NEGATIVE: Rgb<u8> = Rgb([200, 90, 30]);
const BACKGROUND: Rgb<u8> = Rgb([64, 64, 64]);

/// Draws the first `count` samples as a near-square grid, nearest-neighbour upscaled; grey levels
/// span the dataset's value range, white = largest.
fn draw(
    ds: &PackedDataset<'_>,
    r: Range,
    count: usize,
    scale: Option<u32>,
    png: &Path,
) -> Result<()> {
    let h = ds.header();
    let Some((w, ht)) = h.image() else {
        bail!(
            "{}: --png needs image rows, and this file has no width x height",
            png.display()
        );
    };
    let count = count.min(ds.n_samples());
    ensure!(count > 0, "--count must be at least 1");
    let (w, ht) = (u32::from(w), u32::from(ht));
    let scale = scale.unwrap_or_else(|| MIN_TILE.div_ceil(w.max(ht)).max(1));
    let cols = (count as f64).sqrt().ceil() as u32;
    let rows = (count as u32).div_ceil(cols);
    // Each tile: a GAP-wide frame in the label's colour around the upscaled image.
    let (tile_w, tile_h) = (w * scale + 2 * GAP, ht * scale + 2 * GAP);
    let (img_w, img_h) = (
        cols * tile_w + (cols + 1) * GAP,
        rows * tile_h + (rows + 1) * GAP,
    );
    ensure!(
        u64::from(img_w) * u64::from(img_h) <= 1 << 28,
        "{}: a {img_w}x{img_h} image is too large: lower --count or --scale",
        png.display()
    );
    let mut img = RgbImage::from_pixel(img_w, img_h, BACKGROUND);
    let span = r.value.1 - r.value.0;
    for i in 0..count {
        let (cx, cy) = (i as u32 % cols, i as u32 / cols);
        let (x0, y0) = (GAP + cx * (tile_w + GAP), GAP + cy * (tile_h + GAP));
        let frame = if ds.label(i) > 0.0 {
            POSITIVE
        } else {
            NEGATIVE
        };
        for y in 0..tile_h {
            for x in 0..tile_w {
                let inside =
                    (GAP..GAP + w * scale).contains(&x) && (GAP..GAP + ht * scale).contains(&y);
                let colour = if inside {
                    let j = ((y - GAP) / scale * w + (x - GAP) / scale) as usize;
                    let v = ds.value(i, j).unwrap_or(r.value.0);
                    let t = if span > 0.0 {
                        (v - r.value.0) / span
                    } else {
                        0.0
                    };
                    let g = (t * 255.0).round().clamp(0.0, 255.0) as u8;
                    Rgb([g, g, g])
                } else {
                    frame
                };
                img.put_pixel(x0 + x, y0 + y, colour);
            }
        }
    }
    let mut encoded = std::io::Cursor::new(Vec::new());
    img.write_to(&mut encoded, ImageFormat::Png)
        .with_context(|| format!("{}: cannot encode PNG", png.display()))?;
    output::write_all_or_nothing(&[(png, encoded.get_ref())])
}
