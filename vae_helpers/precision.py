"""Which precision training computes in: bfloat16 where the CPU has units for it, else float32.

Weights, optimizer state, logits, every loss term and every evaluation stay float32. Only while
`training.train` runs, the layers of a model's encoder and decoder before each one's last layer
compute in bfloat16 (Keras' `mixed_bfloat16` policy: bfloat16 maths on float32 weights). On a CPU
with bfloat16 instructions (`avx512_bf16` or `amx_bf16` in /proc/cpuinfo) that trains the book's
model faster with the same test ELBO (`benchmarks/train_speed.py` measures by how much); on a CPU
without them bfloat16 is emulated and several times slower, so there the book trains in float32.
On a GPU it trains in float32 too: float16 needs loss scaling, which the book's `train_step` does
not do, and bfloat16 was not measured on one.

`VAE_PRECISION=float32` or `VAE_PRECISION=mixed_bfloat16` overrides the choice.
"""

import contextlib
import os

import keras

POLICIES = ("float32", "mixed_bfloat16")
"""The precisions `training_policy` can return."""

BFLOAT16_UNITS = ("avx512_bf16", "amx_bf16")
"""CPU flags (Linux's names) of instructions that compute in bfloat16."""


def cpu_flags(path="/proc/cpuinfo"):
    """The CPU's feature flags as a set of names, or None where they cannot be read (not Linux)."""
    try:
        with open(path) as cpuinfo:
            for line in cpuinfo:
                if line.startswith("flags"):
                    return set(line.partition(":")[2].split())
    except OSError:
        return None
    return None


def training_policy(flags=None, has_gpu=None):
    """The Keras dtype policy training computes in: `VAE_PRECISION` if it is set, else
    "mixed_bfloat16" on a CPU with bfloat16 units and no GPU, else "float32".

    Args:
      flags: the CPU's flags (default: `cpu_flags()`).
      has_gpu: whether TensorFlow sees a GPU (default: asks TensorFlow).
    """
    chosen = os.environ.get("VAE_PRECISION", "").strip()
    if chosen:
        if chosen not in POLICIES:
            raise ValueError(
                f"VAE_PRECISION={chosen!r} is not understood: set VAE_PRECISION=float32 or "
                "VAE_PRECISION=mixed_bfloat16, or leave it unset to let the CPU decide."
            )
        return chosen
    if has_gpu is None:
        import tensorflow as tf

        has_gpu = bool(tf.config.list_physical_devices("GPU"))
    flags = cpu_flags() if flags is None else set(flags)
    if has_gpu or not flags or not flags & set(BFLOAT16_UNITS):
        return "float32"
    return "mixed_bfloat16"


def _inner_layers(model):
    """The layers of the model's Sequential halves (encoder, decoder) but each one's last."""
    halves = [getattr(model, name, None) for name in ("encoder", "decoder")]
    return [layer for half in halves if isinstance(half, keras.Sequential) for layer in half.layers[:-1]]


def _set(layers, policy):
    for layer in layers:
        layer.dtype_policy = policy


class _Float32BetweenEpochs(keras.callbacks.Callback):
    """Puts the layers back in float32 from the moment `fit` scores its validation data until the
    next epoch's training begins: the test ELBO of each epoch, and whatever the callbacks after
    it compute (checkpoints, pictures of progress), are the float32 model's, as every later
    evaluation is."""

    def __init__(self, layers, policy):
        super().__init__()
        self.layers, self.policy = layers, policy

    def on_epoch_begin(self, epoch, logs=None):
        _set(self.layers, self.policy)

    def on_test_begin(self, logs=None):
        _set(self.layers, "float32")


@contextlib.contextmanager
def training_in(model, policy):
    """Within the block, the model's inner layers compute in `policy`, and it yields the callback
    for `fit` that scores validation data, and runs the epoch's other callbacks, in float32;
    after the block (error or not), each layer has its policy of before again. Each half's last layer stays float32, so mean, log-variance and
    logits, and everything computed from them, are float32. Keras reads a layer's policy when it
    traces a step, so the training step traced inside the block keeps it. A saved model stores
    none of it (its constructor rebuilds its halves), so a checkpoint loads as float32.

    Args:
      model: a model whose `encoder` and `decoder` are `keras.Sequential` (others are left as
        they are).
      policy: one of `POLICIES`.
    Yields:
      A list of callbacks to pass to `fit` (empty for float32).
    """
    if policy not in POLICIES:
        raise ValueError(f"policy must be one of {POLICIES}; got {policy!r}.")
    layers = _inner_layers(model) if policy != "float32" else []
    before = [layer.dtype_policy for layer in layers]
    try:
        _set(layers, policy)
        yield [_Float32BetweenEpochs(layers, policy)] if layers else []
    finally:
        for layer, old in zip(layers, before):
            layer.dtype_policy = old
