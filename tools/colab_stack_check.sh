#!/usr/bin/env bash
# Every chapter under nbval in quick mode on Colab's older stack (TensorFlow 2.19.0, Keras 3.10.0,
# numpy 2.0.2), with vae_helpers installed as Colab installs it: `pip install --no-deps`, so
# nothing it lists replaces the stack. The stack lives in its own virtual environment, never the
# repository's .venv: $COLAB_STACK_VENV, else ~/.cache/vae-colab-stack (kept, so a second run
# only reinstalls vae_helpers). CI's "colab-stack" job runs this script.
#
#   tools/colab_stack_check.sh [pytest arguments, e.g. notebooks/05_training.ipynb]
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${COLAB_STACK_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/vae-colab-stack}
# The three versions that define the stack are Colab's; the rest are the newest releases that
# install beside numpy 2.0.2 (what the notebooks import, and what runs them under nbval).
stack=(
  tensorflow==2.19.0 keras==3.10.0 numpy==2.0.2
  scipy==1.15.3 matplotlib==3.10.0 imageio==2.37.0 mlxtend==0.23.4 ipywidgets==7.7.1
  pytest==8.3.5 nbval==0.11.0 ipykernel==6.29.5
)
[ -x "$venv/bin/python" ] || "${PYTHON:-python3}" -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check "${stack[@]}"
# --no-deps, as the chapters' first cell does on Colab; a fresh build, not a cached wheel.
"$venv/bin/pip" install -q --disable-pip-version-check --no-deps --force-reinstall --no-cache-dir .
"$venv/bin/python" -I - <<'PY'  # -I: the installed vae_helpers, not the checkout
import keras, numpy, tensorflow, vae_helpers
print(f"stack: TensorFlow {tensorflow.__version__}, Keras {keras.__version__}, numpy {numpy.__version__}, "
      f"vae_helpers {vae_helpers.__version__} from {vae_helpers.__file__}")
PY

checkpoints=$(mktemp -d)
trap 'rm -rf "$checkpoints"' EXIT
# The kernel runs from notebooks/, so it imports the installed vae_helpers, not the checkout's;
# --nbval-current-env makes it this environment's Python whatever kernels are installed elsewhere.
VAE_QUICK=1 VAE_FETCH_MODELS=0 VAE_CHECKPOINT_DIR="$checkpoints" TF_CPP_MIN_LOG_LEVEL=3 \
  "$venv/bin/python" -m pytest -o addopts= -p no:cacheprovider --nbval-lax --nbval-current-env \
  --durations=0 -q "${@:-notebooks}"
