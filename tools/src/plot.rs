//! `tinynewton plot`: the learned weights as a heat map and the convergence curves, as PNGs.
//!
//! Drawn with `plotters` on its bitmap backend. Text uses the DejaVu Sans font embedded by the
//! `dejavu` crate and rendered by `ab_glyph`, so nothing depends on the system's fonts or
//! fontconfig. The PNG is encoded in memory and written all-or-nothing.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::{anyhow, bail, Context, Result};
use plotters::prelude::*;
use plotters::style::FontStyle;
use tinynewton::model::{image_version, MODEL_MAGIC, MULTI_MODEL_VERSION};
use tinynewton::{Model, Status};

use crate::output::{say, write_all_or_nothing, Named};
use crate::train::{label_name, MultiClassModel, Multiclass, TrainReport};

/// Command-line arguments of `tinynewton plot`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(Debug, clap::Subcommand)]
enum What {
    /// Draw the learned weights of an image dataset as a heat map (blue negative, white 0, red
    /// positive, symmetric scale); a K-class model or report as one map per class in a grid,
    /// labelled with the class labels, on one shared scale.
    Weights(WeightsArgs),
    /// Draw log10 ‖g‖/‖g0‖ per Newton iteration, one line per train report (one per class for
    /// a one-vs-rest report).
    Convergence(ConvergenceArgs),
    /// Draw the prequential accuracy of a live stream (`stream --report-json`): the Newton
    /// learner's and PA-II's, cumulative, or over the last `--window` samples (which shows a
    /// drift), one pair of lines per report.
    Stream(StreamArgs),
    /// Draw test accuracy against cumulative modelled cycles, one line per anytime curve
    /// (`scripts/thesis.sh`'s `anytime-<solver>.tsv`, a point per iteration, and
    /// `anytime-cg-budget.tsv`, a point per pass budget), with optional marked points.
    Anytime(AnytimeArgs),
}

#[derive(Debug, clap::Args)]
struct AnytimeArgs {
    /// Anytime curves: TSV rows `iteration passes instructions cycles accuracy%`; the line is
    /// named after the file (`anytime-cg.tsv` → `cg`).
    #[arg(required = true, value_name = "TSV")]
    curves: Vec<PathBuf>,
    /// A reference point `CYCLES,ACCURACY,LABEL` (e.g. another method's figure), repeatable.
    #[arg(long, value_name = "CYCLES,ACC,LABEL")]
    mark: Vec<String>,
    /// Draw cycles up to this many (default: the longest curve).
    #[arg(long)]
    max_cycles: Option<f64>,
    /// Output PNG.
    #[arg(long, value_name = "PNG")]
    out: PathBuf,
    /// Picture size in pixels, `WIDTHxHEIGHT`.
    #[arg(long, default_value = "900x560", value_parser = parse_size)]
    size: (u32, u32),
}

#[derive(Debug, clap::Args)]
struct StreamArgs {
    /// Stream reports (`stream --report-json`).
    #[arg(required = true, value_name = "REPORT")]
    reports: Vec<PathBuf>,
    /// Output PNG.
    #[arg(long, value_name = "PNG")]
    out: PathBuf,
    /// Accuracy over the last this many samples instead of since the start.
    #[arg(long, value_name = "SAMPLES")]
    window: Option<u64>,
    /// Picture size in pixels, `WIDTHxHEIGHT`.
    #[arg(long, default_value = "900x560", value_parser = parse_size)]
    size: (u32, u32),
}

#[derive(Debug, clap::Args)]
struct WeightsArgs {
    /// A report JSON (`train --report-json`, which records the image geometry) or a model file
    /// (`train --model`).
    input: PathBuf,
    /// Output PNG.
    #[arg(long, value_name = "PNG")]
    out: PathBuf,
    /// Image width in pixels (default: from the report, or √m for a square model).
    #[arg(long, requires = "height")]
    width: Option<u16>,
    /// Image height in pixels.
    #[arg(long, requires = "width")]
    height: Option<u16>,
    /// Side of one weight's square in the picture, in PNG pixels (default: about 336 / side).
    #[arg(long, value_name = "PX", value_parser = clap::value_parser!(u32).range(1..=256))]
    cell: Option<u32>,
    /// Only the heat map: exactly (width · cell) × (height · cell) pixels, no text or colour bar.
    #[arg(long)]
    bare: bool,
}

#[derive(Debug, clap::Args)]
struct ConvergenceArgs {
    /// Train reports (`train --report-json`), one line each.
    #[arg(required = true, value_name = "REPORT")]
    reports: Vec<PathBuf>,
    /// Output PNG.
    #[arg(long, value_name = "PNG")]
    out: PathBuf,
    /// Picture size in pixels, `WIDTHxHEIGHT`.
    #[arg(long, default_value = "900x560", value_parser = parse_size)]
    size: (u32, u32),
}

