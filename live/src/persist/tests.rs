use super::*;
use crate::ram_flash::RamFlash;
use std::vec::Vec;
use tinynewton::Model;

/// Four 1 KiB pages: a model image of ~0.3 KiB fills a page in three saves, so two dozen saves
/// take the map through page changes, migration and erases.
type Flash = RamFlash<4096, 1024>;
const RANGE: Range<u32> = 0..4096;
const M: usize = 64;

/// The byte image of the `k`-th adopted model (distinct weights per `k`).
fn image(k: u32) -> Vec<u8> {
    let w: Vec<f32> = (0..M).map(|j| (k as f32) + (j as f32) * 1e-3).collect();
    let model = Model::<M>::new(&w, -(k as f32)).unwrap();
    let mut out = vec![0u8; model.byte_len()];
    let n = model.to_bytes(&mut out).unwrap();
    out.truncate(n);
    out
}

/// Scratch for the map's item: the image plus key, length and alignment words.
fn scratch() -> Vec<u8> {
    vec![0u8; 1024]
}

/// The image loaded after a reboot of `flash` (`None`: nothing saved).
fn boot(flash: Flash) -> (Option<Vec<u8>>, Flash) {
    let mut store = ModelFlash::new(flash, RANGE).unwrap();
    let mut out = vec![0u8; 1024];
    let got = store
        .load(&mut scratch(), &mut out)
        .unwrap()
        .map(|n| out[..n].to_vec());
    (got, store.into_flash())
}

/// `saves` images saved without a cut.
fn saved(saves: u32) -> Flash {
    let mut store = ModelFlash::new(Flash::new(), RANGE).unwrap();
    for k in 0..saves {
        store.save(&image(k), &mut scratch()).unwrap();
    }
    store.into_flash()
}

#[test]
fn saves_then_loads_the_newest_image() {
    let (got, _) = boot(Flash::new());
    assert_eq!(got, None);
    for saves in 1..20 {
        let (got, _) = boot(saved(saves));
        assert_eq!(got, Some(image(saves - 1)), "after {saves} saves");
    }
}

#[test]
fn a_power_cut_at_any_step_of_a_save_leaves_the_new_image_or_the_one_before() {
    // For every number of earlier saves (through page changes and erases) and every step of
    // the next save: cut the power there, reboot, load. The loaded image must be the one
    // being saved or the one before it, byte for byte, and a model (its own CRC checks);
    // then the next save after the reboot must work and be loaded.
    let mut cuts = 0;
    for before in 0..24u32 {
        let mut k = 0;
        loop {
            let mut flash = saved(before);
            flash.cut_after(k);
            let mut store = ModelFlash::new(flash, RANGE).unwrap();
            let result = store.save(&image(before), &mut scratch());
            let mut flash = store.into_flash();
            let completed = !flash.is_cut();
            flash.restart();
            let (got, flash) = boot(flash);
            let new = image(before);
            if completed {
                assert!(result.is_ok());
                assert_eq!(got.as_deref(), Some(&new[..]));
                break;
            }
            cuts += 1;
            match got {
                None => assert_eq!(before, 0, "nothing loaded after {before} saves, cut {k}"),
                Some(bytes) => {
                    let old = before.checked_sub(1).map(image);
                    assert!(
                        bytes == new || Some(&bytes) == old.as_ref(),
                        "after {before} saves, cut at step {k}: another image"
                    );
                    Model::<M>::from_bytes(&bytes).unwrap();
                }
            }
            // The map repairs what the cut left: the next save and load work.
            let mut store = ModelFlash::new(flash, RANGE).unwrap();
            store.save(&image(100 + before), &mut scratch()).unwrap();
            let (got, _) = boot(store.into_flash());
            assert_eq!(got, Some(image(100 + before)));
            k += 1;
        }
    }
    assert!(cuts > 24 * 50, "{cuts} cuts tried");
}

#[test]
fn bad_ranges_and_small_buffers_are_errors() {
    assert!(matches!(
        ModelFlash::new(Flash::new(), 0..1024),
        Err(PersistError::BadRange(_))
    ));
    assert!(matches!(
        ModelFlash::new(Flash::new(), 100..2048),
        Err(PersistError::BadRange(_))
    ));
    let mut store = ModelFlash::new(Flash::new(), RANGE).unwrap();
    assert!(matches!(
        store.save(&image(1), &mut [0u8; 16]),
        Err(PersistError::BufferTooSmall)
    ));
    store.save(&image(1), &mut scratch()).unwrap();
    let mut small = [0u8; 8];
    assert!(matches!(
        store.load(&mut scratch(), &mut small),
        Err(PersistError::BufferTooSmall)
    ));
}
