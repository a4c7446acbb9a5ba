"""Training the book's CVAE on several devices, or several processes, with `tf.distribute`.

* `use_logical_cpus` splits the processor into logical CPU devices, so that the mechanics of
  replicas can be shown (and tested) on a machine with no GPU.
* `choose_strategy` picks `TPUStrategy` on a TPU, `MirroredStrategy` over the GPUs found, or
  over the logical CPUs, and says which and why.
* `fit_under` builds, compiles and fits a model under a strategy, with a checkpoint written by
  the chief only (through `training`'s atomic save).
* `launch_workers` starts worker processes on this machine's loopback, each with its own
  `TF_CONFIG`, and makes sure that every one of them ends within a time limit. From a shell:
  `python -m vae_helpers.distributed launch --output DIR` trains the CVAE on two workers.
"""

import argparse
import dataclasses
import json
import os
import socket
import subprocess
import sys
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf

from vae_helpers import config, data, models, training

LOGICAL_CPUS = 2
"""How many logical CPU devices the appendix splits the processor into."""

COLLECTIVE_TIMEOUT_S = 300
"""How long a worker waits for its peers in one all-reduce before it fails: a peer that died
must not leave it waiting for ever (and a peer still tracing its first step on a busy machine
must not be taken for dead)."""

HEARTBEAT_TIMEOUT_S = 120
"""How long TensorFlow's coordination service waits for a worker's heartbeat (its default is
10 s, which a worker starved of CPU by other work on the machine can miss)."""

WORKER_TIMEOUT_S = 600
"""The default bound on a whole multi-worker run, start-up included."""


def use_logical_cpus(count=LOGICAL_CPUS):
    """Splits the (first) physical CPU into `count` logical devices, /cpu:0 to /cpu:{count-1}.

    Must run before anything makes TensorFlow set up its devices (creating a tensor, building
    a model, listing logical devices): TensorFlow fixes its devices once. Running it again
    with the same count (a notebook cell run twice) does nothing.

    Returns:
      The names of the logical CPU devices, a list of `count` strings.
    """
    count = config.positive_int("count", count)
    cpu = tf.config.list_physical_devices("CPU")[0]
    current = tf.config.get_logical_device_configuration(cpu)
    if current is None or len(current) != count:
        try:
            tf.config.set_logical_device_configuration(
                cpu, [tf.config.LogicalDeviceConfiguration()] * count
            )
        except RuntimeError as error:
            raise RuntimeError(
                f"TensorFlow has already set up its devices, so the CPU can no longer be split "
                f"into {count}: restart the kernel (in Colab: Runtime > Restart session) and call "
                "use_logical_cpus first, before any other TensorFlow work."
            ) from error
    return [device.name for device in tf.config.list_logical_devices("CPU")]


def choose_strategy():
    """The strategy for this machine, and a line saying which and why.

    A TPU (Colab's TPU runtime) gets `TPUStrategy`, one replica per TPU core; GPUs get a
    `MirroredStrategy` with one replica per GPU; without either, `MirroredStrategy` over the
    logical CPU devices (see `use_logical_cpus`), which shows the mechanics but is not faster.

    Returns:
      (strategy, reason): a `tf.distribute.Strategy` and a one-line string.
    """
    resolver = _tpu_resolver()
    if resolver is not None:
        if resolver.master():  # a TPU reached over the network (older Colab TPU runtimes)
            tf.config.experimental_connect_to_cluster(resolver)
        tf.tpu.experimental.initialize_tpu_system(resolver)
        strategy = tf.distribute.TPUStrategy(resolver)
        return strategy, (
            f"TPUStrategy: a TPU was found, {strategy.num_replicas_in_sync} cores, "
            "one replica per core"
        )
    gpus = [device.name for device in tf.config.list_logical_devices("GPU")]
    if gpus:
        return tf.distribute.MirroredStrategy(gpus), (
            f"MirroredStrategy over the {len(gpus)} GPU(s) found, one replica per GPU"
        )
    cpus = [device.name for device in tf.config.list_logical_devices("CPU")]
    reason = (
        f"MirroredStrategy over {len(cpus)} logical CPU device(s): no GPU or TPU was found, "
        "so one processor plays the replicas (to show the mechanics; it is not faster)"
    )
    return tf.distribute.MirroredStrategy(cpus), reason