impl Args {
    /// `(option, path)` of the inputs and the output, for the output checks.
    pub fn paths(&self) -> (Named<'_>, Named<'_>) {
        match &self.what {
            What::Weights(a) => (
                vec![("INPUT", a.input.as_path())],
                vec![("--out", a.out.as_path())],
            ),
            What::Convergence(a) => (
                a.reports.iter().map(|r| ("REPORT", r.as_path())).collect(),
                vec![("--out", a.out.as_path())],
            ),
            What::Stream(a) => (
                a.reports.iter().map(|r| ("REPORT", r.as_path())).collect(),
                vec![("--out", a.out.as_path())],
            ),
            What::Anytime(a) => (
                a.curves.iter().map(|r| ("TSV", r.as_path())).collect(),
                vec![("--out", a.out.as_path())],
            ),
        }
    }
}

fn parse_size(s: &str) -> Result<(u32, u32), String> {
    let (w, h) = s
        .split_once(['x', 'X'])
        .ok_or_else(|| format!("`{s}`: expected WIDTHxHEIGHT"))?;
    let px = |v: &str| {
        v.parse::<u32>()
            .ok()
            .filter(|p| (200..=8192).contains(p))
            .ok_or_else(|| format!("`{v}`: a size is 200 to 8192 pixels"))
    };
    Ok((px(w)?, px(h)?))
}

/// `tinynewton plot`.
pub fn run(args: &Args) -> Result<()> {
    register_font()?;
    match &args.what {
        What::Weights(a) => weights(a),
        What::Convergence(a) => convergence(a),
        What::Stream(a) => stream(a),
        What::Anytime(a) => anytime(a),
    }
}

/// The font family every text style below names.
const FONT: &str = "sans-serif";

fn register_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, dejavu::sans::regular()).is_ok()
    });
    if ok {
        Ok(())
    } else {
        bail!("the embedded DejaVu Sans font was rejected by the font renderer")
    }
}

/// Encodes an RGB buffer as PNG and writes it in one piece.
fn write_png(path: &Path, rgb: Vec<u8>, (w, h): (u32, u32)) -> Result<()> {
    let img = image::RgbImage::from_raw(w, h, rgb).context("internal: RGB buffer size")?;
    let mut png = Vec::new();
    img.write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
        .context("cannot encode the PNG")?;
    write_all_or_nothing(&[(path, &png)])?;
    say!("wrote {} ({w}x{h} px)", path.display());
    Ok(())
}

fn draw_err<E: std::fmt::Debug>(e: E) -> anyhow::Error {
    anyhow!("drawing failed: {e:?}")
}

// ---------------------------------------------------------------------------------------------
// Weights.

/// The weights to draw, with what is known about them.
struct WeightImage {
    /// One panel (two classes) or one per class (`K` classes, in class order).
    panels: Vec<Panel>,
    width: usize,
    height: usize,
    /// Two classes: `(positive, negative)` original classes, from a report (`None`: rest).
    classes: Option<(Option<i32>, Option<i32>)>,
    /// Short description for the title (`C = 1, cg`).
    note: String,
}

/// One weight vector and its bias; `label` names the class for a `K`-class model.
struct Panel {
    weights: Vec<f32>,
    bias: f32,
    label: Option<String>,
}

impl WeightImage {
    fn all_weights(&self) -> impl Iterator<Item = f32> + '_ {
        self.panels.iter().flat_map(|p| p.weights.iter().copied())
    }
}

/// Diverging map: `t ∈ [-1, 1]` to blue (−1), white (0), red (+1), linear in each half.
pub fn diverging(t: f32) -> RGBColor {
    let t = if t.is_nan() { 0.0 } else { t.clamp(-1.0, 1.0) };
    // Fade the other two channels from 255 (white) to the saturated colour's value.
    let fade = |a: f32| (255.0 * (1.0 - a)).round() as u8;
    if t >= 0.0 {
        // Red end: (200, 30, 30) rather than pure red, easier on the eye; same for blue.
        let a = t;
        RGBColor(
            (255.0 - 55.0 * a).round() as u8,
            fade(a * 0.88),
            fade(a * 0.88),
        )
    } else {
        let a = -t;
        RGBColor(
            fade(a * 0.88),
            (255.0 - 0.6 * 255.0 * a).round() as u8,
            (255.0 - 55.0 * a).round() as u8,
        )
    }
}

/// `K` panels of `m` weights each, labelled with the class labels.
fn class_panels(m: usize, labels: &[String], weights: &[f32], biases: &[f32]) -> Vec<Panel> {
    labels
        .iter()
        .zip(weights.chunks_exact(m.max(1)))
        .zip(biases)
        .map(|((l, w), b)| Panel {
            weights: w.to_vec(),
            bias: *b,
            label: Some(l.clone()),
        })
        .collect()
}

