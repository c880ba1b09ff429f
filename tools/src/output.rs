//! Every file and every line a command writes goes through here.
//!
//! Files: all or nothing, and never at the cost of a file the user already had.
//!
//! 1. Every target is checked before any is touched ([`check_targets`]): a directory, a missing
//!    parent directory, a dangling symbolic link, a read-only file (unless `--force`), an output
//!    that is the same file as an input or as another output (device and inode, or the
//!    canonical path of a file still to be created) are refused, naming the user's paths.
//! 2. Regular files (new ones, existing ones, the file a symbolic link points to) are written to a
//!    temporary file next to the real target and renamed over it once all are complete; the
//!    link stays a link and a replaced file keeps its permissions. An existing file is
//!    hard-linked to a backup name first, so that if a later rename fails every file renamed so
//!    far is put back as it was.
//! 3. Device nodes, FIFOs and other non-regular files (`/dev/null`, `/dev/stdout`) are written in
//!    place: renaming over them would replace the device with a regular file.
//!
//! Standard output: [`say_line`] (and `say!`) writes a line; once a write fails the rest of the command still runs
//! (its files are written), and [`finish_stdout`] turns the failure into the command's result:
//! a closed pipe (`| head`) ends quietly with success, as Unix tools do, and any other error
//! (`> /dev/full`) is one error line.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use anyhow::{anyhow, bail, Result};

/// The paths a command was given, with the option that named each (for error messages).
#[derive(Debug, Default)]
struct Declared {
    inputs: Vec<(String, PathBuf)>,
    outputs: Vec<(String, PathBuf)>,
}

static DECLARED: Mutex<Declared> = Mutex::new(Declared {
    inputs: Vec::new(),
    outputs: Vec::new(),
});
static FORCE: AtomicBool = AtomicBool::new(false);

/// `(option, path)` of the files a command names, e.g. `("--csv", in.csv)`.
pub type Named<'a> = Vec<(&'static str, &'a Path)>;

/// Records the command's input and output paths (`(option, path)`, e.g. `("--csv", in.csv)`)
/// and whether `--force` was given. Every later write is checked against the inputs, and
/// messages name a path by its option.
pub fn declare(inputs: &[(&str, &Path)], outputs: &[(&str, &Path)], force: bool) {
    let own = |list: &[(&str, &Path)]| {
        list.iter()
            .map(|(flag, path)| ((*flag).to_owned(), path.to_path_buf()))
            .collect()
    };
    if let Ok(mut d) = DECLARED.lock() {
        d.inputs = own(inputs);
        d.outputs = own(outputs);
    }
    FORCE.store(force, Ordering::Relaxed);
}

/// `--train-out tr.tnds` if the path was declared as an output, else just the path; `skip`
/// passes over that many declarations of the same spelling (one path given twice).
fn named_nth(path: &Path, skip: usize) -> String {
    // Spelling, not `Path` equality (which ignores `.` components): the option the user wrote.
    let flag = DECLARED.lock().ok().and_then(|d| {
        let flags: Vec<&String> = d
            .outputs
            .iter()
            .filter(|(_, p)| p.as_os_str() == path.as_os_str())
            .map(|(f, _)| f)
            .collect();
        flags.get(skip).or(flags.first()).map(|f| (*f).clone())
    });
    match flag {
        Some(f) => format!("{f} {}", path.display()),
        None => path.display().to_string(),
    }
}

fn named(path: &Path) -> String {
    named_nth(path, 0)
}

/// How a target is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// No file there yet: a temporary file renamed into place.
    New,
    /// A regular file: a temporary file (with the old file's permissions) renamed over it.
    Replace,
    /// A device node, FIFO or other non-regular file: opened and written in place.
    InPlace,
}

/// Same file: device and inode of an existing file, or the canonical path of a new one.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Identity {
    Inode(u64, u64),
    Path(PathBuf),
}

/// A checked output target.
#[derive(Debug)]
struct Target {
    /// The path as the user gave it (for messages).
    shown: PathBuf,
    /// Where the bytes go: `shown`, or the file its symbolic links lead to.
    real: PathBuf,
    kind: Kind,
    identity: Identity,
    /// Permissions of the file replaced.
    permissions: Option<fs::Permissions>,
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    }
}