def _tpu_resolver():
    """A TPUClusterResolver where this runtime has a TPU, else None."""
    if os.environ.get("COLAB_TPU_ADDR"):  # Colab's TPU node runtimes name it here
        return tf.distribute.cluster_resolver.TPUClusterResolver(
            tpu="grpc://" + os.environ["COLAB_TPU_ADDR"]
        )
    if tf.config.list_physical_devices("TPU"):  # a TPU VM: the TPU is local
        return tf.distribute.cluster_resolver.TPUClusterResolver(tpu="local")
    return None


def point_mass(model, logvar=-60.0):
    """Sets the encoder's log-variance bias to `logvar`, so that q(z|x) is nearly a point:
    its standard deviation is exp(logvar / 2) (about 1e-13 for -60), and the noise eps moves
    z by that much. Steps on one device and on N replicas can then be compared weight for
    weight: each replica draws its own eps for its share of a batch, and those draws could
    never match the ones a single device makes for the whole batch.

    Args:
      model: a `models.CVAE`; changed in place.
    Returns:
      `model`.
    """
    dense = model.encoder.layers[-1]
    bias = dense.bias.numpy()
    bias[model.latent_dim:] = logvar
    dense.bias.assign(bias)
    return model


def is_chief(strategy):
    """Whether this process writes checkpoints: always in one process; under
    `MultiWorkerMirroredStrategy`, only the chief (worker 0, or the task named "chief")."""
    resolver = getattr(strategy, "cluster_resolver", None)
    if resolver is None or not resolver.cluster_spec().as_dict():
        return True
    return resolver.task_type == "chief" or (
        resolver.task_type == "worker" and resolver.task_id == 0
        and "chief" not in resolver.cluster_spec().as_dict()
    )


class ChiefCheckpoint(keras.callbacks.Callback):
    """Keeps the per-epoch history and, on the chief only, writes it with the model to
    `path` after every epoch, through `training`'s atomic save (written beside the path,
    then renamed over it): a worker killed at any moment leaves the last whole checkpoint."""

    def __init__(self, path, chief):
        super().__init__()
        self.path, self.chief = path, chief
        self.history = {}

    def on_epoch_end(self, epoch, logs=None):
        for name, value in (logs or {}).items():
            self.history.setdefault(name, []).append(float(value))
        if self.path is not None and self.chief:
            training._save(self.path, self.model, self.history)


def fit_under(strategy, images, *, epochs, batch_size, learning_rate,
              make_model, checkpoint=None, callbacks=(), verbose=0):
    """Builds a model and its optimizer (SGD) in `strategy.scope()`, then fits it.

    Args:
      strategy: a `tf.distribute.Strategy`; `tf.distribute.get_strategy()` for one device.
      images: 0/1 float32 images (N, 28, 28, 1), taken in order (no shuffling), so every
        process and every run sees the same global batches.
      epochs, batch_size: passes over `images`, and the GLOBAL batch size (split among the
        replicas by `fit`).
      learning_rate: SGD's step size.
      make_model: a function of no argument that returns a new, uncompiled `CVAE`.
      checkpoint: a `.keras` path written after every epoch by the chief only, or None.
    Returns:
      (model, history): the fitted model and {metric name: list of per-epoch values}.
    """
    dataset = data.make_dataset(images, batch_size, binarization="as_is",
                                shuffle=False)
    # The data are in memory, not in files: each worker reads them all and keeps its share
    # of every global batch.
    options = tf.data.Options()
    options.experimental_distribute.auto_shard_policy = (
        tf.data.experimental.AutoShardPolicy.DATA
    )
    dataset = dataset.with_options(options)
    with strategy.scope():
        model = make_model()
        model.compile(optimizer=keras.optimizers.SGD(learning_rate))
    if isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy):
        _logs_as_vectors(model)
    recorder = ChiefCheckpoint(checkpoint, is_chief(strategy))
    model.fit(dataset, epochs=epochs, shuffle=False, verbose=verbose,
              callbacks=[recorder, *callbacks])
    return model, recorder.history