/// The side of a square image of `m` pixels, if `m` is a square.
fn square(m: usize) -> Option<(usize, usize)> {
    let side = (1..=m).find(|s| s * s >= m).unwrap_or(0);
    (side * side == m).then_some((side, side))
}

fn load_weights(a: &WeightsArgs) -> Result<WeightImage> {
    let bytes =
        std::fs::read(&a.input).with_context(|| format!("{}: cannot read", a.input.display()))?;
    let unusable = |e: tinynewton::ModelError| {
        anyhow!(
            "{}: not a usable model file ({e}): give a file written by train --model",
            a.input.display()
        )
    };
    let (m, panels, geometry, classes, note) = if bytes.starts_with(&MODEL_MAGIC) {
        if image_version(&bytes) == Ok(MULTI_MODEL_VERSION) {
            let model = MultiClassModel::from_bytes(&bytes).map_err(unusable)?;
            let m = model.n_features();
            let labels: Vec<String> = model.labels().iter().map(|l| l.to_string()).collect();
            let (mut w, mut b) = (Vec::new(), Vec::new());
            for wk in model.weights().chunks_exact(m + 1) {
                w.extend_from_slice(&wk[..m]);
                b.push(wk[m]);
            }
            let note = format!("model file, {} classes", model.n_classes());
            (m, class_panels(m, &labels, &w, &b), square(m), None, note)
        } else {
            let model =
                Model::<{ crate::train::MAX_FEATURES }>::from_bytes(&bytes).map_err(unusable)?;
            let m = model.n_features();
            let panel = Panel {
                weights: model.weights().to_vec(),
                bias: model.bias(),
                label: None,
            };
            (m, vec![panel], square(m), None, String::from("model file"))
        }
    } else {
        if std::str::from_utf8(&bytes).is_err() {
            bail!(
                "{}: neither a model file (train --model) nor a train report (train --report-json)",
                a.input.display()
            );
        }
        let r = TrainReport::read(&a.input)?;
        let m = r.data.m as usize;
        let geometry =
            (r.data.width != 0).then_some((usize::from(r.data.width), usize::from(r.data.height)));
        let solver = match (&r.report, &r.ovr) {
            (Some(rep), _) => solver_name(rep.solver),
            (None, Some(o)) => o
                .classes
                .first()
                .map_or("", |c| solver_name(c.report.solver)),
            _ => "",
        };
        let labels: Vec<String> = r.data.classes.iter().map(|c| label_name(c.label)).collect();
        let (panels, classes, note) = match r.multiclass {
            None => {
                let panel = Panel {
                    weights: r.weights.clone(),
                    bias: r.biases().first().copied().unwrap_or(0.0),
                    label: None,
                };
                let class = |k: usize| r.data.classes.get(k).and_then(|c| c.label);
                let note = format!(
                    "C+ = {}, C- = {}, bias {}, {solver}",
                    r.settings.c_pos,
                    r.settings.c_neg,
                    bias_name(r.settings.bias)
                );
                (vec![panel], Some((class(0), class(1))), note)
            }
            Some(method) => {
                let note = format!(
                    "{} classes, {}, C = {}, bias {}, {solver}",
                    r.data.n_classes,
                    match method {
                        Multiclass::Softmax => "softmax",
                        Multiclass::Ovr => "one-vs-rest",
                    },
                    r.settings.c_pos,
                    bias_name(r.settings.bias)
                );
                (
                    class_panels(m, &labels, &r.weights, &r.biases()),
                    None,
                    note,
                )
            }
        };
        (m, panels, geometry, classes, note)
    };
    let (width, height) = match (a.width, a.height) {
        (Some(w), Some(h)) => (usize::from(w), usize::from(h)),
        _ => geometry.with_context(|| {
            format!(
                "{}: {m} weights, no image geometry recorded: give --width and --height",
                a.input.display(),
            )
        })?,
    };
    if width * height != m || width == 0 {
        bail!(
            "{}: {width}x{height} does not match the {m} weights",
            a.input.display(),
        );
    }
    Ok(WeightImage {
        panels,
        width,
        height,
        classes,
        note,
    })
}

fn solver_name(s: tinynewton::SolverKind) -> &'static str {
    s.name()
}

fn bias_name(b: tinynewton::BiasMode) -> &'static str {
    match b {
        tinynewton::BiasMode::Regularized => "regularized",
        tinynewton::BiasMode::Free => "free",
    }
}

