"""Decoder throughput: what `models.base.DECODE_BATCH` was chosen from.

Every bound in `vae_helpers.evaluation` spends its time decoding codes. This times the book's
16-D decoder on the same codes three ways, interleaved in rounds (a shared machine's load drifts):
one eager call on 20,000 codes (how the evaluation decoded before), eager calls on blocks of
`--block` codes, and `evaluation.decode_logits` (compiled, DECODE_BATCH codes a call); then
`decode_logits` with other block sizes, the choice DECODE_BATCH records.

    python benchmarks/decode_speed.py [--rounds 3] [--block 250]
"""

import argparse
import os
import statistics
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--block", type=int, default=250)
    args = parser.parse_args()
    if args.rounds < 1 or args.block < 1:
        parser.error("--rounds and --block must be at least 1")

    import numpy as np

    from vae_helpers import evaluation, models
    from vae_helpers.models import base

    model = models.CVAE(16, seed=0)
    z = np.random.default_rng(0).standard_normal((20_000, 16)).astype(np.float32)
    ways = {
        "eager, 20,000 a call": lambda: model.decode(z).numpy(),
        f"eager, {args.block:,} a call": lambda: [model.decode(z[i : i + args.block]).numpy()
                                                  for i in range(0, len(z), args.block)],
        f"decode_logits ({base.DECODE_BATCH:,} a call, compiled)":
            lambda: evaluation.decode_logits(model, z).numpy(),
    }
    for way in ways.values():
        way()  # traces and warms up; not timed
    rates = {name: [] for name in ways}
    for _ in range(args.rounds):
        for name, way in ways.items():
            start = time.perf_counter()
            way()
            rates[name].append(len(z) / (time.perf_counter() - start))
    chosen = base.DECODE_BATCH
    for block in (64, 250, 1000, 5000):
        base.DECODE_BATCH = block  # one compiled copy serves every block size
        rates[f"decode_logits, {block:,} a call"] = []
        for _ in range(args.rounds):
            start = time.perf_counter()
            evaluation.decode_logits(model, z).numpy()
            rates[f"decode_logits, {block:,} a call"].append(len(z) / (time.perf_counter() - start))
    base.DECODE_BATCH = chosen
    print(f"{len(os.sched_getaffinity(0))} CPUs, load average {os.getloadavg()[0]:.1f}; "
          f"{len(z):,} codes of the 16-D decoder, {args.rounds} rounds")
    reference = next(iter(rates))
    for name, values in rates.items():
        ratio = statistics.median(v / r for v, r in zip(values, rates[reference]))
        print(f"  {name:<42} {statistics.median(values):7.0f} codes/s (median), {ratio:.2f}x the first")


if __name__ == "__main__":
    main()
