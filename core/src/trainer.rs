//! Entry points: check the settings, capacities and data, choose the solver, build the
//! objective over borrowed buffers, and run the solver ([`newton`], [`gradient_descent`], [`lbfgs`]).
//!
//! * [`train`]: two classes, binary logistic regression;
//! * [`train_softmax`]: `K` classes, the multinomial objective;
//! * [`train_one_vs_rest`]: `K` classes as `K` binary problems sharing one workspace.

use crate::data::{Dequant, Rows};
use crate::error::Error;
use crate::gd::gradient_descent;
use crate::lbfgs::lbfgs;
use crate::newton::{newton, Flow, Iteration, Report, Status, Vectors};
use crate::objective::logistic::LogisticObjective;
use crate::objective::softmax::SoftmaxObjective;
use crate::objective::Objective;
use crate::settings::{Settings, Shape, SolverKind};
use crate::workspace::{Buffers, Sizes};

/// Trains L2-regularised logistic regression on two-class `data` by the solver of
/// `settings` (Newton by default; gradient descent or L-BFGS), in the buffers of a [`Workspace`](crate::Workspace) (pass `&mut ws`) or carved ones.
///
/// Checks, in order, before touching the weights: settings ([`Settings::validate`]),
/// capacities (`n ≤ N`, `m + 1 ≤ M`), the data
/// ([`check_data`](crate::objective::logistic::check_data)), the triangle capacity when
/// Cholesky is demanded, and on a warm start the buffers' weights (length `m + 1`, finite).
/// Then runs the solver, calling `on_iteration` after every accepted step, and leaves the
/// final weights in the buffers ([`Workspace::weights`](crate::Workspace::weights)). A
/// non-`Converged` [`Status`] is reported in `Ok`, not as an error.
///
/// `on_iteration` may return `()` or a [`ControlFlow`](core::ops::ControlFlow):
/// `Break(())` stops the run with [`Status::Stopped`] and the current weights (anytime
/// training; [`Settings::max_passes`] is the budget the core keeps itself).
pub fn train<'a, R: Rows + ?Sized, C: Flow>(
    buffers: impl Into<Buffers<'a>>,
    data: &R,
    settings: &Settings,
    mut on_iteration: impl FnMut(&Iteration) -> C,
) -> Result<Report, Error> {
    train_anytime(buffers, data, settings, |it: &Iteration, _: &[f32]| {
        on_iteration(it)
    })
}

/// [`train`] with a callback that also sees the current weights (`m + 1`, bias last) after
/// every accepted step: anytime training, where the caller evaluates the model it has so far
/// (e.g. test accuracy against a cycle count) and may stop with `ControlFlow::Break(())`
/// ([`Status::Stopped`]; the weights stay in the buffers).
pub fn train_anytime<'a, R: Rows + ?Sized, C: Flow>(
    buffers: impl Into<Buffers<'a>>,
    data: &R,
    settings: &Settings,
    on_iteration: impl FnMut(&Iteration, &[f32]) -> C,
) -> Result<Report, Error> {
    settings.validate()?;
    let b = buffers.into();
    b.check_fits(Sizes::binary(data.n_samples(), data.n_features(), false))?;
    let (vectors, samples, u, dim) = split(b);
    let shape = Shape::binary(data);
    let mut obj = LogisticObjective::new(data, settings, samples, u)?;
    run(&mut obj, vectors, dim, shape, settings, on_iteration)
}

/// Trains the multinomial (softmax) objective on `K`-class `data` ([`Rows::n_classes`],
/// [`Rows::class`]): `K(m + 1)` weights, class-major (`w_k` of `m + 1`, bias last). Checks as
/// [`train`] does, with `nK ≤ 3N` samples-times-classes and `K(m + 1) ≤ M` weights; every class
/// must have a sample.
pub fn train_softmax<'a, R: Rows + ?Sized, C: Flow>(
    buffers: impl Into<Buffers<'a>>,
    data: &R,
    settings: &Settings,
    mut on_iteration: impl FnMut(&Iteration) -> C,
) -> Result<Report, Error> {
    settings.validate()?;
    let b = buffers.into();
    let k = data.n_classes();
    if k < 2 {
        return Err(Error::SingleClass);
    }
    b.check_fits(Sizes::softmax(
        data.n_samples(),
        data.n_features(),
        k,
        false,
    ))?;
    let (vectors, samples, u, dim) = split(b);
    let shape = Shape::softmax(data);
    let mut obj = SoftmaxObjective::new(data, settings, samples, u)?;
    run(
        &mut obj,
        vectors,
        dim,
        shape,
        settings,
        |it: &Iteration, _: &[f32]| on_iteration(it),
    )
}