// Layout of the annotated heat map, in PNG pixels.
const MARGIN: u32 = 16;
const TITLE_H: u32 = 58;
const BAR_GAP: u32 = 18;
const BAR_W: u32 = 22;
const BAR_LABELS_W: u32 = 84;

/// Height of a panel's label line above its map (`K` classes).
const PANEL_LABEL_H: u32 = 22;
/// Gap between panels (`K` classes).
const PANEL_GAP: u32 = 14;

/// `(columns, rows)` of the grid of `k` panels: at most 5 columns up to 25 classes, else about
/// square.
fn grid(k: usize) -> (usize, usize) {
    let cols = if k <= 25 {
        k.min(5)
    } else {
        (1..=k).find(|c| c * c >= k).unwrap_or(k)
    }
    .max(1);
    (cols, k.div_ceil(cols))
}

fn weights(a: &WeightsArgs) -> Result<()> {
    let img = load_weights(a)?;
    let multi = img.panels.len() > 1;
    let side = img.width.max(img.height) as u32;
    let default_cell = if multi { 160 / side } else { 336 / side };
    let cell = a.cell.unwrap_or(default_cell.max(1));
    let (map_w, map_h) = (img.width as u32 * cell, img.height as u32 * cell);
    let (cols, rows) = grid(img.panels.len());
    let (label_h, gap) = match (multi, a.bare) {
        (false, _) => (0, 0),
        (true, true) => (0, cell),
        (true, false) => (PANEL_LABEL_H, PANEL_GAP),
    };
    let grid_w = cols as u32 * map_w + (cols as u32 - 1) * gap;
    let grid_h = rows as u32 * (label_h + map_h) + (rows as u32 - 1) * gap;
    let (canvas, origin) = if a.bare {
        ((grid_w, grid_h), (0, 0))
    } else {
        (
            (
                MARGIN + grid_w + BAR_GAP + BAR_W + BAR_LABELS_W,
                TITLE_H + grid_h + MARGIN,
            ),
            (MARGIN, TITLE_H),
        )
    };
    // Symmetric scale shared by every panel, so white is exactly zero and equal magnitudes get
    // equal saturation.
    let vmax = img.all_weights().fold(0.0f32, |m, w| m.max(w.abs()));
    let scale = if vmax > 0.0 { vmax } else { 1.0 };

    let mut rgb = vec![0u8; canvas.0 as usize * canvas.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, canvas).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let c = cell as i32;
        let label_style = ((FONT, 15).into_font()).color(&BLACK);
        for (p, panel) in img.panels.iter().enumerate() {
            let (pc, pr) = ((p % cols) as u32, (p / cols) as u32);
            let px = origin.0 + pc * (map_w + gap);
            let py = origin.1 + pr * (label_h + map_h + gap);
            let (ox, oy) = (px as i32, (py + label_h) as i32);
            for (k, w) in panel.weights.iter().enumerate() {
                let (row, col) = ((k / img.width) as i32, (k % img.width) as i32);
                let top_left = (ox + col * c, oy + row * c);
                let bottom_right = (top_left.0 + c, top_left.1 + c);
                root.draw(&Rectangle::new(
                    [top_left, bottom_right],
                    diverging(w / scale).filled(),
                ))
                .map_err(draw_err)?;
            }
            if multi && !a.bare {
                let text = format!(
                    "{} (b {:+.2})",
                    panel.label.as_deref().unwrap_or("?"),
                    panel.bias
                );
                root.draw_text(&text, &label_style, (ox, py as i32 + 2))
                    .map_err(draw_err)?;
                root.draw(&Rectangle::new(
                    [(ox - 1, oy - 1), (ox + map_w as i32, oy + map_h as i32)],
                    BLACK.stroke_width(1),
                ))
                .map_err(draw_err)?;
            }
        }
        if !a.bare {
            draw_weight_annotations(&root, &img, vmax, origin, (grid_w, grid_h))?;
        }
        root.present().map_err(draw_err)?;
    }
    write_png(&a.out, rgb, canvas)?;
    if multi {
        say!(
            "{} classes of {}x{} weights in a {cols}x{rows} grid, symmetric scale ±{:.4}",
            img.panels.len(),
            img.width,
            img.height,
            vmax
        );
    } else {
        say!(
            "{}x{} weights, symmetric scale ±{:.4}, bias {:+.4}",
            img.width,
            img.height,
            vmax,
            img.panels.first().map_or(0.0, |p| p.bias)
        );
    }
    Ok(())
}

