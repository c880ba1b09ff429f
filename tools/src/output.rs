//! All-or-nothing output: every file is written to a temporary name in its own directory and only
//! renamed into place once all of them are complete, so a failure leaves no half-written output.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

/// Writes every `(path, bytes)`; on error, no new file is left under any `path` or temporary name.
pub fn write_all_or_nothing(files: &[(&Path, &[u8])]) -> Result<()> {
    for (k, (a, _)) in files.iter().enumerate() {
        if files[..k].iter().any(|(b, _)| b == a) {
            bail!("{}: named twice as an output", a.display());
        }
    }
    let mut temps: Vec<PathBuf> = Vec::with_capacity(files.len());
    let staged = files.iter().try_for_each(|(path, bytes)| {
        let temp = temp_name(path)?;
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp)
            .with_context(|| format!("{}: cannot create", temp.display()))?;
        temps.push(temp.clone());
        f.write_all(bytes)
            .and_then(|()| f.sync_all())
            .with_context(|| format!("{}: cannot write", temp.display()))
    });
    if let Err(e) = staged {
        remove_all(&temps);
        return Err(e);
    }
    for (k, ((path, _), temp)) in files.iter().zip(&temps).enumerate() {
        if let Err(e) = fs::rename(temp, path) {
            // Undo: the renamed outputs of this run and the remaining temporaries.
            let done: Vec<PathBuf> = files[..k].iter().map(|(p, _)| p.to_path_buf()).collect();
            remove_all(&done);
            remove_all(&temps[k..]);
            return Err(e).with_context(|| format!("{}: cannot rename into place", path.display()));
        }
    }
    Ok(())
}

fn temp_name(path: &Path) -> Result<PathBuf> {
    let name = path
        .file_name()
        .with_context(|| format!("{}: not a file path", path.display()))?;
    let mut temp = std::ffi::OsString::from(".");
    temp.push(name);
    temp.push(format!(".tmp{}", std::process::id()));
    Ok(path.with_file_name(temp))
}

fn remove_all(paths: &[PathBuf]) {
    for p in paths {
        // Best effort: the error being reported is the one that matters.
        let _ = fs::remove_file(p);
    }
}