/// The buffers as the Newton loop's vectors and what the objective borrows: the per-sample
/// storage, the scratch `u`, and the weights-in-use count.
fn split(b: Buffers<'_>) -> (Vectors<'_>, &mut [f32], &mut [f32], &mut usize) {
    let Buffers {
        w,
        g,
        d,
        u,
        r,
        p,
        q,
        diag,
        samples,
        h,
        dim,
    } = b;
    let vectors = Vectors {
        w,
        g,
        d,
        r,
        p,
        q,
        diag,
        h,
    };
    (vectors, samples, u, dim)
}

/// The shared second half of the trainers: data check, solver choice for `shape`, warm-start
/// checks, the solver on the leading `n_weights` entries of each vector.
fn run<O: Objective, C: Flow>(
    obj: &mut O,
    v: Vectors<'_>,
    dim: &mut usize,
    shape: Shape,
    settings: &Settings,
    on_iteration: impl FnMut(&Iteration, &[f32]) -> C,
) -> Result<Report, Error> {
    obj.check_data()?;
    let n = obj.n_weights();
    let solver = settings.solver.resolve(&shape, v.h.len())?;
    if solver == SolverKind::Lbfgs {
        let needed = crate::settings::lbfgs_len(n, settings.lbfgs_pairs);
        if needed > v.h.len() {
            return Err(Error::PairsTooSmall {
                needed,
                capacity: v.h.len(),
            });
        }
    }
    let w = prefix(v.w, n);
    if settings.warm_start {
        if *dim != n {
            return Err(Error::LengthMismatch {
                expected: n,
                got: *dim,
            });
        }
        if let Some(index) = w.iter().position(|x| !x.is_finite()) {
            return Err(Error::NonFiniteWeights { index });
        }
    } else {
        *dim = n;
    }
    let vectors = Vectors {
        w,
        g: prefix(v.g, n),
        d: prefix(v.d, n),
        r: prefix(v.r, n),
        p: prefix(v.p, n),
        q: prefix(v.q, n),
        diag: prefix(v.diag, n),
        h: v.h,
    };
    let warm = settings.warm_start;
    match solver {
        SolverKind::GradientDescent => gradient_descent(obj, vectors, settings, warm, on_iteration),
        SolverKind::Lbfgs => lbfgs(obj, vectors, settings, warm, on_iteration),
        _ => newton(obj, vectors, solver, settings, warm, on_iteration),
    }
}

/// The leading `len` entries (empty if `len` exceeds the buffer: the kernels then answer a
/// length error rather than anything panicking).
fn prefix(buf: &mut [f32], len: usize) -> &mut [f32] {
    buf.get_mut(..len).unwrap_or(&mut [])
}

/// Class `positive` of a `K`-class dataset against the rest, as two-class rows: label `+1` for
/// the class, `−1` for every other. Rows and dequantisation are the inner dataset's.
pub struct OneVsRest<'a, R: Rows + ?Sized> {
    inner: &'a R,
    positive: usize,
}

impl<'a, R: Rows + ?Sized> OneVsRest<'a, R> {
    /// Class `positive` against the rest of `inner`.
    pub fn new(inner: &'a R, positive: usize) -> Self {
        Self { inner, positive }
    }
}