fn draw_weight_annotations<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    img: &WeightImage,
    vmax: f32,
    (ox, oy): (u32, u32),
    (map_w, map_h): (u32, u32),
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let (ox, oy, map_w, map_h) = (ox as i32, oy as i32, map_w as i32, map_h as i32);
    let title = ((FONT, 19).into_font()).color(&BLACK);
    let small = ((FONT, 14).into_font()).color(&RGBColor(60, 60, 60));
    let multi = img.panels.len() > 1;
    let classes = match img.classes {
        _ if multi => "one map per class, red raises the class's score, blue lowers it".to_string(),
        Some((pos, neg)) => format!(
            "red → {} (+1), blue → {} (−1)",
            label_name(pos),
            label_name(neg)
        ),
        None => "red → +1, blue → −1".to_string(),
    };
    root.draw_text(
        &format!("weights {}×{}: {classes}", img.width, img.height),
        &title,
        (MARGIN as i32, 10),
    )
    .map_err(draw_err)?;
    let note = if multi {
        img.note.clone()
    } else {
        format!(
            "{}; bias {:+.3}",
            img.note,
            img.panels.first().map_or(0.0, |p| p.bias)
        )
    };
    root.draw_text(&note, &small, (MARGIN as i32, 36))
        .map_err(draw_err)?;
    if !multi {
        // Frame around the map.
        root.draw(&Rectangle::new(
            [(ox - 1, oy - 1), (ox + map_w, oy + map_h)],
            BLACK.stroke_width(1),
        ))
        .map_err(draw_err)?;
    }
    // Colour bar: top = +vmax, bottom = −vmax.
    let bx = ox + map_w + BAR_GAP as i32;
    for py in 0..map_h {
        let t = 1.0 - 2.0 * py as f32 / (map_h - 1).max(1) as f32;
        root.draw(&Rectangle::new(
            [(bx, oy + py), (bx + BAR_W as i32, oy + py + 1)],
            diverging(t).filled(),
        ))
        .map_err(draw_err)?;
    }
    root.draw(&Rectangle::new(
        [(bx - 1, oy - 1), (bx + BAR_W as i32, oy + map_h)],
        BLACK.stroke_width(1),
    ))
    .map_err(draw_err)?;
    let lx = bx + BAR_W as i32 + 6;
    for (label, y) in [
        (format!("+{vmax:.3}"), oy),
        ("0".to_string(), oy + map_h / 2 - 7),
        (format!("−{vmax:.3}"), oy + map_h - 14),
    ] {
        root.draw_text(&label, &small, (lx, y)).map_err(draw_err)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Convergence.

/// Line colours, distinguishable and printable.
const COLOURS: [RGBColor; 6] = [
    RGBColor(31, 119, 180),
    RGBColor(214, 39, 40),
    RGBColor(44, 160, 44),
    RGBColor(148, 103, 189),
    RGBColor(255, 127, 14),
    RGBColor(23, 190, 207),
];

/// One curve: `(iteration, log10 ‖g‖/‖g0‖)` and its legend.
struct Curve {
    label: String,
    points: Vec<(f64, f64)>,
    epsilon: f32,
}

fn status_word(s: Status) -> &'static str {
    s.name()
}

/// `(iteration, log10 ‖g‖/‖g0‖)` of a history; `‖g‖ = 0` exactly has no logarithm and is left
/// out.
fn log_points(history: &[tinynewton::Iteration]) -> Vec<(f64, f64)> {
    history
        .iter()
        .filter(|h| h.grad_rel > 0.0 && h.grad_rel.is_finite())
        .map(|h| (f64::from(h.iter), f64::from(h.grad_rel).log10()))
        .collect()
}

/// The curves of one report: one, or one per class for one-vs-rest.
fn curves_of(path: &Path) -> Result<Vec<Curve>> {
    let r = TrainReport::read(path)?;
    let geometry = if r.data.width != 0 {
        format!("{}×{}", r.data.width, r.data.height)
    } else {
        format!("m = {}", r.data.m)
    };
    let warm = if r.settings.warm_start { ", warm" } else { "" };
    let method = match r.multiclass {
        None => String::new(),
        Some(Multiclass::Softmax) => format!(" softmax K = {}", r.data.n_classes),
        Some(Multiclass::Ovr) => " ovr".to_owned(),
    };
    let describe = |rep: &tinynewton::Report| {
        let cg = if rep.solver == tinynewton::SolverKind::Cg {
            format!(", {} CG", rep.cg_iterations)
        } else {
            String::new()
        };
        let status = if rep.status == Status::Converged {
            String::new()
        } else {
            format!(" ({})", status_word(rep.status))
        };
        format!(
            "{} {}: {} it{cg}{warm}{status}",
            r.data.encoding,
            solver_name(rep.solver),
            rep.iterations
        )
    };
    let mut curves = Vec::new();
    match (&r.report, &r.ovr) {
        (Some(rep), _) => curves.push(Curve {
            label: format!("{geometry}{method} {}", describe(rep)),
            points: log_points(&r.history),
            epsilon: r.settings.epsilon,
        }),
        (None, Some(ovr)) => {
            for c in &ovr.classes {
                curves.push(Curve {
                    label: format!(
                        "{geometry}{method} class {} {}",
                        c.label,
                        describe(&c.report)
                    ),
                    points: log_points(&c.history),
                    epsilon: r.settings.epsilon,
                });
            }
        }
        (None, None) => bail!("{}: no training run in the report", path.display()),
    }
    if curves.iter().any(|c| c.points.is_empty()) {
        bail!("{}: no iteration history", path.display());
    }
    Ok(curves)
}

