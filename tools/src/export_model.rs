//! `tinynewton export-model`: a trained model as source code for inference-only builds.
//!
//! The weights, the bias and the raw-feature transform become constants, next to a decision and
//! a label function on *raw* readings, so firmware that only classifies links no training code
//! (and no `libm`: the decision is multiplications, additions and comparisons):
//!
//! - `--rust OUT.rs`: a module (`pub mod model;`) that needs nothing but `core`, so it builds in a
//!   `#![no_std]` crate for `thumbv7em-none-eabihf`;
//! - `--c OUT.c`: plain C99 (`static const float` tables, `int tinynewton_label(const float *raw)`).
//!
//! A `K`-class model (`train --multiclass`) becomes argmax inference: `decisions` (one value per
//! class), `predict` (the class index with the largest value, ties to the lower index) and
//! `label` (that class's original label), in both languages.
//!
//! Both repeat the arithmetic of [`tinynewton::Model::decision_raw`] operation for operation
//! (each feature scaled by [`tinynewton::TransformKind::scale`], then `s = s + w_j·x'_j` from
//! `j = 0`, then `+ b`), and every constant is written exactly (Rust: the shortest text that reads
//! back to the same `f32`; C: hexadecimal floats), so on an IEEE `f32` target without fused
//! multiply-add contraction (Rust's default; C with `-ffp-contract=off`, which `-std=c99` implies
//! in GCC) they give the host model's decision values bit for bit.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use tinynewton::model::{image_version, MULTI_MODEL_VERSION};
use tinynewton::{Model, OwnedTransform, TransformKind};

use crate::train::MultiClassModel;

use crate::output::{self, say};

/// The largest model this command reads (features).
const MAX_FEATURES: usize = 4096;

/// Command-line arguments of `tinynewton export-model`.
#[derive(Debug, clap::Args)]
#[command(group(
    clap::ArgGroup::new("language")
        .required(true)
        .multiple(true)
        .args(["rust", "c"])
))]
pub struct Args {
    /// Model file (written by `tinynewton train --model`).
    pub model: PathBuf,
    /// Write a `no_std` Rust module (`pub mod model;`) here.
    #[arg(long, value_name = "OUT.rs")]
    pub rust: Option<PathBuf>,
    /// Write a C99 source file here.
    #[arg(long, value_name = "OUT.c")]
    pub c: Option<PathBuf>,
}

/// Reads the model and writes every requested source file (all or none).
pub fn run(args: &Args) -> Result<()> {
    let model = read_model(&args.model)?;
    let source = args.model.display().to_string();
    let rust = args.rust.as_ref().map(|p| (p, model.rust(&source)));
    let c = args.c.as_ref().map(|p| (p, model.c(&source)));
    let files: Vec<(&Path, &[u8])> = rust
        .iter()
        .chain(c.iter())
        .map(|(p, text)| (p.as_path(), text.as_bytes()))
        .collect();
    output::write_all_or_nothing(&files)?;
    for (path, _) in &files {
        say!("wrote {}", path.display());
    }
    Ok(())
}

fn read_model(path: &Path) -> Result<AnyModel> {
    let bytes = fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let bad = |e: tinynewton::ModelError| anyhow!("{}: {e}", path.display());
    let (model, m) = if image_version(&bytes) == Ok(MULTI_MODEL_VERSION) {
        let model = MultiClassModel::from_bytes(&bytes).map_err(bad)?;
        let m = model.n_features();
        (AnyModel::Multi(Box::new(model)), m)
    } else {
        let model = Model::<MAX_FEATURES>::from_bytes(&bytes).map_err(bad)?;
        let m = model.n_features();
        (AnyModel::Binary(Box::new(model)), m)
    };
    if m == 0 {
        // C has no zero-length arrays, and a model of no feature classifies nothing.
        bail!("{}: the model has no feature", path.display());
    }
    Ok(model)
}

/// One constant table of the transform: the Rust name (the C name is `tinynewton_` and the name
/// in lower case), what it holds (Markdown; C comments drop the code marks) and its values.
struct Table {
    name: &'static str,
    doc: &'static str,
    values: Vec<f32>,
}