fn check_one(path: &Path, force: bool) -> Result<Target> {
    let who = named(path);
    if path.file_name().is_none() {
        bail!("{who}: not a file path: give a file name");
    }
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let parent = parent_of(path);
            return match fs::metadata(parent) {
                Ok(p) if p.is_dir() => {
                    let dir = fs::canonicalize(parent).map_err(|e| {
                        anyhow!("{who}: cannot use directory {}: {e}", parent.display())
                    })?;
                    let name = path.file_name().unwrap_or_default();
                    Ok(Target {
                        shown: path.to_path_buf(),
                        real: path.to_path_buf(),
                        kind: Kind::New,
                        identity: Identity::Path(dir.join(name)),
                        permissions: None,
                    })
                }
                Ok(_) => bail!(
                    "{who}: cannot create: {} is not a directory",
                    parent.display()
                ),
                Err(e) if e.kind() == io::ErrorKind::NotFound => bail!(
                    "{who}: cannot create: directory {} does not exist (create it first)",
                    parent.display()
                ),
                Err(e) => bail!("{who}: cannot create: {}: {e}", parent.display()),
            };
        }
        Err(e) => bail!("{who}: cannot check: {e}"),
    };
    let (real, meta) = if meta.file_type().is_symlink() {
        // Written through the link, like `cp` does; the link itself stays.
        match fs::canonicalize(path).and_then(|r| fs::metadata(&r).map(|m| (r, m))) {
            Ok(found) => found,
            Err(_) => bail!(
                "{who}: a symbolic link to a missing file ({}): remove the link or give another path",
                fs::read_link(path)
                    .map(|t| t.display().to_string())
                    .unwrap_or_default()
            ),
        }
    } else {
        (path.to_path_buf(), meta)
    };
    if meta.is_dir() {
        bail!("{who}: is a directory: give a file path");
    }
    let identity = Identity::Inode(meta.dev(), meta.ino());
    if !meta.is_file() {
        return Ok(Target {
            shown: path.to_path_buf(),
            real,
            kind: Kind::InPlace,
            identity,
            permissions: None,
        });
    }
    // Like `cp`: a file without write permission is not replaced unless asked to (the mode
    // bits, not `access(2)`, so that root is asked too).
    if meta.permissions().mode() & 0o222 == 0 && !force {
        bail!("{who}: the file is read-only: make it writable or pass --force to replace it");
    }
    Ok(Target {
        shown: path.to_path_buf(),
        real,
        kind: Kind::Replace,
        identity,
        permissions: Some(meta.permissions()),
    })
}

fn input_identity(path: &Path) -> Option<Identity> {
    let meta = fs::metadata(path).ok()?;
    (!meta.is_dir()).then(|| Identity::Inode(meta.dev(), meta.ino()))
}

fn plan(paths: &[&Path]) -> Result<Vec<Target>> {
    let force = FORCE.load(Ordering::Relaxed);
    let targets = paths
        .iter()
        .map(|p| check_one(p, force))
        .collect::<Result<Vec<_>>>()?;
    // A device written in place replaces nothing (`--train-out /dev/null --test-out /dev/null`
    // is fine, and /dev/stdin and /dev/stdout may be one terminal): only files are compared.
    let files: Vec<&Target> = targets.iter().filter(|t| t.kind != Kind::InPlace).collect();
    for (k, a) in files.iter().enumerate() {
        if let Some(b) = files[..k].iter().find(|b| b.identity == a.identity) {
            let twice = usize::from(a.shown.as_os_str() == b.shown.as_os_str());
            bail!(
                "{} and {} are the same file: give two different output paths",
                named(&b.shown),
                named_nth(&a.shown, twice)
            );
        }
    }
    let inputs: Vec<(String, PathBuf)> = DECLARED
        .lock()
        .map(|d| d.inputs.clone())
        .unwrap_or_default();
    for (flag, input) in &inputs {
        let Some(id) = input_identity(input) else {
            continue;
        };
        if let Some(t) = files.iter().find(|t| t.identity == id) {
            bail!(
                "{} is the same file as the input {flag} {}: write the output elsewhere",
                named(&t.shown),
                input.display()
            );
        }
    }
    Ok(targets)
}

/// Checks output paths without writing anything (what [`write_all_or_nothing`] checks first).
pub fn check_targets(paths: &[&Path]) -> Result<()> {
    plan(paths).map(|_| ())
}