fn convergence(a: &ConvergenceArgs) -> Result<()> {
    let curves = a
        .reports
        .iter()
        .map(|p| curves_of(p))
        .collect::<Result<Vec<_>>>()?
        .into_iter()
        .flatten()
        .collect::<Vec<_>>();
    let all = curves.iter().flat_map(|c| c.points.iter());
    let x_max = all.clone().map(|p| p.0).fold(1.0, f64::max);
    let epsilons = curves
        .iter()
        .map(|c| f64::from(c.epsilon).log10())
        .collect::<Vec<_>>();
    let y_min = all
        .map(|p| p.1)
        .chain(epsilons.iter().copied())
        .fold(0.0, f64::min);
    let (y_lo, y_hi) = ((y_min - 0.5).floor(), 0.5);

    let mut rgb = vec![0u8; a.size.0 as usize * a.size.1 as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, a.size).into_drawing_area();
        root.fill(&WHITE).map_err(draw_err)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(
                "Newton convergence: log10 ‖∇f‖ / ‖∇f(0)‖ per iteration",
                (FONT, 22),
            )
            .margin(16)
            .x_label_area_size(44)
            .y_label_area_size(56)
            .build_cartesian_2d(-0.3..x_max + 0.3, y_lo..y_hi)
            .map_err(draw_err)?;
        chart
            .configure_mesh()
            .x_desc("Newton iteration")
            .y_desc("log10 ‖∇f‖ / ‖∇f(0)‖")
            .x_labels((x_max as usize + 1).min(25))
            .y_labels(((y_hi - y_lo) as usize + 1).min(25))
            .x_label_formatter(&|x| format!("{x:.0}"))
            .y_label_formatter(&|y| format!("{y:.0}"))
            .label_style((FONT, 15))
            .axis_desc_style((FONT, 16))
            // Only the labelled grid lines: the fine ones clutter a log plot.
            .light_line_style(TRANSPARENT)
            .bold_line_style(RGBColor(225, 225, 225))
            .draw()
            .map_err(draw_err)?;
        // The tolerances: where each run was asked to stop.
        let mut seen: Vec<f64> = Vec::new();
        for &e in &epsilons {
            if seen.iter().any(|s| (s - e).abs() < 1e-9) {
                continue;
            }
            seen.push(e);
            chart
                .draw_series(DashedLineSeries::new(
                    [(-0.3, e), (x_max + 0.3, e)],
                    8,
                    6,
                    RGBColor(90, 90, 90).stroke_width(2),
                ))
                .map_err(draw_err)?
                .label(format!("tolerance ε = 1e{e:.0}"))
                .legend(|(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], RGBColor(90, 90, 90).stroke_width(2))
                });
        }
        for (k, c) in curves.iter().enumerate() {
            let colour = COLOURS[k % COLOURS.len()];
            chart
                .draw_series(
                    LineSeries::new(c.points.iter().copied(), colour.stroke_width(2)).point_size(4),
                )
                .map_err(draw_err)?
                .label(c.label.clone())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], colour.stroke_width(2))
                });
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .label_font((FONT, 15))
            .background_style(WHITE.mix(0.9))
            .border_style(RGBColor(180, 180, 180))
            .draw()
            .map_err(draw_err)?;
        root.present().map_err(draw_err)?;
    }
    write_png(&a.out, rgb, a.size)?;
    for c in &curves {
        let last = c.points.last().map(|p| p.1).unwrap_or(0.0);
        say!("{}: final log10 |g|/|g0| {last:.2}", c.label);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Streams.

/// One learner's accuracy curve (samples, %) from a stream report.
struct StreamCurve {
    label: String,
    points: Vec<(f64, f64)>,
    dashed: bool,
}

/// The curves of one stream report: `(seen, correct)` checkpoints turned into cumulative or
/// windowed accuracy; plus the drift's sample, if any.
fn stream_curves(path: &Path, window: Option<u64>) -> Result<(Vec<StreamCurve>, Option<f64>)> {
    let text = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let v: serde_json::Value = serde_json::from_slice(&text)
        .with_context(|| format!("{}: not a stream report", path.display()))?;
    let cps = v["checkpoints"]
        .as_array()
        .with_context(|| format!("{}: no checkpoints (not a stream report?)", path.display()))?;
    let field = |c: &serde_json::Value, k: &str| -> Result<u64> {
        c[k].as_u64()
            .with_context(|| format!("{}: a checkpoint without {k}", path.display()))
    };
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut curves = Vec::new();
    for (key, who, dashed) in [
        ("newton_correct", "Newton", false),
        ("pa_correct", "PA-II", true),
    ] {
        let counts: Vec<(u64, u64)> = cps
            .iter()
            .map(|c| Ok((field(c, "seen")?, field(c, key)?)))
            .collect::<Result<_>>()?;
        let points = match window {
            None => counts
                .iter()
                .map(|&(seen, ok)| (seen as f64, 100.0 * ok as f64 / seen.max(1) as f64))
                .collect(),
            Some(w) => crate::stream::windowed_accuracy(&counts, w)
                .into_iter()
                .map(|(seen, acc)| (seen as f64, acc))
                .collect(),
        };
        curves.push(StreamCurve {
            label: format!("{name}: {who}"),
            points,
            dashed,
        });
    }
    Ok((curves, v["drift"]["at"].as_f64()))
}

fn stream(a: &StreamArgs) -> Result<()> {
    if a.window == Some(0) {
        bail!("--window must be at least 1");
    }
    let mut curves = Vec::new();
    let mut drifts = Vec::new();
    for r in &a.reports {
        let (c, d) = stream_curves(r, a.window)?;
        curves.extend(c);
        drifts.extend(d);
    }
    let all = curves.iter().flat_map(|c| c.points.iter());
    let x_max = all.clone().map(|p| p.0).fold(1.0, f64::max);
    let y_min = all.map(|p| p.1).fold(100.0, f64::min);
    let y_lo = (y_min / 10.0).floor() * 10.0;
    let caption = match a.window {
        None => "Prequential accuracy (predicted before learned), since the start".to_owned(),
        Some(w) => format!("Prequential accuracy over the last {w} samples"),
    };
    let frame = AccuracyFrame {
        size: a.size,
        caption: &caption,
        x_max,
        y_lo,
        x_desc: "samples streamed",
        y_desc: "accuracy (%)",
    };
    let rgb = frame.draw(|chart| {
        for &d in &drifts {
            chart
                .draw_series(DashedLineSeries::new(
                    [(d, y_lo), (d, 100.5)],
                    6,
                    6,
                    RGBColor(90, 90, 90).stroke_width(1),
                ))
                .map_err(draw_err)?;
        }
        for (k, c) in curves.iter().enumerate() {
            let colour = COLOURS[(k / 2) % COLOURS.len()];
            let style = colour.stroke_width(2);
            let series = if c.dashed {
                chart.draw_series(DashedLineSeries::new(c.points.iter().copied(), 7, 5, style))
            } else {
                chart.draw_series(LineSeries::new(c.points.iter().copied(), style))
            };
            series
                .map_err(draw_err)?
                .label(c.label.clone())
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
        }
        Ok(())
    })?;
    write_png(&a.out, rgb, a.size)
}

/// The chart of an accuracy (%, from `y_lo` to 100) against a count from 0 to `x_max`: the
/// frame, grid and legend the stream and anytime plots share.
struct AccuracyFrame<'s> {
    size: (u32, u32),
    caption: &'s str,
    x_max: f64,
    y_lo: f64,
    x_desc: &'s str,
    y_desc: &'s str,
}