/// The transform's kind and its tables, in declaration order: none for kind `None`, the shift
/// and the factor for the affine kinds, and the bounds for [`TransformKind::AffineClamp`] only.
fn transform_tables(t: Option<&OwnedTransform<MAX_FEATURES>>) -> (TransformKind, Vec<Table>) {
    let (kind, params) = match t {
        Some(t) => (t.kind(), t.params()),
        None => (TransformKind::None, &[][..]),
    };
    let table = |name, doc, f: fn(&tinynewton::FeatureParams) -> f32| Table {
        name,
        doc,
        values: params.iter().map(f).collect(),
    };
    let mut tables = Vec::new();
    if kind != TransformKind::None {
        tables.push(table(
            "SHIFT",
            "Shift `a_j` subtracted from raw reading `j`.",
            |p| p.a,
        ));
        tables.push(table(
            "FACTOR",
            "Factor `b_j` multiplying the shifted reading (`0`: a constant feature, scaled to `0`).",
            |p| p.b,
        ));
    }
    if kind.stores_bounds() {
        tables.push(table(
            "LO",
            "Lower bound `lo_j` of scaled feature `j` (the smallest scaled training value).",
            |p| p.lo,
        ));
        tables.push(table(
            "HI",
            "Upper bound `hi_j` of scaled feature `j` (the largest scaled training value).",
            |p| p.hi,
        ));
    }
    (kind, tables)
}

fn transform_doc(kind: TransformKind) -> &'static str {
    match kind {
        TransformKind::None => "none: the raw readings are the model's features",
        TransformKind::Affine => "affine: x'_j = (x_j - SHIFT_j) * FACTOR_j (0 when FACTOR_j = 0)",
        TransformKind::AffineClip01 => {
            "affine, clipped: x'_j = clamp((x_j - SHIFT_j) * FACTOR_j, 0, 1) (0 when FACTOR_j = 0)"
        }
        TransformKind::AffineClamp => {
            "affine, clamped to the training range: x'_j = clamp(v, LO_j, HI_j) with \
             v = (x_j - SHIFT_j) * FACTOR_j (0 when FACTOR_j = 0)"
        }
    }
}

/// Rust literal of an `f32`: `{:?}` is the shortest text that reads back to the same bits.
fn rust_f32(x: f32) -> String {
    format!("{x:?}")
}

/// `[a, b, ...]`, six values a line.
fn rust_array(values: &[f32]) -> String {
    let mut out = String::from("[\n");
    for chunk in values.chunks(6) {
        let line: Vec<String> = chunk.iter().map(|&v| rust_f32(v)).collect();
        let _ = writeln!(out, "    {},", line.join(", "));
    }
    out.push(']');
    out
}

/// The body of the Rust `scale(j, x)` for a transform of `kind`.
fn rust_scale_body(kind: TransformKind) -> String {
    match kind {
        TransformKind::None => "    let _ = j;\n    x".to_owned(),
        TransformKind::Affine | TransformKind::AffineClip01 => {
            let product = "(x - SHIFT[j]) * FACTOR[j]";
            let value = if kind == TransformKind::AffineClip01 {
                format!("({product}).clamp(0.0, 1.0)")
            } else {
                product.to_owned()
            };
            format!(
                "    if FACTOR[j] == 0.0 {{\n        0.0\n    }} else {{\n        {value}\n    }}"
            )
        }
        // `tinynewton::TransformKind::scale`'s two comparisons, in its order (no
        // `f32::clamp`: the same result for LO ≤ HI, and no panic path in the firmware).
        TransformKind::AffineClamp => "    let mut t = if FACTOR[j] == 0.0 {
        0.0
    } else {
        (x - SHIFT[j]) * FACTOR[j]
    };
    if t < LO[j] {
        t = LO[j];
    }
    if t > HI[j] {
        t = HI[j];
    }
    t"
        .to_owned(),
    }
}

/// The lints an exported Rust module allows: its constants are exact `f32` texts (long digit
/// strings, some near π or e by chance) and `scale` keeps the core's two comparisons rather than
/// `clamp`, so the module builds under the firmware's `deny(warnings)`.
const RUST_ALLOWS: &str = "\
#![allow(
    clippy::approx_constant,
    clippy::excessive_precision,
    clippy::manual_clamp,
    clippy::unreadable_literal
)]
";

/// The Rust constants of the transform tables, one `[f32; M]` each.
fn rust_tables(s: &mut String, tables: &[Table]) {
    for t in tables {
        let _ = write!(
            s,
            "\n/// {}\npub const {}: [f32; M] = {};\n",
            t.doc,
            t.name,
            rust_array(&t.values)
        );
    }
}