/// A temporary name next to `real` that does not exist yet.
fn create_temp(real: &Path) -> io::Result<(PathBuf, fs::File)> {
    let name = real.file_name().unwrap_or_default();
    for attempt in 0u32.. {
        let mut temp = OsString::from(".");
        temp.push(name);
        temp.push(format!(".tmp{}-{attempt}", std::process::id()));
        let temp = real.with_file_name(temp);
        match fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
        {
            Ok(f) => return Ok((temp, f)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists && attempt < 100 => continue,
            Err(e) => return Err(e),
        }
    }
    Err(io::Error::other("no free temporary name"))
}

fn backup_name(real: &Path) -> PathBuf {
    let mut b = OsString::from(".");
    b.push(real.file_name().unwrap_or_default());
    b.push(format!(".bak{}", std::process::id()));
    real.with_file_name(b)
}

fn remove_all(paths: &[PathBuf]) {
    for p in paths {
        // Best effort: the error being reported is the one that matters.
        let _ = fs::remove_file(p);
    }
}

/// Writes every `(path, bytes)`, all or nothing: on error every pre-existing file is as it was
/// and no new file or temporary name is left (device nodes written in place excepted: what a
/// device received cannot be taken back, so they are written after every check and staging).
pub fn write_all_or_nothing(files: &[(&Path, &[u8])]) -> Result<()> {
    let paths: Vec<&Path> = files.iter().map(|(p, _)| *p).collect();
    let targets = plan(&paths)?;
    // Standard output already failed (not a closed pipe, which is a reader's choice): the
    // command fails, so it leaves the user's files alone.
    if let Some(e) = stdout_failure() {
        bail!("cannot write to standard output: {e}");
    }

    // Stage the regular files.
    let mut temps: Vec<Option<PathBuf>> = Vec::with_capacity(files.len());
    let cleanup = |temps: &[Option<PathBuf>]| {
        let list: Vec<PathBuf> = temps.iter().flatten().cloned().collect();
        remove_all(&list);
    };
    for (t, (_, bytes)) in targets.iter().zip(files) {
        if t.kind == Kind::InPlace {
            temps.push(None);
            continue;
        }
        let staged = create_temp(&t.real).and_then(|(temp, mut f)| {
            temps.push(Some(temp));
            f.write_all(bytes)?;
            if let Some(p) = &t.permissions {
                f.set_permissions(fs::Permissions::from_mode(p.mode()))?;
            }
            f.sync_all()
        });
        if let Err(e) = staged {
            cleanup(&temps);
            bail!("{}: cannot write: {e}", named(&t.shown));
        }
    }

    // Devices and FIFOs, in place.
    for (t, (_, bytes)) in targets.iter().zip(files) {
        if t.kind != Kind::InPlace {
            continue;
        }
        let written = fs::OpenOptions::new()
            .write(true)
            .open(&t.real)
            .and_then(|mut f| f.write_all(bytes).and_then(|()| f.flush()));
        if let Err(e) = written {
            cleanup(&temps);
            // The cause as text: a FIFO's EPIPE is not a closed standard output.
            bail!("{}: cannot write: {e}", named(&t.shown));
        }
    }

    rename_all(&targets, &temps, &mut |from, to| fs::rename(from, to))
}

/// How to undo one rename.
enum Undo {
    /// Put the backup of the replaced file back.
    Restore(PathBuf),
    /// The file is new: remove it.
    Remove,
}

/// Renames each staged temporary over its target, keeping a backup (a hard link, else a copy)
/// of each replaced file until all are done; if a rename fails, every file renamed so far is
/// put back as it was. `rename` is `fs::rename` (a parameter so the undo path can be tested).
fn rename_all(
    targets: &[Target],
    temps: &[Option<PathBuf>],
    rename: &mut dyn FnMut(&Path, &Path) -> io::Result<()>,
) -> Result<()> {
    let mut done: Vec<(PathBuf, Undo)> = Vec::new();
    let undo_all = |done: &mut Vec<(PathBuf, Undo)>| {
        for (real, undo) in done.drain(..).rev() {
            // Best effort: the error being reported is the one that matters.
            let _ = match undo {
                Undo::Restore(b) => fs::rename(b, real),
                Undo::Remove => fs::remove_file(real),
            };
        }
    };
    for (k, t) in targets.iter().enumerate() {
        let Some(temp) = temps.get(k).cloned().flatten() else {
            continue;
        };
        let undo = if t.kind == Kind::Replace {
            let b = backup_name(&t.real);
            let _ = fs::remove_file(&b);
            let saved = fs::hard_link(&t.real, &b).or_else(|_| fs::copy(&t.real, &b).map(|_| ()));
            if let Err(e) = saved {
                undo_all(&mut done);
                remove_all(&temps[k..].iter().flatten().cloned().collect::<Vec<_>>());
                bail!(
                    "{}: cannot keep a backup before replacing it: {e}",
                    named(&t.shown)
                );
            }
            Undo::Restore(b)
        } else {
            Undo::Remove
        };
        if let Err(e) = rename(&temp, &t.real) {
            if let Undo::Restore(b) = &undo {
                let _ = fs::remove_file(b);
            }
            undo_all(&mut done);
            remove_all(&temps[k..].iter().flatten().cloned().collect::<Vec<_>>());
            bail!("{}: cannot replace: {e}", named(&t.shown));
        }
        done.push((t.real.clone(), undo));
    }
    for (_, undo) in &done {
        if let Undo::Restore(b) = undo {
            let _ = fs::remove_file(b);
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Standard output.

static STDOUT_ERROR: Mutex<Option<io::Error>> = Mutex::new(None);

/// Writes `text` and a newline to standard output. After a failed write nothing more is
/// written and the error waits for [`finish_stdout`].
pub fn say_line(text: &str) {
    let Ok(mut failed) = STDOUT_ERROR.lock() else {
        return;
    };
    if failed.is_some() {
        return;
    }
    let mut out = io::stdout().lock();
    if let Err(e) = out
        .write_all(text.as_bytes())
        .and_then(|()| out.write_all(b"\n"))
        .and_then(|()| out.flush())
    {
        *failed = Some(e);
    }
}

/// `say!("…", args)`: [`say_line`] with `format!` arguments.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::output::say_line(&format!($($arg)*))
    };
}
pub(crate) use say;

/// A failed write to standard output other than a closed pipe, if any so far.
fn stdout_failure() -> Option<String> {
    let failed = STDOUT_ERROR.lock().ok()?;
    failed
        .as_ref()
        .filter(|e| e.kind() != io::ErrorKind::BrokenPipe)
        .map(ToString::to_string)
}

/// The command's verdict on standard output: `Ok` if every line was written or the reader
/// closed the pipe (quiet success, as Unix tools do), else a one-line error.
pub fn finish_stdout() -> Result<()> {
    let flushed = io::stdout().lock().flush();
    let failed = STDOUT_ERROR.lock().ok().and_then(|mut e| e.take());
    match failed.map_or(flushed, Err) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(anyhow!("cannot write to standard output: {e}")),
    }
}

/// True for an error that is a closed standard output (`EPIPE`), which ends a command quietly.
pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Issue 12, item 3: when the last rename fails, the files renamed before it are put back
    /// (a replaced one from its backup, a new one removed) and no temporary or backup is left.
    #[test]
    fn a_failed_rename_puts_every_earlier_file_back() {
        let dir = tempfile::tempdir().unwrap();
        let old = dir.path().join("old.tnds");
        fs::write(&old, b"OLD").unwrap();
        let new = dir.path().join("new.tnds");
        let third = dir.path().join("third.tnds");
        let paths = [old.as_path(), new.as_path(), third.as_path()];
        let targets = plan(&paths).unwrap();
        let temps: Vec<Option<PathBuf>> = targets
            .iter()
            .map(|t| {
                let (temp, mut f) = create_temp(&t.real).unwrap();
                f.write_all(b"NEW").unwrap();
                Some(temp)
            })
            .collect();
        let mut calls = 0;
        let err = rename_all(&targets, &temps, &mut |from, to| {
            calls += 1;
            if calls == 3 {
                Err(io::Error::other("injected"))
            } else {
                fs::rename(from, to)
            }
        })
        .unwrap_err();
        assert!(err.to_string().contains("third.tnds"), "{err}");
        assert_eq!(fs::read(&old).unwrap(), b"OLD");
        let mut left: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["old.tnds"]);
    }

    #[test]
    fn temp_and_backup_names_stay_in_the_target_directory() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("m.tnm");
        let (temp, _f) = create_temp(&real).unwrap();
        assert_eq!(temp.parent(), Some(dir.path()));
        assert!(temp
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(".m.tnm.tmp"));
        assert_eq!(backup_name(&real).parent(), Some(dir.path()));
    }
}
