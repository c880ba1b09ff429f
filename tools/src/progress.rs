//! Progress bars on stderr, only when a person is watching and the work is long enough to wait for.

use std::io::IsTerminal;

use indicatif::{ProgressBar, ProgressFinish, ProgressStyle};

/// Below this many bytes a file reads too fast for a bar to help.
pub const BYTES_WORTH_A_BAR: u64 = 4 << 20;
/// Below this many samples pooling is too fast for a bar to help.
pub const SAMPLES_WORTH_A_BAR: u64 = 20_000;

/// A byte-counting bar (hidden when stderr is not a terminal or `len` is small).
pub fn bytes(len: u64, message: String) -> ProgressBar {
    bar(
        len,
        len >= BYTES_WORTH_A_BAR,
        message,
        "{msg} [{bar:40}] {bytes}/{total_bytes}",
    )
}

/// A byte-counting spinner for input of unknown length, such as standard input (hidden when
/// stderr is not a terminal).
pub fn bytes_unknown(message: String) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner()
        .with_message(message)
        .with_finish(ProgressFinish::AndClear);
    if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} {bytes} ({bytes_per_sec})") {
        bar.set_style(style);
    }
    bar
}

/// A sample-counting bar (hidden when stderr is not a terminal or `len` is small).
pub fn samples(len: u64, message: String) -> ProgressBar {
    bar(
        len,
        len >= SAMPLES_WORTH_A_BAR,
        message,
        "{msg} [{bar:40}] {pos}/{len}",
    )
}

fn bar(len: u64, worth_it: bool, message: String, template: &str) -> ProgressBar {
    if !worth_it || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    // Cleared when dropped too, so an error line is not printed after a half-drawn bar.
    let bar = ProgressBar::new(len)
        .with_message(message)
        .with_finish(ProgressFinish::AndClear);
    if let Ok(style) = ProgressStyle::with_template(template) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar
}