/// The Rust `scale(j, x)` and `transform(raw)` of a transform of `kind`, shared by the binary
/// and the `K`-class modules (the same arithmetic as `TransformKind::scale`).
fn rust_scale_fns(s: &mut String, kind: TransformKind) {
    let _ = write!(
        s,
        "
/// Scaled feature `x'_j` of raw reading `x` of feature `j < M`: {doc}.
#[inline]
pub fn scale(j: usize, x: f32) -> f32 {{
{scale_body}
}}

/// The scaled features of `raw`.
pub fn transform(raw: &[f32; M]) -> [f32; M] {{
    let mut out = [0.0f32; M];
    for (j, (o, &x)) in out.iter_mut().zip(raw).enumerate() {{
        *o = scale(j, x);
    }}
    out
}}
",
        doc = transform_doc(kind),
        scale_body = rust_scale_body(kind),
    );
}

/// The Rust module text (see the [module docs](self)).
pub fn rust_source(model: &Model<MAX_FEATURES>, source: &str) -> String {
    let m = model.n_features();
    let (kind, tables) = transform_tables(model.transform());
    let mut s = String::new();
    let _ = write!(
        s,
        "\
//! Inference-only linear classifier generated by `tinynewton export-model` from `{source}`.
//! Do not edit: regenerate from the model file.
//!
//! Needs only `core` (no allocator, no libm): use it as `pub mod model;` in a `#![no_std]` crate.
//! `decision(raw)` is `w·x' + b` over the scaled features `x'` of the raw readings `raw`, summed
//! from feature 0 up as `tinynewton::Model::decision_raw` does, so it gives the host model's
//! values bit for bit (IEEE f32, no fused multiply-add). Readings must be finite.
//! Model fingerprint (weights and bias, FNV-1a 64): {fingerprint:#018x}.
//! Transform: {doc}.
{RUST_ALLOWS}
/// Number of features (raw readings per sample).
pub const M: usize = {m};

/// Feature weights `w`, on the scaled features.
pub const WEIGHTS: [f32; M] = {weights};

/// Bias `b`.
pub const BIAS: f32 = {bias};
",
        fingerprint = model.fingerprint(),
        doc = transform_doc(kind),
        weights = rust_array(model.weights()),
        bias = rust_f32(model.bias()),
    );
    rust_tables(&mut s, &tables);
    rust_scale_fns(&mut s, kind);
    s.push_str(
        "
/// Decision value `w·x' + b` of the raw readings `raw`: positive means class `+1`.
pub fn decision(raw: &[f32; M]) -> f32 {
    let mut s = 0.0f32;
    for (j, (&w, &x)) in WEIGHTS.iter().zip(raw).enumerate() {
        s += w * scale(j, x);
    }
    s + BIAS
}

/// Predicted label of the raw readings `raw`: `1` if `decision(raw) > 0`, else `-1`.
pub fn label(raw: &[f32; M]) -> i8 {
    if decision(raw) > 0.0 {
        1
    } else {
        -1
    }
}
",
    );
    s
}

/// C99 hexadecimal literal of a finite `f32` (exact: no decimal rounding by the compiler), e.g.
/// `0x1.8p-1f` for 0.75.
pub fn c_hex(x: f32) -> String {
    let bits = x.to_bits();
    let sign = if bits >> 31 == 1 { "-" } else { "" };
    let exponent = ((bits >> 23) & 0xFF) as i32;
    // 23 fraction bits, shifted to 24 so they print as 6 hex digits; trailing zeros dropped.
    let fraction = format!("{:06x}", (bits & 0x7F_FFFF) << 1);
    let fraction = fraction.trim_end_matches('0');
    let dot = if fraction.is_empty() { "" } else { "." };
    match exponent {
        0 if fraction.is_empty() => format!("{sign}0x0p+0f"),
        0 => format!("{sign}0x0.{fraction}p-126f"),
        e => format!("{sign}0x1{dot}{fraction}p{:+}f", e - 127),
    }
}

/// `{ a, b, ... }`, one value a line, with its decimal value in a comment.
fn c_array(values: &[f32]) -> String {
    let mut out = String::from("{\n");
    for &v in values {
        let _ = writeln!(out, "    {}, /* {v:?} */", c_hex(v));
    }
    out.push('}');
    out
}