impl<R: Rows + ?Sized> Rows for OneVsRest<'_, R> {
    fn n_samples(&self) -> usize {
        self.inner.n_samples()
    }
    fn n_features(&self) -> usize {
        self.inner.n_features()
    }
    fn label(&self, i: usize) -> f32 {
        let c = self.inner.class(i);
        if c >= self.inner.n_classes() {
            f32::NAN
        } else if c == self.positive {
            1.0
        } else {
            -1.0
        }
    }
    fn dequant(&self) -> Dequant<'_> {
        self.inner.dequant()
    }
    fn nnz_hint(&self) -> usize {
        self.inner.nnz_hint()
    }
    fn dot_codes(&self, i: usize, u: &[f32]) -> f32 {
        self.inner.dot_codes(i, u)
    }
    fn axpy_codes(&self, i: usize, a: f32, out: &mut [f32]) {
        self.inner.axpy_codes(i, a, out)
    }
    // The passes go to the inner layout's own (its row walks and kernels, the dense `u8`
    // fixed-point product included); only the labels are this view's. Not `label_signs`: the
    // inner bytes are the inner labels, not these.
    fn dot_axpy_codes(
        &self,
        i: usize,
        u: &[f32],
        offset: f32,
        bias: f32,
        weight: f32,
        out: &mut [f32],
    ) -> f32 {
        self.inner.dot_axpy_codes(i, u, offset, bias, weight, out)
    }
    fn hess_vec_codes(
        &self,
        dd: &[f32],
        u: &[f32],
        offset: f32,
        bias: f32,
        out: &mut [f32],
        xv: &mut [f32],
    ) -> f32 {
        self.inner.hess_vec_codes(dd, u, offset, bias, out, xv)
    }
    fn axpy_codes_rows(&self, a: &mut dyn FnMut(usize) -> f32, out: &mut [f32]) {
        self.inner.axpy_codes_rows(a, out)
    }
    fn dot_codes_rows(&self, u: &[f32], out: &mut [f32]) {
        self.inner.dot_codes_rows(u, out)
    }
    fn first_non_finite(&self, i: usize, u: &mut [f32]) -> Option<usize> {
        self.inner.first_non_finite(i, u)
    }
    fn nonzero_codes(&self, i: usize, index: &mut [u16], code: &mut [f32]) -> usize {
        self.inner.nonzero_codes(i, index, code)
    }
    fn gram_codes(&self, dd: &[f32], index: &mut [u16], code: &mut [f32], h: &mut [f32]) -> bool {
        self.inner.gram_codes(dd, index, code, h)
    }
    fn codes(&self, i: usize, code: &mut [f32]) -> usize {
        self.inner.codes(i, code)
    }
}

/// What a one-vs-rest run did: the sums over its `K` binary runs and the first status that was
/// not `Converged` (`Converged` if all were).
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct OvrReport {
    /// Classes trained.
    pub classes: u32,
    /// Newton iterations over all classes.
    pub iterations: u32,
    /// CG iterations over all classes.
    pub cg_iterations: u32,
    /// `Converged` if every class converged, else the first other status.
    pub status: Status,
}

/// One-vs-rest (LIBLINEAR's multi-class default): for each class `k`, binary logistic
/// regression of `k` (`+1`) against the rest (`−1`), in the one workspace `buffers`, with the
/// weights of class `k` (`m + 1`, bias last) stored in `weights[k(m+1)..(k+1)(m+1)]`. With
/// `settings.warm_start`, each class starts from the weights already there. Calls
/// `on_class(k, &report)` after each class. Predict with the largest decision value
/// ([`argmax_row`]).
pub fn train_one_vs_rest<'a, R: Rows + ?Sized>(
    buffers: impl Into<Buffers<'a>>,
    data: &R,
    settings: &Settings,
    weights: &mut [f32],
    mut on_class: impl FnMut(usize, &Report),
) -> Result<OvrReport, Error> {
    settings.validate()?;
    let mut b = buffers.into();
    let k = data.n_classes();
    if k < 2 {
        return Err(Error::SingleClass);
    }
    let dim = data.n_features().saturating_add(1);
    let need = dim.saturating_mul(k);
    if weights.len() != need {
        return Err(Error::LengthMismatch {
            expected: need,
            got: weights.len(),
        });
    }
    if let Some(index) = weights.iter().position(|x| !x.is_finite()) {
        return Err(Error::NonFiniteWeights { index });
    }
    let mut total = OvrReport {
        classes: 0,
        iterations: 0,
        cg_iterations: 0,
        status: Status::Converged,
    };
    for (class, wk) in weights.chunks_exact_mut(dim).enumerate() {
        let rows = OneVsRest::new(data, class);
        if settings.warm_start {
            b.set_weights(wk)?;
        }
        let report = train(b.reborrow(), &rows, settings, |_| {})?;
        // `train` succeeded, so the buffers hold `dim` weights; an error, never a panic, if not.
        let trained = b.w.get(..dim).ok_or(Error::TooManyWeights {
            weights: dim,
            capacity: b.w.len(),
        })?;
        wk.copy_from_slice(trained);
        on_class(class, &report);
        // Sums of per-run counts bounded by the settings: saturating so they can never wrap.
        total.classes = total.classes.saturating_add(1);
        total.iterations = total.iterations.saturating_add(report.iterations);
        total.cg_iterations = total.cg_iterations.saturating_add(report.cg_iterations);
        if total.status == Status::Converged {
            total.status = report.status;
        }
    }
    Ok(total)
}

