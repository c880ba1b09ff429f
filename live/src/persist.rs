//! The adopted model across power loss.
//!
//! After each adoption the board writes the model's byte image (its own format, with its own
//! CRC: [`Model::to_bytes`](../../tinynewton/model/struct.Model.html)) under one key of a
//! `sequential-storage` map in a flash range of at least two erase pages. The map appends a new
//! item (header and data each CRC-protected) and only then stops pointing at the old one, so a
//! power cut at any step of a save leaves either the previous image or the new one readable;
//! pages are reused cyclically (wear levelling). At boot [`ModelFlash::load`] returns the newest
//! intact image, which the caller parses (and so checks again) with `Model::from_bytes`.
//!
//! The map's operations are `async`; a board without an executor runs them to completion with
//! `embassy_futures::block_on`, which is what the blocking methods here do.
//!
//! At boot [`saved_model`] loads that image and checks that the stream can resume from it: it
//! parses (magic, version, lengths, CRC-32, finite weights) and was made for the stream's
//! feature count and raw-feature transform (a model of other features, or scaled otherwise,
//! would predict garbage). Any failure is a [`ResumeError`] the board reports before it starts
//! fresh; a fitting model goes to [`OnlineLearner::resume`](tinynewton::online::OnlineLearner)
//! through [`learner_weights`].

use core::ops::Range;

use embassy_futures::block_on;
use embedded_storage_async::nor_flash::NorFlash;
use sequential_storage::cache::{Cache, Uncached};
use sequential_storage::map::{MapConfig, MapConfigError, MapStorage};
use tinynewton::transform::OwnedTransform;
use tinynewton::{FeatureTransform, Model, ModelError};

/// The key the model image is stored under.
const MODEL_KEY: u8 = 1;

/// Why a save or a load failed.
#[derive(Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum PersistError<E> {
    /// The flash range is not whole erase pages, or fewer than two.
    BadRange(MapConfigError),
    /// The flash or the map failed (a power cut, a full range, a corruption the map could not
    /// repair).
    Storage(sequential_storage::Error<E>),
    /// The image is larger than the buffer (or the buffer too small for the map's item).
    BufferTooSmall,
}

type Map<S> = MapStorage<u8, S, Cache<Uncached, Uncached, Uncached, u8>>;

/// The model image in a range of a NOR flash.
pub struct ModelFlash<S: NorFlash> {
    map: Map<S>,
}

impl<S: NorFlash> ModelFlash<S> {
    /// The store over `range` of `flash` (whole erase pages, at least two). Nothing is read or
    /// written until [`save`](Self::save) or [`load`](Self::load).
    pub fn new(flash: S, range: Range<u32>) -> Result<Self, PersistError<S::Error>> {
        let config = MapConfig::try_new(range).map_err(PersistError::BadRange)?;
        Ok(Self {
            map: MapStorage::new(flash, config, Cache::new_uncached()),
        })
    }

    /// Writes `image` as the newest model; `buf` is scratch of at least the image's length plus
    /// a few words (the map's item: key, length, alignment).
    pub fn save(&mut self, image: &[u8], buf: &mut [u8]) -> Result<(), PersistError<S::Error>> {
        block_on(self.map.store_item(buf, &MODEL_KEY, &image)).map_err(storage_error)
    }

    /// The newest intact image, copied into `out` (its length returned), or `None` when none
    /// was saved. `buf` is scratch as for [`save`](Self::save).
    pub fn load(
        &mut self,
        buf: &mut [u8],
        out: &mut [u8],
    ) -> Result<Option<usize>, PersistError<S::Error>> {
        let found: Option<&[u8]> =
            block_on(self.map.fetch_item(buf, &MODEL_KEY)).map_err(storage_error)?;
        let Some(image) = found else {
            return Ok(None);
        };
        let dst = out
            .get_mut(..image.len())
            .ok_or(PersistError::BufferTooSmall)?;
        dst.copy_from_slice(image);
        Ok(Some(image.len()))
    }

    /// The flash back (e.g. to simulate a reboot over the same bytes).
    pub fn into_flash(self) -> S {
        self.map.destroy().0
    }
}

/// Why the model in flash was not resumed from (the board then starts from no model).
#[derive(Debug)]
#[cfg_attr(feature = "defmt", derive(defmt::Format))]
pub enum ResumeError<E> {
    /// The flash or the map did not read.
    Persist(PersistError<E>),
    /// The image is not a binary model: bad magic, version or length, a CRC-32 that does not
    /// match (corrupt), a non-finite weight, more features than the board's capacity.
    Image(ModelError),
    /// The model was made for another feature count than the stream's.
    FeatureCount {
        /// The stream's feature count.
        expected: usize,
        /// The model's.
        got: usize,
    },
    /// The model scales raw readings otherwise than the stream's transform (another kind,
    /// other parameters, or a transform on one side only).
    Transform,
}

/// The model saved in `flash`, if there is one and the stream can resume from it: the newest
/// image (`buf`: scratch as for [`ModelFlash::save`]; `image`: room for it), parsed with its
/// CRC checked, of `n_features` features, with the stream's raw-feature `transform` (`None`:
/// the readings are used as they are, and the model must have none either). `Ok(None)`: nothing
/// saved. Binary models (the live app's).
pub fn saved_model<S: NorFlash, const M: usize>(
    flash: &mut ModelFlash<S>,
    buf: &mut [u8],
    image: &mut [u8],
    n_features: usize,
    transform: Option<&FeatureTransform<'_>>,
) -> Result<Option<Model<M>>, ResumeError<S::Error>> {
    let Some(len) = flash.load(buf, image).map_err(ResumeError::Persist)? else {
        return Ok(None);
    };
    let bytes = image
        .get(..len)
        .ok_or(ResumeError::Persist(PersistError::BufferTooSmall))?;
    let model = Model::<M>::from_bytes(bytes).map_err(ResumeError::Image)?;
    if model.n_features() != n_features {
        return Err(ResumeError::FeatureCount {
            expected: n_features,
            got: model.n_features(),
        });
    }
    let same = match (transform, model.transform()) {
        (None, None) => true,
        (Some(t), Some(saved)) => OwnedTransform::<M>::from_view(t).is_ok_and(|t| &t == saved),
        _ => false,
    };
    if !same {
        return Err(ResumeError::Transform);
    }
    Ok(Some(model))
}

/// `model`'s weights in a binary learner's layout (the `m` feature weights, then the bias) in
/// `out`, which must hold exactly `m + 1`; `None` otherwise.
pub fn learner_weights<const M: usize>(model: &Model<M>, out: &mut [f32]) -> Option<()> {
    let (bias, features) = out.split_last_mut()?;
    if features.len() != model.weights().len() {
        return None;
    }
    features.copy_from_slice(model.weights());
    *bias = model.bias();
    Some(())
}

fn storage_error<E>(e: sequential_storage::Error<E>) -> PersistError<E> {
    match e {
        sequential_storage::Error::BufferTooSmall(_)
        | sequential_storage::Error::SerializationError(
            sequential_storage::map::SerializationError::BufferTooSmall,
        ) => PersistError::BufferTooSmall,
        e => PersistError::Storage(e),
    }
}

#[cfg(test)]
mod tests;