def _logs_as_vectors(model):
    """Makes `fit` work across workers in Keras 3, which averages each logged value over the
    replicas with `strategy.reduce("MEAN", value, axis=0)`: a scalar has no axis 0 and fails
    (tensorflow/tensorflow#72388). The step itself is unchanged; its logs become shape (1,),
    and at each epoch's end Keras reads the metrics themselves, summed over all replicas."""
    step = model.train_step

    def train_step(batch):
        return {name: value[None] for name, value in step(batch).items()}

    model.train_step = train_step


def worker_images(num_images):
    """The first `num_images` bundled MNIST training digits, binarised at 0.5: the same
    array in every process, with no download. Shape (num_images, 28, 28, 1)."""
    mnist = data.load_mnist("bundled")
    return data.binarize_static(mnist.train_images[:num_images])


def free_ports(count):
    """`count` distinct TCP ports that are free on the loopback interface now."""
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:  # all held at once, so that the ports differ
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def cluster_config(ports, index):
    """The TF_CONFIG of worker `index` in a cluster of one worker per port, all on loopback."""
    return json.dumps({
        "cluster": {"worker": [f"127.0.0.1:{port}" for port in ports]},
        "task": {"type": "worker", "index": index},
    })


@dataclasses.dataclass
class WorkerResult:
    """How one worker process ended.

    Attributes:
      index: its task index (0 is the chief).
      returncode: its exit status (negative: killed by that signal).
      stopped: True if `launch_workers` had to kill it (time limit, or a peer failed).
      log: what it printed.
    """

    index: int
    returncode: int
    stopped: bool
    log: str


def launch_workers(command, num_workers=2, timeout=WORKER_TIMEOUT_S):
    """Runs `command` as `num_workers` processes, each with the TF_CONFIG of one worker of a
    cluster on this machine's loopback, and waits for all of them.

    Every process ends within `timeout` seconds: when one fails, its peers (which would wait
    for it in their next all-reduce) are stopped at once; at the time limit, all are.

    Args:
      command: the argument list of a worker, e.g. [sys.executable, "-m",
        "vae_helpers.distributed", "worker", ...].
    Returns:
      A list of `WorkerResult`, by task index.
    """
    num_workers = config.positive_int("num_workers", num_workers)
    ports = free_ports(num_workers)
    processes, logs, stopped = [], [], set()
    with tempfile.TemporaryDirectory() as folder:
        try:
            for index in range(num_workers):
                env = dict(os.environ, TF_CONFIG=cluster_config(ports, index))
                env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
                log = open(os.path.join(folder, f"worker-{index}.log"), "w+")
                logs.append(log)
                processes.append(subprocess.Popen(
                    command, env=env, stdout=log, stderr=subprocess.STDOUT
                ))
            deadline = time.monotonic() + timeout
            while any(process.poll() is None for process in processes):
                failed = any(process.poll() not in (None, 0) for process in processes)
                if failed or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
        finally:
            for index, process in enumerate(processes):
                if process.poll() is None:
                    process.kill()
                    stopped.add(index)
                process.wait()
            texts = []
            for log in logs:
                log.seek(0)
                texts.append(log.read())
                log.close()
    return [
        WorkerResult(index, process.returncode, index in stopped, text)
        for index, (process, text) in enumerate(zip(processes, texts))
    ]


def worker_command(output, *, epochs, num_images, batch_size, learning_rate,
                   checkpoint=None):
    """The argument list that runs this module's worker (see `main`)."""
    command = [
        sys.executable, "-m", "vae_helpers.distributed", "worker",
        "--output", os.fspath(output), "--epochs", str(epochs),
        "--images", str(num_images), "--batch-size", str(batch_size),
        "--learning-rate", repr(float(learning_rate)),
    ]
    if checkpoint is not None:
        command += ["--checkpoint", os.fspath(checkpoint)]
    return command


