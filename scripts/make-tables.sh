#!/usr/bin/env bash
# Regenerates the committed packed scikit-learn tables in data/tables/ from the scikit-learn 1.9.1
# wheel, which bundles them in sklearn/datasets/data/:
#   digits.csv.gz      1797 x 64 (8x8 digits, no header line)  -> digit 6 vs rest
#   breast_cancer.csv   569 x 30 (first line "569,30,malignant,benign") -> malignant (0) vs benign (1)
#   iris.csv            150 x 4  (first line "150,4,setosa,versicolor,virginica") -> setosa (0) vs rest
# and, with every class (--classes all: format version 2, a class table, a stratified split):
#   digits.csv.gz -> digits10 (10 classes, digits 0..9);  iris.csv -> iris3 (3 classes, 0 1 2)
# Each: label in the last column, --scale minmax (the -std pairs: --scale standard) learned on
# the training split, u8 codes with a per-feature dequantisation table, seeded 80/20 split
# (seed 0).
# breast_cancer.csv and iris.csv are also copied, byte for byte, to data/tables/raw/ (committed:
# tools/tests/breast_cancer.rs checks raw rows against the packed ones, and the README walkthrough
# packs them) and packed from there; digits.csv.gz is packed from the wheel's copy only.
# Deterministic: the same wheel and seed give the same bytes; run it twice and compare the sums.
# Needs pip (only to download the wheel; nothing is installed), python3 (to unzip) and cargo.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# One fixed wheel (platform and Python pinned), whatever Python this machine runs; the data
# files are the same in every 1.9.1 wheel, and their sums are checked below.
python3 -m pip download --quiet --no-deps --only-binary=:all: \
    --platform manylinux_2_28_x86_64 --python-version 3.11 --implementation cp \
    scikit-learn==1.9.1 -d "$work"
python3 - "$work" <<'PY'
import glob, sys, zipfile
work = sys.argv[1]
(wheel,) = glob.glob(f"{work}/scikit_learn-1.9.1-*.whl")
with zipfile.ZipFile(wheel) as z:
    for name in ("digits.csv.gz", "breast_cancer.csv", "iris.csv"):
        with open(f"{work}/{name}", "wb") as out:
            out.write(z.read(f"sklearn/datasets/data/{name}"))
PY
(cd "$work" && sha256sum --check --quiet) <<'SUMS'
09f66e6debdee2cd2b5ae59e0d6abbb73fc2b0e0185d2e1957e9ebb51e23aa22  digits.csv.gz
fed3eb72d0575ef6192293f5093c6e801b1476b577d0386bf4455504522172ed  breast_cancer.csv
f13ffa8fdd56fd8e6c8d16d4081a3fbd3114bcd0aae4256c43205169cd9d1449  iris.csv
SUMS

# A debug build is enough: packing takes well under a second.
cargo build --quiet -p tinynewton-tools
tool() { cargo run --quiet -p tinynewton-tools -- "$@"; }

mkdir -p data/tables/raw
cp "$work/breast_cancer.csv" "$work/iris.csv" data/tables/raw/

pack() { # input skip-rows pos neg name [scale]
    tool pack --csv "$1" --skip-rows "$2" --label-column last --pos "$3" --neg "$4" \
        --scale "${6:-minmax}" --encoding u8 --test-fraction 0.2 --seed 0 \
        --train-out "data/tables/$5-train.tnds" --test-out "data/tables/$5-test.tnds"
}
pack "$work/digits.csv.gz" 0 6 rest digits6-vs-rest
pack data/tables/raw/breast_cancer.csv 1 0 1 breast-cancer
pack data/tables/raw/iris.csv 1 0 rest iris-setosa
# The same samples standardised: the other candidate `tinynewton cv` compares for the live app
# (scripts/cv-tables.sh; live/src/config.rs: breast cancer's chosen packing, digits' not).
pack "$work/digits.csv.gz" 0 6 rest digits6-vs-rest-std standard
pack data/tables/raw/breast_cancer.csv 1 0 1 breast-cancer-std standard

pack_all() { # input skip-rows name
    tool pack --csv "$1" --skip-rows "$2" --label-column last --classes all \
        --scale minmax --encoding u8 --test-fraction 0.2 --seed 0 \
        --train-out "data/tables/$3-train.tnds" --test-out "data/tables/$3-test.tnds"
}
pack_all "$work/digits.csv.gz" 0 digits10
pack_all data/tables/raw/iris.csv 1 iris3

sha256sum data/tables/raw/*.csv data/tables/*.tnds