/// The chart [`AccuracyFrame::draw`] hands its `series` closure.
type AccuracyChart<'a, 'b> = ChartContext<
    'a,
    BitMapBackend<'b>,
    Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
>;

impl AccuracyFrame<'_> {
    /// Draws the frame, lets `series` add the lines, then the legend; the RGB pixels.
    fn draw(
        &self,
        series: impl FnOnce(&mut AccuracyChart<'_, '_>) -> Result<()>,
    ) -> Result<Vec<u8>> {
        let (w, h) = self.size;
        let mut rgb = vec![0u8; w as usize * h as usize * 3];
        {
            let root = BitMapBackend::with_buffer(&mut rgb, self.size).into_drawing_area();
            root.fill(&WHITE).map_err(draw_err)?;
            let mut chart = ChartBuilder::on(&root)
                .caption(self.caption, (FONT, 22))
                .margin(16)
                .x_label_area_size(44)
                .y_label_area_size(56)
                .build_cartesian_2d(0.0..self.x_max, self.y_lo..100.5)
                .map_err(draw_err)?;
            chart
                .configure_mesh()
                .x_desc(self.x_desc)
                .y_desc(self.y_desc)
                .label_style((FONT, 15))
                .axis_desc_style((FONT, 16))
                .light_line_style(TRANSPARENT)
                .bold_line_style(RGBColor(225, 225, 225))
                .draw()
                .map_err(draw_err)?;
            series(&mut chart)?;
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerRight)
                .label_font((FONT, 15))
                .background_style(WHITE.mix(0.9))
                .border_style(RGBColor(180, 180, 180))
                .draw()
                .map_err(draw_err)?;
            root.present().map_err(draw_err)?;
        }
        Ok(rgb)
    }
}