def run_worker(output, *, epochs, num_images, batch_size, learning_rate,
               checkpoint=None, make_model=None, callbacks=()):
    """One worker: trains under `MultiWorkerMirroredStrategy` (TF_CONFIG names its place in
    the cluster; without one, it trains alone on one device) and writes its final weights and
    history to OUTPUT/worker-{index}.npz."""
    # Two worker processes on one machine would fight over its GPU: this demonstration is
    # about the protocol, and runs on the CPU.
    tf.config.set_visible_devices([], "GPU")
    if os.environ.get("TF_CONFIG"):
        cluster = json.loads(os.environ["TF_CONFIG"])["cluster"]
        _patient_coordination(len(cluster["worker"]))
        options = tf.distribute.experimental.CommunicationOptions(
            timeout_seconds=COLLECTIVE_TIMEOUT_S
        )
        strategy = tf.distribute.MultiWorkerMirroredStrategy(
            communication_options=options
        )
        index = strategy.cluster_resolver.task_id
    else:
        strategy, index = tf.distribute.get_strategy(), 0
    config.set_seeds()
    make_model = make_model or (lambda: models.CVAE(2, seed=config.SEED))
    model, history = fit_under(
        strategy, worker_images(num_images), epochs=epochs, batch_size=batch_size,
        learning_rate=learning_rate, make_model=make_model,
        checkpoint=checkpoint, callbacks=callbacks,
    )
    os.makedirs(output, exist_ok=True)
    np.savez(
        os.path.join(output, f"worker-{index}.npz"),
        replicas=strategy.num_replicas_in_sync,
        chief=is_chief(strategy),
        **{f"history_{name}": values for name, values in history.items()},
        **{f"weight_{i}": w for i, w in enumerate(model.get_weights())},
    )


def _patient_coordination(num_workers):
    """Configures the coordination service as `MultiWorkerMirroredStrategy` would (a cluster
    of `num_workers` workers, led by worker 0), with a heartbeat timeout of
    HEARTBEAT_TIMEOUT_S. With the default 10 s, workers on a machine busy with other work were
    seen to abort their all-reduce ("Deadline Exceeded ... CoordinationService/Heartbeat").
    This is TensorFlow's private API: where it differs, TensorFlow's defaults stay."""
    from tensorflow.python.eager import context

    try:
        job = context.coordination_config_pb2.CoordinatedJob(
            name="worker", num_tasks=num_workers
        )
        context.context().configure_coordination_service(
            service_type="standalone", service_leader="/job:worker/replica:0/task:0",
            heartbeat_timeout_in_ms=HEARTBEAT_TIMEOUT_S * 1000, coordinated_jobs=[job],
        )
    except (AttributeError, TypeError):
        pass


def read_worker(output, index):
    """(weights, history, chief) that worker `index` wrote to `output`."""
    with np.load(os.path.join(output, f"worker-{index}.npz")) as saved:
        count = sum(name.startswith("weight_") for name in saved.files)
        weights = [saved[f"weight_{i}"] for i in range(count)]
        history = {name[len("history_"):]: saved[name].tolist()
                   for name in saved.files if name.startswith("history_")}
        return weights, history, bool(saved["chief"])


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m vae_helpers.distributed",
        description="Train the book's CVAE on worker processes on this machine.",
    )
    parser.add_argument("role", choices=("launch", "worker"),
                        help="launch: start the workers; worker: be one (reads TF_CONFIG)")
    parser.add_argument("--output", required=True, help="folder for worker-N.npz")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--images", type=int, default=512)
    parser.add_argument("--batch-size", type=int, default=64, help="global batch")
    parser.add_argument("--learning-rate", type=float, default=0.01)
    parser.add_argument("--checkpoint", default=None, help="a .keras path (chief)")
    parser.add_argument("--timeout", type=float, default=WORKER_TIMEOUT_S)
    args = parser.parse_args(argv)
    settings = dict(epochs=args.epochs, num_images=args.images,
                    batch_size=args.batch_size, learning_rate=args.learning_rate,
                    checkpoint=args.checkpoint)
    if args.role == "worker":
        run_worker(args.output, **settings)
        return 0
    results = launch_workers(worker_command(args.output, **settings),
                             args.workers, args.timeout)
    for result in results:
        state = "stopped" if result.stopped else f"exit status {result.returncode}"
        print(f"worker {result.index}: {state}")
        if result.returncode != 0:
            print(result.log[-2000:])
    return 0 if all(result.returncode == 0 for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