/// The body of the C `tinynewton_scale(j, x)` for a transform of `kind`.
fn c_scale_body(kind: TransformKind) -> String {
    match kind {
        TransformKind::None => "    (void)j;\n    return x;".to_owned(),
        // tinynewton::TransformKind::scale: the affine value (0 for a constant feature), then
        // the two comparisons in its order.
        TransformKind::AffineClamp => "    float t;
    if (tinynewton_factor[j] == 0.0f) {
        t = 0.0f;
    } else {
        t = (x - tinynewton_shift[j]) * tinynewton_factor[j];
    }
    if (t < tinynewton_lo[j]) {
        t = tinynewton_lo[j];
    }
    if (t > tinynewton_hi[j]) {
        t = tinynewton_hi[j];
    }
    return t;"
            .to_owned(),
        TransformKind::Affine | TransformKind::AffineClip01 => {
            let clip = if kind == TransformKind::AffineClip01 {
                "    if (t < 0.0f) {\n        t = 0.0f;\n    }\n    if (t > 1.0f) {\n        t = 1.0f;\n    }\n"
            } else {
                ""
            };
            format!(
                "    float t;\n    if (tinynewton_factor[j] == 0.0f) {{\n        return 0.0f;\n    }}\n    t = (x - tinynewton_shift[j]) * tinynewton_factor[j];\n{clip}    return t;"
            )
        }
    }
}

/// The C constants of the transform tables, `tinynewton_` and the lower-case name each.
fn c_tables(s: &mut String, tables: &[Table]) {
    for t in tables {
        let _ = write!(
            s,
            "\n/* {} */\nstatic const float tinynewton_{}[TINYNEWTON_M] = {};\n",
            t.doc.replace('`', ""),
            t.name.to_lowercase(),
            c_array(&t.values)
        );
    }
}

/// The C `tinynewton_scale(j, x)` of a transform of `kind`, shared by the binary and the
/// `K`-class sources.
fn c_scale_fn(s: &mut String, kind: TransformKind) {
    let _ = write!(
        s,
        "
/* Scaled feature x'_j of raw reading x of feature j: {doc}. */
static float tinynewton_scale(int j, float x)
{{
{scale_body}
}}
",
        doc = transform_doc(kind),
        scale_body = c_scale_body(kind),
    );
}