/// The class with the largest decision value `w_kᵀx̃_i` for row `i`, with `K` class-major
/// weight vectors of `m + 1` (bias last) in `weights` (softmax or one-vs-rest alike; ties go
/// to the lower class). `u` is scratch of at least `m`. `None` on a length mismatch.
pub fn argmax_row<R: Rows + ?Sized>(
    data: &R,
    i: usize,
    weights: &[f32],
    u: &mut [f32],
) -> Option<usize> {
    let m = data.n_features();
    let dim = m.checked_add(1)?;
    if dim == 0 || !weights.len().is_multiple_of(dim) || u.len() < m {
        return None;
    }
    let dequant = data.dequant();
    let mut best: Option<(usize, f32)> = None;
    for (k, wk) in weights.chunks_exact(dim).enumerate() {
        let mut offset = 0.0f32;
        for (j, (uj, wj)) in u.iter_mut().zip(wk).take(m).enumerate() {
            let (o, s) = dequant.pair(j);
            *uj = s * wj;
            offset += o * wj;
        }
        let z = (data.dot_codes(i, u) + offset) + wk.get(m).copied().unwrap_or(0.0);
        if best.is_none_or(|(_, b)| z > b) {
            best = Some((k, z));
        }
    }
    best.map(|(k, _)| k)
}

/// Evaluates the binary objective at `w` in `buffers` (no training): `f(w)`, with `∇f(w)` into
/// `g` when given, then `∇²f(w)·v` into `hv` and the Hessian's diagonal into `diag` when given.
/// Checks capacities and lengths, not the data (as [`train`] would). For derivative checks and
/// reports.
pub fn evaluate<'a, R: Rows + ?Sized>(
    buffers: impl Into<Buffers<'a>>,
    data: &R,
    settings: &Settings,
    w: &[f32],
    at: Evaluate<'_>,
) -> Result<f32, Error> {
    let b = buffers.into();
    b.check_fits(Sizes::binary(data.n_samples(), data.n_features(), false))?;
    let mut obj = LogisticObjective::new(data, settings, b.samples, b.u)?;
    let n = obj.n_weights();
    super::objective::expect_len(w.len(), n)?;
    obj.set_point(Some(w))?;
    let scratch = prefix(b.g, n);
    let f = obj.value_grad(w, at.g.unwrap_or(scratch))?;
    if let Some((v, hv)) = at.hess_vec {
        obj.hess_vec(v, hv)?;
    }
    if let Some(diag) = at.diag {
        obj.hess_diag(diag)?;
    }
    Ok(f)
}

/// What [`evaluate`] also computes besides `f(w)`.
#[derive(Default)]
pub struct Evaluate<'x> {
    /// `∇f(w)` into this slice.
    pub g: Option<&'x mut [f32]>,
    /// `∇²f(w)·v` for `(v, out)`.
    pub hess_vec: Option<(&'x [f32], &'x mut [f32])>,
    /// The Hessian's diagonal into this slice.
    pub diag: Option<&'x mut [f32]>,
}
