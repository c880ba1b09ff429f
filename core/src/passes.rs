//! Honest pass counts: an [`Objective`] wrapper that adds up, call by call, the passes over the
//! rows the wrapped objective says each call makes ([`Objective::passes`]). Every solver runs
//! on it, so [`Report::passes`](crate::Report::passes) compares Newton, L-BFGS and gradient
//! descent in the same unit whatever each one calls.
//!
//! The wrapper must forward every [`Objective`] method: a method added to the trait with a
//! default body must be forwarded here too, or the wrapped objective's override is bypassed.

use crate::error::Error;
use crate::objective::{Objective, Pass};

/// `obj` with a running count of the passes its calls made.
pub struct Counted<'o, O: Objective + ?Sized> {
    obj: &'o mut O,
    passes: u32,
}

impl<'o, O: Objective + ?Sized> Counted<'o, O> {
    /// Wraps `obj`, from 0 passes.
    pub fn new(obj: &'o mut O) -> Self {
        Self { obj, passes: 0 }
    }

    /// Passes over the rows so far (saturating).
    pub fn passes(&self) -> u32 {
        self.passes
    }

    fn count(&mut self, op: Pass) {
        self.passes = self.passes.saturating_add(self.obj.passes(op));
    }
}

impl<O: Objective + ?Sized> Objective for Counted<'_, O> {
    fn n_weights(&self) -> usize {
        self.obj.n_weights()
    }
    fn check_data(&mut self) -> Result<(), Error> {
        self.obj.check_data()
    }
    fn set_point(&mut self, w: Option<&[f32]>) -> Result<(), Error> {
        if w.is_some() {
            self.count(Pass::SetPoint);
        }
        self.obj.set_point(w)
    }
    fn value_grad(&mut self, w: &[f32], g: &mut [f32]) -> Result<f32, Error> {
        self.count(Pass::ValueGrad);
        self.obj.value_grad(w, g)
    }
    fn hess_vec(&mut self, v: &[f32], out: &mut [f32]) -> Result<(), Error> {
        self.count(Pass::HessVec);
        self.obj.hess_vec(v, out)
    }
    fn hess_diag(&mut self, diag: &mut [f32]) -> Result<(), Error> {
        self.count(Pass::HessDiag);
        self.obj.hess_diag(diag)
    }
    fn hessian_packed(&mut self, h: &mut [f32]) -> Result<(), Error> {
        self.count(Pass::Hessian);
        self.obj.hessian_packed(h)
    }
    fn prepare_line(&mut self, d: &[f32]) -> Result<(), Error> {
        self.count(Pass::PrepareLine);
        self.obj.prepare_line(d)
    }
    fn start_direction(&mut self) {
        self.obj.start_direction()
    }
    fn direction_step(&mut self, alpha: f32) {
        self.obj.direction_step(alpha)
    }
    fn finish_direction(&mut self, kept: bool) {
        self.obj.finish_direction(kept)
    }
    fn value_change(&mut self, w: &[f32], d: &[f32], alpha: f32) -> Result<f32, Error> {
        self.count(Pass::ValueChange);
        self.obj.value_change(w, d, alpha)
    }
    fn step(&mut self, w: &mut [f32], d: &[f32], alpha: f32) -> Result<(), Error> {
        self.count(Pass::Step);
        self.obj.step(w, d, alpha)
    }
    fn passes(&self, op: Pass) -> u32 {
        self.obj.passes(op)
    }
}