/// The C99 source text (see the [module docs](self)).
pub fn c_source(model: &Model<MAX_FEATURES>, source: &str) -> String {
    let m = model.n_features();
    let (kind, tables) = transform_tables(model.transform());
    let mut s = String::new();
    let _ = write!(
        s,
        "\
/* Inference-only linear classifier generated by `tinynewton export-model` from `{source}`.
 * Do not edit: regenerate from the model file. Plain C99, no libm.
 *
 *   float tinynewton_decision(const float *raw);  w.x' + b over the scaled features x' of the
 *                                                 TINYNEWTON_M raw readings; > 0 means class +1
 *   int tinynewton_label(const float *raw);       1 if the decision is > 0, else -1
 *
 * The sum runs from feature 0 up as tinynewton::Model::decision_raw does, so with IEEE float
 * arithmetic and no contraction into fused multiply-adds (-ffp-contract=off; GCC's -std=c99
 * implies it) the decisions equal the host model's bit for bit. Readings must be finite.
 * Constants are hexadecimal floats (exact); the comments give their decimal values.
 * Model fingerprint (weights and bias, FNV-1a 64): {fingerprint:#018x}.
 * Transform: {doc}.
 */

#define TINYNEWTON_M {m}

float tinynewton_decision(const float *raw);
int tinynewton_label(const float *raw);

/* Feature weights w, on the scaled features. */
static const float tinynewton_weights[TINYNEWTON_M] = {weights};

/* Bias b. */
static const float tinynewton_bias = {bias}; /* {bias_dec:?} */
",
        fingerprint = model.fingerprint(),
        doc = transform_doc(kind),
        weights = c_array(model.weights()),
        bias = c_hex(model.bias()),
        bias_dec = model.bias(),
    );
    c_tables(&mut s, &tables);
    c_scale_fn(&mut s, kind);
    s.push_str(
        "
float tinynewton_decision(const float *raw)
{
    float s = 0.0f;
    int j;
    for (j = 0; j < TINYNEWTON_M; j++) {
        s = s + tinynewton_weights[j] * tinynewton_scale(j, raw[j]);
    }
    return s + tinynewton_bias;
}

int tinynewton_label(const float *raw)
{
    return tinynewton_decision(raw) > 0.0f ? 1 : -1;
}
",
    );
    s
}

// ---------------------------------------------------------------------------------------------
// K classes: argmax inference.

/// A model file's content: two classes or `K`.
enum AnyModel {
    Binary(Box<Model<MAX_FEATURES>>),
    Multi(Box<MultiClassModel>),
}

impl AnyModel {
    fn rust(&self, source: &str) -> String {
        match self {
            AnyModel::Binary(b) => rust_source(b, source),
            AnyModel::Multi(k) => rust_source_multi(k, source),
        }
    }

    fn c(&self, source: &str) -> String {
        match self {
            AnyModel::Binary(b) => c_source(b, source),
            AnyModel::Multi(k) => c_source_multi(k, source),
        }
    }
}

/// `[[..], ..]` of `K` rows of weights.
fn rust_matrix(rows: &[&[f32]]) -> String {
    let mut out = String::from("[\n");
    for row in rows {
        let inner = rust_array(row).replace("\n    ", "\n        ");
        let _ = writeln!(out, "    {},", inner.replace("\n]", "\n    ]"));
    }
    out.push(']');
    out
}

fn class_rows(model: &MultiClassModel) -> (Vec<&[f32]>, Vec<f32>) {
    let m = model.n_features();
    (0..model.n_classes())
        .map(|k| {
            (
                model.class_weights(k).unwrap_or(&[]),
                model.class_bias(k).unwrap_or(0.0),
            )
        })
        .take_while(|(w, _)| w.len() == m)
        .unzip()
}

/// The Rust module text of a `K`-class model: `decisions`, `predict` (class index) and `label`
/// (original label), the same arithmetic as `MultiModel::predict_raw`.
pub fn rust_source_multi(model: &MultiClassModel, source: &str) -> String {
    let (m, k) = (model.n_features(), model.n_classes());
    let (kind, tables) = transform_tables(model.transform());
    let (rows, biases) = class_rows(model);
    let labels: Vec<String> = model.labels().iter().map(|l| l.to_string()).collect();
    let mut s = String::new();
    let _ = write!(
        s,
        "\
//! Inference-only {k}-class linear classifier generated by `tinynewton export-model` from
//! `{source}`. Do not edit: regenerate from the model file.
//!
//! Needs only `core` (no allocator, no libm): use it as `pub mod model;` in a `#![no_std]` crate.
//! `decisions(raw)` is `w_k·x' + b_k` for every class `k` over the scaled features `x'` of the
//! raw readings `raw`, summed from feature 0 up as `tinynewton::model::MultiModel::predict_raw`
//! does; `predict` takes the largest (ties to the lower class), so it chooses the host model's
//! class (IEEE f32, no fused multiply-add). Readings must be finite.
//! Model fingerprint (weights, FNV-1a 64): {fingerprint:#018x}.
//! Transform: {doc}.
{RUST_ALLOWS}
/// Number of features (raw readings per sample).
pub const M: usize = {m};

/// Number of classes.
pub const K: usize = {k};

/// The original label of each class (e.g. the digit).
pub const LABELS: [i32; K] = [{labels}];

/// Feature weights `w_k` of each class, on the scaled features.
pub const WEIGHTS: [[f32; M]; K] = {weights};

/// Bias `b_k` of each class.
pub const BIASES: [f32; K] = {biases};
",
        fingerprint = model.fingerprint(),
        doc = transform_doc(kind),
        labels = labels.join(", "),
        weights = rust_matrix(&rows),
        biases = rust_array(&biases),
    );
    rust_tables(&mut s, &tables);
    rust_scale_fns(&mut s, kind);
    s.push_str(
        "
/// Decision value `w_k·x' + b_k` of every class `k` for the raw readings `raw`.
pub fn decisions(raw: &[f32; M]) -> [f32; K] {
    let x = transform(raw);
    let mut out = [0.0f32; K];
    for (o, (w, &b)) in out.iter_mut().zip(WEIGHTS.iter().zip(BIASES.iter())) {
        let mut s = 0.0f32;
        for (&wj, &xj) in w.iter().zip(x.iter()) {
            s += wj * xj;
        }
        *o = s + b;
    }
    out
}

/// Index of the class with the largest decision value (ties to the lower index).
pub fn predict(raw: &[f32; M]) -> usize {
    let z = decisions(raw);
    let mut best = 0;
    for (k, &v) in z.iter().enumerate().skip(1) {
        if v > z[best] {
            best = k;
        }
    }
    best
}

/// The original label of the predicted class.
pub fn label(raw: &[f32; M]) -> i32 {
    LABELS[predict(raw)]
}
",
    );
    s
}

/// The C99 source text of a `K`-class model.
pub fn c_source_multi(model: &MultiClassModel, source: &str) -> String {
    let (m, k) = (model.n_features(), model.n_classes());
    let (kind, tables) = transform_tables(model.transform());
    let (rows, biases) = class_rows(model);
    let labels: Vec<String> = model.labels().iter().map(|l| l.to_string()).collect();
    let mut s = String::new();
    let _ = write!(
        s,
        "\
/* Inference-only {k}-class linear classifier generated by `tinynewton export-model` from
 * `{source}`. Do not edit: regenerate from the model file. Plain C99, no libm.
 *
 *   void tinynewton_decisions(const float *raw, float *out);  w_k.x' + b_k of every class k
 *                                 (TINYNEWTON_K values) over the scaled features x' of the
 *                                 TINYNEWTON_M raw readings
 *   int tinynewton_predict(const float *raw);  index of the largest decision (ties: lower index)
 *   int tinynewton_label(const float *raw);    the original label of that class
 *
 * The sums run from feature 0 up as tinynewton::model::MultiModel::predict_raw does, so with
 * IEEE float arithmetic and no contraction into fused multiply-adds (-ffp-contract=off; GCC's
 * -std=c99 implies it) the decisions equal the host model's bit for bit. Readings must be
 * finite. Constants are hexadecimal floats (exact); the comments give their decimal values.
 * Model fingerprint (weights, FNV-1a 64): {fingerprint:#018x}.
 * Transform: {doc}.
 */

#define TINYNEWTON_M {m}
#define TINYNEWTON_K {k}

void tinynewton_decisions(const float *raw, float *out);
int tinynewton_predict(const float *raw);
int tinynewton_label(const float *raw);

/* The original label of each class. */
static const int tinynewton_labels[TINYNEWTON_K] = {{ {labels} }};

/* Feature weights w_k of each class, on the scaled features. */
static const float tinynewton_weights[TINYNEWTON_K][TINYNEWTON_M] = {{
",
        fingerprint = model.fingerprint(),
        doc = transform_doc(kind),
        labels = labels.join(", "),
    );
    for (c, row) in rows.iter().enumerate() {
        let _ = writeln!(
            s,
            "    /* class {c} (label {}) */\n    {},",
            labels.get(c).map_or("?", String::as_str),
            c_array(row).replace('\n', "\n    ")
        );
    }
    let _ = write!(
        s,
        "}};\n\n/* Bias b_k of each class. */\nstatic const float tinynewton_biases[TINYNEWTON_K] = {};\n",
        c_array(&biases)
    );
    c_tables(&mut s, &tables);
    c_scale_fn(&mut s, kind);
    s.push_str(
        "
void tinynewton_decisions(const float *raw, float *out)
{
    float x[TINYNEWTON_M];
    int j, k;
    for (j = 0; j < TINYNEWTON_M; j++) {
        x[j] = tinynewton_scale(j, raw[j]);
    }
    for (k = 0; k < TINYNEWTON_K; k++) {
        float s = 0.0f;
        for (j = 0; j < TINYNEWTON_M; j++) {
            s = s + tinynewton_weights[k][j] * x[j];
        }
        out[k] = s + tinynewton_biases[k];
    }
}

int tinynewton_predict(const float *raw)
{
    float z[TINYNEWTON_K];
    int k, best = 0;
    tinynewton_decisions(raw, z);
    for (k = 1; k < TINYNEWTON_K; k++) {
        if (z[k] > z[best]) {
            best = k;
        }
    }
    return best;
}

int tinynewton_label(const float *raw)
{
    return tinynewton_labels[tinynewton_predict(raw)];
}
",
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use tinynewton::{FeatureParams, OwnedTransform};

    #[test]
    fn hex_floats_are_exact_c99_literals() {
        assert_eq!(c_hex(1.0), "0x1p+0f");
        assert_eq!(c_hex(0.75), "0x1.8p-1f");
        assert_eq!(c_hex(-2.5), "-0x1.4p+1f");
        assert_eq!(c_hex(0.0), "0x0p+0f");
        assert_eq!(c_hex(-0.0), "-0x0p+0f");
        assert_eq!(c_hex(f32::MAX), "0x1.fffffep+127f");
        assert_eq!(c_hex(f32::MIN_POSITIVE), "0x1p-126f");
        // The smallest subnormal, 2^-149 = 0x0.000002p-126.
        assert_eq!(c_hex(f32::from_bits(1)), "0x0.000002p-126f");
        // 0.1f32 = 0x1.99999ap-4 (the nearest f32 to 0.1).
        assert_eq!(c_hex(0.1), "0x1.99999ap-4f");
    }

    #[test]
    fn rust_literals_read_back_bit_for_bit() {
        for x in [
            0.1f32,
            -1e-7,
            3.4028235e38,
            f32::from_bits(1),
            -0.0,
            1.0,
            123456.79,
        ] {
            let text = rust_f32(x);
            assert_eq!(
                text.parse::<f32>().unwrap().to_bits(),
                x.to_bits(),
                "{text}"
            );
        }
    }

    #[test]
    fn sources_name_every_constant_once() {
        let t =
            OwnedTransform::new(TransformKind::AffineClip01, &[(1.0, 0.5), (2.0, 0.0)]).unwrap();
        let model = Model::<MAX_FEATURES>::new(&[0.25, -4.0], 0.125)
            .unwrap()
            .with_owned_transform(t)
            .unwrap();
        let rust = rust_source(&model, "m.bin");
        assert!(rust.contains("pub const M: usize = 2;"));
        assert!(rust.contains("pub const WEIGHTS: [f32; M] = [\n    0.25, -4.0,\n];"));
        assert!(rust.contains("pub const SHIFT: [f32; M] = [\n    1.0, 2.0,\n];"));
        assert!(rust.contains(".clamp(0.0, 1.0)"));
        let c = c_source(&model, "m.bin");
        assert!(c.contains("#define TINYNEWTON_M 2"));
        assert!(c.contains("    0x1p-2f, /* 0.25 */\n    -0x1p+2f, /* -4.0 */"));
        assert!(c.contains("static const float tinynewton_bias = 0x1p-3f;"));
        assert!(c.contains("if (t > 1.0f)"));
        // The clamping kind: bounds tables, and the clamp after the factor-0 branch (so a
        // constant feature is clamped too, as in the core).
        let params = [
            FeatureParams::clamped(1.0, 0.5, -0.75, 2.0),
            FeatureParams::clamped(2.0, 0.0, 0.0, 0.0),
        ];
        let t = OwnedTransform::from_params(TransformKind::AffineClamp, &params).unwrap();
        let clamped = Model::<MAX_FEATURES>::new(&[0.25, -4.0], 0.125)
            .unwrap()
            .with_owned_transform(t)
            .unwrap();
        let rust = rust_source(&clamped, "m.bin");
        assert!(rust.contains("pub const LO: [f32; M] = [\n    -0.75, 0.0,\n];"));
        assert!(rust.contains("pub const HI: [f32; M] = [\n    2.0, 0.0,\n];"));
        assert!(rust
            .contains("    };\n    if t < LO[j] {\n        t = LO[j];\n    }\n    if t > HI[j]"));
        assert!(!rust.contains(".clamp("));
        let c = c_source(&clamped, "m.bin");
        assert!(c.contains(
            "static const float tinynewton_lo[TINYNEWTON_M] = {\n    -0x1.8p-1f, /* -0.75 */"
        ));
        assert!(c.contains(
            "    }\n    if (t < tinynewton_lo[j]) {\n        t = tinynewton_lo[j];\n    }"
        ));
        assert!(c.contains("if (t > tinynewton_hi[j])"));
        // The minmax model has no bounds tables.
        assert!(!rust_source(&model, "m.bin").contains("pub const LO"));
        assert!(!c_source(&model, "m.bin").contains("tinynewton_lo"));
        // Without a transform: no tables, the readings are the features.
        let plain = Model::<MAX_FEATURES>::new(&[1.0], 0.0).unwrap();
        assert!(!rust_source(&plain, "p").contains("SHIFT"));
        assert!(!c_source(&plain, "p").contains("tinynewton_shift"));
    }
}