// ---------------------------------------------------------------------------------------------
// Anytime curves.

/// `(cycles, accuracy %)` of each row of an anytime TSV.
fn anytime_points(path: &Path) -> Result<Vec<(f64, f64)>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .enumerate()
        .map(|(k, l)| {
            let f: Vec<&str> = l.split('\t').collect();
            let num = |i: usize| -> Result<f64> {
                f.get(i)
                    .and_then(|v| v.trim().parse::<f64>().ok())
                    .filter(|v| v.is_finite())
                    .with_context(|| {
                        format!(
                            "{} line {}: expected 5 numeric columns",
                            path.display(),
                            k + 1
                        )
                    })
            };
            Ok((num(3)?, num(4)?))
        })
        .collect()
}

fn anytime(a: &AnytimeArgs) -> Result<()> {
    let mut curves = Vec::new();
    for p in &a.curves {
        let name = p
            .file_stem()
            .map(|s| {
                s.to_string_lossy()
                    .trim_start_matches("anytime-")
                    .to_owned()
            })
            .unwrap_or_default();
        curves.push((name, anytime_points(p)?));
    }
    let marks = a
        .mark
        .iter()
        .map(|m| {
            let mut it = m.splitn(3, ',');
            let c = it.next().and_then(|v| v.trim().parse::<f64>().ok());
            let y = it.next().and_then(|v| v.trim().parse::<f64>().ok());
            match (c, y, it.next()) {
                (Some(c), Some(y), Some(l)) => Ok((c, y, l.to_owned())),
                _ => bail!("--mark {m:?}: expected CYCLES,ACCURACY,LABEL"),
            }
        })
        .collect::<Result<Vec<_>>>()?;
    let x_max = a.max_cycles.unwrap_or_else(|| {
        curves
            .iter()
            .flat_map(|c| c.1.iter().map(|p| p.0))
            .fold(1.0, f64::max)
    });
    let x_max = x_max / 1e6;
    let y_min = curves
        .iter()
        .flat_map(|c| c.1.iter().filter(|p| p.0 / 1e6 <= x_max).map(|p| p.1))
        .chain(marks.iter().map(|m| m.1))
        .fold(100.0, f64::min);
    let y_lo = (y_min / 5.0).floor() * 5.0;
    let frame = AccuracyFrame {
        size: a.size,
        caption: "Test accuracy against training cycles (anytime training)",
        x_max,
        y_lo,
        x_desc: "modelled cycles (millions)",
        y_desc: "test accuracy (%)",
    };
    let rgb = frame.draw(|chart| {
        for (k, (name, points)) in curves.iter().enumerate() {
            let style = COLOURS[k % COLOURS.len()].stroke_width(2);
            let pts: Vec<(f64, f64)> = points
                .iter()
                .map(|p| (p.0 / 1e6, p.1))
                .filter(|p| p.0 <= x_max)
                .collect();
            chart
                .draw_series(LineSeries::new(pts.iter().copied(), style).point_size(3))
                .map_err(draw_err)?
                .label(name.clone())
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], style));
        }
        for (c, y, label) in &marks {
            let at = (c / 1e6, *y);
            chart
                .draw_series([Cross::new(at, 8, BLACK.stroke_width(2))])
                .map_err(draw_err)?
                .label(label.clone())
                .legend(|(x, y)| Cross::new((x + 10, y), 5, BLACK.stroke_width(2)));
        }
        Ok(())
    })?;
    write_png(&a.out, rgb, a.size)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diverging_is_white_at_zero_and_symmetric() {
        assert_eq!(diverging(0.0), RGBColor(255, 255, 255));
        let (r, b) = (diverging(1.0), diverging(-1.0));
        assert!(r.0 > 150 && r.1 < 60 && r.2 < 60, "{r:?}");
        assert!(b.2 > 150 && b.0 < 60, "{b:?}");
        // Equal magnitudes fade equally: the red end's G equals the blue end's R.
        for t in [0.1, 0.5, 0.9] {
            assert_eq!(diverging(t).1, diverging(-t).0);
        }
        assert_eq!(diverging(f32::NAN), RGBColor(255, 255, 255));
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("900x560"), Ok((900, 560)));
        assert!(parse_size("900").is_err());
        assert!(parse_size("10x10").is_err());
    }
}
