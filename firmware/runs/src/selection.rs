//! The shape of a build's runs. Which runs, chosen at build time, is written by the consumer's
//! build script (`firmware/build_support/datasets.rs`: the committed 7-vs-1 MNIST pair by
//! default, or the packed pairs `TINYNEWTON_DATA` names) as a `for_each_run` calling a
//! [`RunVisitor`] with one [`RunSpec`] per run; the firmware and the host parity check include
//! that generated file, so both iterate over the same files, capacities and settings.

use tinynewton::Settings;

use crate::Files;

/// One run: what to train and how.
pub struct RunSpec {
    /// Short label for the `cost` and `memory` lines (`7x7`, `14x14`, or the dataset's name).
    pub label: &'static str,
    /// Training samples used: the first `rows` of the training file (all of them, unless the
    /// build script found that only fewer fit the RAM budget).
    pub rows: usize,
    /// The embedded train/test pair (4-byte aligned in flash).
    pub files: Files,
    /// Costs, solver, tolerances.
    pub settings: Settings,
    /// Minimum test accuracy `num/den` (the MNIST runs, issue 4); `None` for users' data,
    /// whose runs must only converge.
    pub floor: Option<(usize, usize)>,
}

/// Receives each run with its workspace capacities (`M` weights including the bias, `N`
/// samples, `T` packed-triangle floats, `0` for CG), read from the files' headers at build time.
/// Multi-class runs (issue 9) come with the capacities of their own objective: softmax's
/// `M = K(m + 1)` and `N = ⌈nK/3⌉` (`tinynewton::Sizes::softmax`), one-vs-rest's binary
/// workspace plus `W = K(m + 1)` floats for the `K` weight vectors.
pub trait RunVisitor {
    /// Trains and reports one binary run.
    fn visit<const M: usize, const N: usize, const T: usize>(&mut self, run: &RunSpec);
    /// Trains and reports one softmax run.
    fn visit_softmax<const M: usize, const N: usize, const T: usize>(&mut self, run: &RunSpec);
    /// Trains and reports one one-vs-rest run.
    fn visit_ovr<const M: usize, const N: usize, const T: usize, const W: usize>(
        &mut self,
        run: &RunSpec,
    );
}
