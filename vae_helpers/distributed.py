"""Training the book's CVAE on several devices, or several processes, with `tf.distribute`.

* `use_logical_cpus` splits the processor into logical CPU devices, so that the mechanics of
  replicas can be shown (and tested) on a machine with no GPU.
* `choose_strategy` picks `TPUStrategy` on a TPU, `MirroredStrategy` over the GPUs found
  when there are two or more, or else over the logical CPUs, and says which and why.
* `fit_under` builds, compiles and fits a model under a strategy, with a checkpoint written by
  the chief only (through `training`'s atomic save), and stops at a NaN or infinite loss.
* `launch_workers` starts worker processes on this machine's loopback, each with its own
  `TF_CONFIG`, and makes sure that every one of them ends within a time limit. From a shell:
  `python -m vae_helpers.distributed launch --output DIR` trains the CVAE on two workers.

A run never replaces a file that is not its own: an existing checkpoint or worker-N.npz is
replaced only if it is a vae_helpers file of a run with the same images, global batch size and
learning rate (`run_fingerprint`), so a rerun of one command may rewrite its own results.
"""

import argparse
import contextlib
import dataclasses
import errno
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import time
import zipfile

import keras
import numpy as np
import tensorflow as tf

from vae_helpers import checkpoints, config, data, models, training

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

PEER_TIMEOUT_S = 180
"""How long a worker waits by default for every peer of its cluster to start listening: a peer
still importing TensorFlow on a busy machine must not be taken for dead, and one that never
starts must not leave it waiting for ever (TensorFlow itself would wait without a limit)."""

_TF_CONFIG_FIX = (
    "Set TF_CONFIG as distributed.cluster_config(ports, index) writes it, e.g. "
    '{"cluster": {"worker": ["127.0.0.1:20000", "127.0.0.1:20001"]}, '
    '"task": {"type": "worker", "index": 0}}, or unset it to train alone in one process '
    "(python -m vae_helpers.distributed launch sets it for every worker)"
)


class ClusterError(RuntimeError):
    """A worker cannot join its cluster: TF_CONFIG is malformed, its port is in use, or a
    peer never started."""


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

    A TPU (Colab's TPU runtime) gets `TPUStrategy`, one replica per TPU core; two or more
    GPUs get a `MirroredStrategy` with one replica per GPU. One GPU would make one replica,
    which shows nothing of what replicas do (every replica-count check holds trivially), so
    one GPU, or none, gets `MirroredStrategy` over the logical CPU devices (see
    `use_logical_cpus`), which shows the mechanics but is not faster. Only where there is one
    GPU and a single CPU device does the strategy have one replica, and the line says how to
    get two.

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
    cpus = [device.name for device in tf.config.list_logical_devices("CPU")]
    if len(gpus) >= 2:
        return tf.distribute.MirroredStrategy(gpus), (
            f"MirroredStrategy over the {len(gpus)} GPUs found, one replica per GPU"
        )
    if gpus and len(cpus) < 2:
        return tf.distribute.MirroredStrategy(gpus), (
            "MirroredStrategy over the 1 GPU found: one replica, which shows nothing of what "
            "replicas do; call distributed.use_logical_cpus(2) first, before any other "
            "TensorFlow work, for two replicas on logical CPUs"
        )
    found = ("only one GPU was found, which would make one replica" if gpus
             else "no GPU or TPU was found")
    reason = (
        f"MirroredStrategy over {len(cpus)} logical CPU device(s): {found}, so one "
        "processor plays the replicas (to show the mechanics; it is not faster)"
    )
    if len(cpus) < 2:
        reason += ("; for two replicas, call distributed.use_logical_cpus(2) first, before "
                   "any other TensorFlow work")
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
    then renamed over it): a worker killed at any moment leaves the last whole checkpoint.

    A file already at `path` when training begins is replaced only if it is a checkpoint of
    this run (`check_checkpoint`); otherwise training stops before its first step. A NaN or
    infinite loss stops training before that epoch is written (`training.NonFiniteLossError`).

    Args:
      path: a `.keras` path, or None for no checkpoint.
      chief: whether this process writes (`is_chief`).
      run_fingerprint: the `run_fingerprint` of this run, recorded in the checkpoint as its
        data fingerprint; None: the run cannot be told, so no existing file is replaced.
    """

    def __init__(self, path, chief, run_fingerprint=None):
        super().__init__()
        if path is not None and not os.fspath(path).endswith(".keras"):
            raise ValueError(f"checkpoint must be a path ending in .keras; got {path!r}.")
        self.path, self.chief = path, chief
        self.run_fingerprint = run_fingerprint
        self.history = {}
        self._written = False
        self._epoch = 1

    def on_train_begin(self, logs=None):
        if self.path is not None and self.chief and not self._written:
            check_checkpoint(self.path, self.run_fingerprint, self.params.get("epochs"),
                             self.model)

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch + 1

    def on_train_batch_end(self, batch, logs=None):
        loss = (logs or {}).get("loss")
        if loss is not None and not np.all(np.isfinite(np.asarray(loss, np.float64))):
            raise training.NonFiniteLossError(self._non_finite(
                f"the training loss became {np.asarray(loss).ravel()[0]} at epoch "
                f"{self._epoch}, step {batch + 1}"))

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        broken = {name: float(np.asarray(value).ravel()[0]) for name, value in logs.items()
                  if not np.all(np.isfinite(np.asarray(value, np.float64)))}
        if broken:
            values = ", ".join(f"{name}={value}" for name, value in broken.items())
            raise training.NonFiniteLossError(self._non_finite(
                f"after epoch {epoch + 1}, {values}"))
        for name, value in logs.items():
            self.history.setdefault(name, []).append(float(value))
        if self.path is not None and self.chief:
            checkpoints.save(self.path, self.model, self.history, self.run_fingerprint)
            self._written = True

    def _non_finite(self, what):
        optimizer = self.model.optimizer
        rate = float(np.asarray(optimizer.learning_rate))
        return (
            f"{what}. {type(optimizer).__name__}'s learning rate {rate:g} may be too large: "
            f"try a smaller one (e.g. {min(rate / 10, 0.01):g}; --learning-rate in python -m "
            "vae_helpers.distributed), and check the images (pixels in [0, 1], no NaN). This "
            "epoch was not written to the checkpoint; the last one written, if any, holds "
            "the model from before it."
        )


def run_fingerprint(images, batch_size, learning_rate):
    """Names a run of `fit_under`: `data.fingerprint` of its images and of its global batch
    size and learning rate (a 64-character hexadecimal string). Recorded in its checkpoint
    (as the data fingerprint) and in every worker-N.npz, so that a later run can tell its
    own files, which it may replace, from anyone else's."""
    settings = np.asarray([batch_size, learning_rate], np.float64)
    return data.fingerprint(np.asarray(images), settings)


def _not_ours(path, problem, fix):
    return training.CheckpointMismatchError(
        f"{path} already exists and was not written by this run: {problem}. It was left as "
        f"it is: {fix}, or move the file away first."
    )


def check_checkpoint(path, fingerprint, epochs=None, model=None):
    """Raises `training.CheckpointMismatchError` naming the fix unless a checkpoint may be
    written at `path`: nothing is there yet, or it is a checkpoint of this very run (the
    same `run_fingerprint`, the same latent_dim and beta as `model` when given, and no more
    than `epochs` epochs), which the run would write again. Never changes the file."""
    target = os.path.realpath(path)  # a link is written through: its target is what counts
    if not os.path.lexists(target):
        return
    option = ("pass another checkpoint path (--checkpoint): a new file, or this same run's "
              "checkpoint")
    if not os.path.isfile(target):
        raise _not_ours(path, "it is not a regular file", option)
    try:
        state = training.checkpoint_state(target)
    except training.CheckpointMismatchError:
        raise _not_ours(path, "it is not a checkpoint written by vae_helpers", option) from None
    done = state.get("epochs_done")
    if fingerprint is None or state.get("data_fingerprint") != fingerprint:
        problem = (f"it is a checkpoint of another run ({done} epoch(s), on other images or "
                   "with another batch size or learning rate)")
        raise _not_ours(path, problem, option)
    for name in ("latent_dim", "beta"):
        if model is not None and state.get(name) != getattr(model, name):
            problem = (f"it holds a model with {name}={state.get(name)}, this run's has "
                       f"{name}={getattr(model, name)}")
            raise _not_ours(path, problem, option)
    if epochs is not None and done > epochs:
        raise _not_ours(path, f"it holds {done} epochs, more than this run's {epochs}", option)


def _check_result(path, fingerprint):
    """Like `check_checkpoint`, for a worker-N.npz: absent, or written by this very run."""
    if not os.path.lexists(path):
        return
    option = "pass another output folder (--output): a new one, or this same run's"
    # A FIFO or a device would block or stream for ever: only a regular file is read.
    if not os.path.isfile(path) or not zipfile.is_zipfile(path):
        raise _not_ours(path, "it is not a worker result written by vae_helpers", option)
    try:
        with np.load(path, allow_pickle=False) as saved:
            recorded = str(saved["run_fingerprint"]) if "run_fingerprint" in saved.files else None
    except Exception:  # numpy raises ValueError, OSError, zipfile or zlib errors, by the damage
        recorded = None
    if recorded != fingerprint:
        raise _not_ours(path, "it is not a result of this run (other images or settings, "
                              "or not a worker result at all)", option)


def _write_result(path, fingerprint, arrays):
    """Writes `arrays` and `fingerprint` to the .npz `path`: to a new temporary file beside
    it, then renamed over it (a link there is replaced, never written through)."""
    folder = os.path.dirname(path) or "."
    handle, temporary = tempfile.mkstemp(suffix=".partial", dir=folder,
                                         prefix=f".{os.path.basename(path)}.")
    try:
        with os.fdopen(handle, "wb") as file:
            np.savez(file, run_fingerprint=np.asarray(fingerprint), **arrays)
        _check_result(path, fingerprint)  # training took minutes: look again
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temporary)
        raise


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
      checkpoint: a `.keras` path written after every epoch by the chief only, or None. A
        file already there is replaced only if it is a checkpoint of this run (see
        `check_checkpoint`).
    Returns:
      (model, history): the fitted model and {metric name: list of per-epoch values}.
    Raises:
      training.CheckpointMismatchError: `checkpoint` holds another file (left as it is).
      training.NonFiniteLossError: the loss became NaN or infinite; that epoch is not written.
    """
    epochs = config.positive_int("epochs", epochs)
    batch_size = config.positive_int("batch_size", batch_size)
    learning_rate = config.positive_number("learning_rate", learning_rate)
    fingerprint = run_fingerprint(images, batch_size, learning_rate)
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
    recorder = ChiefCheckpoint(checkpoint, is_chief(strategy), fingerprint)
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
    num_images = config.positive_int("num_images", num_images)
    mnist = data.load_mnist("bundled")
    if num_images > len(mnist.train_images):
        raise ValueError(
            f"num_images={num_images}, but the bundled set has "
            f"{len(mnist.train_images):,} training digits: ask for at most that many."
        )
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
                   checkpoint=None, peer_timeout=PEER_TIMEOUT_S):
    """The argument list that runs this module's worker (see `main`)."""
    command = [
        sys.executable, "-m", "vae_helpers.distributed", "worker",
        "--output", os.fspath(output), "--epochs", str(epochs),
        "--images", str(num_images), "--batch-size", str(batch_size),
        "--learning-rate", repr(float(learning_rate)),
        "--peer-timeout", repr(float(peer_timeout)),
    ]
    if checkpoint is not None:
        command += ["--checkpoint", os.fspath(checkpoint)]
    return command


@dataclasses.dataclass(frozen=True)
class ClusterPlace:
    """A worker's place in its cluster, as TF_CONFIG gives it.

    Attributes:
      workers: the "host:port" address of every worker, by task index (0 is the chief).
      index: this worker's task index.
    """

    workers: tuple
    index: int


def read_tf_config(text=None):
    """This worker's place in the cluster that TF_CONFIG describes (or `text`, a TF_CONFIG
    value), or None when it is unset or empty: the worker then trains alone.

    Raises:
      ClusterError naming the fix: not JSON, no "worker" job (the only job these workers
      form: worker 0 is the chief), an address that is not host:port, or a task that is
      not one of those workers.
    """
    text = os.environ.get("TF_CONFIG", "") if text is None else text
    if not text.strip():
        return None
    try:
        spec = json.loads(text)
    except json.JSONDecodeError as error:
        raise ClusterError(
            f"TF_CONFIG is not valid JSON ({error.msg} at line {error.lineno}, column "
            f"{error.colno}). {_TF_CONFIG_FIX}."
        ) from None
    cluster = spec.get("cluster") if isinstance(spec, dict) else None
    if not isinstance(cluster, dict):
        raise ClusterError(
            f'TF_CONFIG must be a JSON object with a "cluster" and a "task"; got {text!r}. '
            f"{_TF_CONFIG_FIX}."
        )
    workers = cluster.get("worker")
    if not isinstance(workers, list) or not workers:
        jobs = ", ".join(repr(job) for job in cluster) or "none"
        raise ClusterError(
            f'TF_CONFIG\'s cluster has no "worker" job, a list of "host:port" addresses '
            f"(its jobs: {jobs}). These workers form one job named worker, worker 0 being "
            f"the chief. {_TF_CONFIG_FIX}."
        )
    others = sorted(set(cluster) - {"worker"})
    if others:
        raise ClusterError(
            f"TF_CONFIG's cluster has jobs besides worker ({', '.join(others)}): these "
            "workers form one job named worker, worker 0 being the chief. Remove the "
            f"others. {_TF_CONFIG_FIX}."
        )
    for address in workers:
        _host_and_port(address)
    if len(set(workers)) != len(workers):
        raise ClusterError(
            f"TF_CONFIG lists one address for two workers ({workers}): give each worker "
            "its own port (distributed.free_ports finds free ones)."
        )
    task = spec.get("task")
    index = task.get("index") if isinstance(task, dict) else None
    if (not isinstance(task, dict) or task.get("type") != "worker"
            or isinstance(index, bool) or not isinstance(index, int)
            or not 0 <= index < len(workers)):
        raise ClusterError(
            f'TF_CONFIG\'s task must be {{"type": "worker", "index": i}} with i from 0 to '
            f"{len(workers) - 1} (this worker's place in the list); got {task!r}. "
            f"{_TF_CONFIG_FIX}."
        )
    return ClusterPlace(tuple(workers), index)


def _host_and_port(address):
    host, _, port = address.rpartition(":") if isinstance(address, str) else ("", "", "")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ClusterError(
            f"TF_CONFIG names the worker address {address!r}, which is not host:port (a port "
            f"from 1 to 65535, e.g. 127.0.0.1:20000). {_TF_CONFIG_FIX}."
        )
    return host.strip("[]"), int(port)


def wait_for_peers(place, timeout=PEER_TIMEOUT_S):
    """Holds this worker's port, and waits until every peer's port answers, for at most
    `timeout` seconds. Run before TensorFlow starts its server: a busy port is named here
    (TensorFlow says only "Could not start gRPC server"), and a peer that never starts ends
    the wait (TensorFlow's own wait for it has no time limit).

    A peer answers while it waits here too, or once its TensorFlow server listens.

    Args:
      place: a `ClusterPlace` (`read_tf_config`).
      timeout: seconds.
    Raises:
      ClusterError naming the fix.
    """
    timeout = config.positive_number("timeout", timeout)
    address = place.workers[place.index]
    _, port = _host_and_port(address)
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # As gRPC does: a closed connection's TIME_WAIT does not make a port busy.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind(("", port))
        except OSError as error:
            if error.errno != errno.EADDRINUSE:
                raise ClusterError(
                    f"Worker {place.index} cannot listen on port {port} ({address} in "
                    f"TF_CONFIG): {error.strerror or error}. Give it a port from 1024 to "
                    "65535 that is free (distributed.free_ports finds some)."
                ) from None
            raise ClusterError(
                f"Port {port} ({address}, worker {place.index} in TF_CONFIG) is in use by "
                "another process, so this worker cannot start its server there. Stop that "
                f"process (an earlier worker still running? `ss -ltnp | grep :{port}` names "
                "it), or give this worker a free port in TF_CONFIG (distributed.free_ports "
                "finds some; python -m vae_helpers.distributed launch picks free ones)."
            ) from None
        listener.listen(4 * len(place.workers))
        waiting = {i: a for i, a in enumerate(place.workers) if i != place.index}
        deadline = time.monotonic() + timeout
        while waiting:
            for i, peer in list(waiting.items()):
                with contextlib.suppress(OSError):
                    socket.create_connection(_host_and_port(peer), timeout=1.0).close()
                    del waiting[i]
            if waiting and time.monotonic() >= deadline:
                missing = ", ".join(f"worker {i} ({a})" for i, a in waiting.items())
                raise ClusterError(
                    f"Worker {place.index} waited {timeout:g} s for its peers, and {missing} "
                    "never started listening. Start every worker of TF_CONFIG's cluster (python "
                    "-m vae_helpers.distributed launch starts them all), check their addresses "
                    "in TF_CONFIG, or wait longer with --peer-timeout SECONDS "
                    "(run_worker's peer_timeout)."
                )
            if waiting:
                time.sleep(0.2)
    finally:
        listener.close()


def run_worker(output, *, epochs, num_images, batch_size, learning_rate,
               checkpoint=None, make_model=None, callbacks=(),
               peer_timeout=PEER_TIMEOUT_S):
    """One worker: trains under `MultiWorkerMirroredStrategy` (TF_CONFIG names its place in
    the cluster; without one, it trains alone on one device) and writes its final weights and
    history to OUTPUT/worker-{index}.npz.

    Everything that can be checked is checked before TensorFlow starts: TF_CONFIG, the files
    this worker would replace (only files of this very run may be, see `check_checkpoint`),
    this worker's port, and that every peer starts within `peer_timeout` seconds.

    Raises:
      ClusterError: a malformed TF_CONFIG, a busy port, or a peer that never started.
      training.CheckpointMismatchError: `checkpoint` or the worker-N.npz holds a file this
        run did not write (it is left as it is).
      training.NonFiniteLossError: the loss became NaN or infinite (nothing is written).
    """
    epochs = config.positive_int("epochs", epochs)
    batch_size = config.positive_int("batch_size", batch_size)
    learning_rate = config.positive_number("learning_rate", learning_rate)
    peer_timeout = config.positive_number("peer_timeout", peer_timeout)
    place = read_tf_config()
    index = 0 if place is None else place.index
    images = worker_images(num_images)
    fingerprint = run_fingerprint(images, batch_size, learning_rate)
    result = os.path.join(output, f"worker-{index}.npz")
    _check_result(result, fingerprint)
    if checkpoint is not None and index == 0:
        check_checkpoint(checkpoint, fingerprint, epochs)
    if place is not None:
        wait_for_peers(place, peer_timeout)
    # Two worker processes on one machine would fight over its GPU: this demonstration is
    # about the protocol, and runs on the CPU.
    tf.config.set_visible_devices([], "GPU")
    if place is not None:
        _patient_coordination(len(place.workers))
        options = tf.distribute.experimental.CommunicationOptions(
            timeout_seconds=COLLECTIVE_TIMEOUT_S
        )
        strategy = tf.distribute.MultiWorkerMirroredStrategy(
            communication_options=options
        )
    else:
        strategy = tf.distribute.get_strategy()
    config.set_seeds()
    make_model = make_model or (lambda: models.CVAE(2, seed=config.SEED))
    model, history = fit_under(
        strategy, images, epochs=epochs, batch_size=batch_size,
        learning_rate=learning_rate, make_model=make_model,
        checkpoint=checkpoint, callbacks=callbacks,
    )
    os.makedirs(output, exist_ok=True)
    _write_result(result, fingerprint, {
        "replicas": strategy.num_replicas_in_sync,
        "chief": is_chief(strategy),
        **{f"history_{name}": values for name, values in history.items()},
        **{f"weight_{i}": w for i, w in enumerate(model.get_weights())},
    })


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


def _positive_int(text):
    try:
        return config.positive_int("value", int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be a positive whole number; got {text!r}") from None


def _positive_number(text):
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(
            f"must be a positive finite number (e.g. 0.01); got {text!r}")
    return value


def _keras_path(text):
    if not text.endswith(".keras"):
        raise argparse.ArgumentTypeError(
            f"must be a path ending in .keras (a new file, or this run's checkpoint); "
            f"got {text!r}")
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m vae_helpers.distributed",
        description="Train the book's CVAE on worker processes on this machine.",
    )
    parser.add_argument("role", choices=("launch", "worker"),
                        help="launch: start the workers; worker: be one (reads TF_CONFIG)")
    parser.add_argument("--output", required=True, help="folder for worker-N.npz")
    parser.add_argument("--workers", type=_positive_int, default=2)
    parser.add_argument("--epochs", type=_positive_int, default=2)
    parser.add_argument("--images", type=_positive_int, default=512,
                        help="bundled training digits (at most 4,000)")
    parser.add_argument("--batch-size", type=_positive_int, default=64, help="global batch")
    parser.add_argument("--learning-rate", type=_positive_number, default=0.01,
                        help="SGD's step size")
    parser.add_argument("--checkpoint", type=_keras_path, default=None,
                        help="a .keras path (chief): new, or this same run's checkpoint")
    parser.add_argument("--timeout", type=_positive_number, default=WORKER_TIMEOUT_S,
                        help="launch: seconds before every worker is stopped")
    parser.add_argument("--peer-timeout", type=_positive_number, default=PEER_TIMEOUT_S,
                        help="seconds a worker waits for its peers to start")
    args = parser.parse_args(argv)
    settings = dict(epochs=args.epochs, num_images=args.images,
                    batch_size=args.batch_size, learning_rate=args.learning_rate,
                    checkpoint=args.checkpoint)
    try:
        images = worker_images(args.images)
    except ValueError as error:
        parser.error(f"argument --images: {error}")
    try:
        if args.role == "worker":
            run_worker(args.output, peer_timeout=args.peer_timeout, **settings)
            return 0
        # Each worker checks again; checked here, no worker is started in vain.
        fingerprint = run_fingerprint(images, args.batch_size, args.learning_rate)
        for index in range(args.workers):
            _check_result(os.path.join(args.output, f"worker-{index}.npz"), fingerprint)
        if args.checkpoint is not None:
            check_checkpoint(args.checkpoint, fingerprint, args.epochs)
    except (ClusterError, training.CheckpointMismatchError,
            training.NonFiniteLossError) as error:
        print(f"{parser.prog} {args.role}: {error}", file=sys.stderr)
        return 1
    results = launch_workers(
        worker_command(args.output, peer_timeout=args.peer_timeout, **settings),
        args.workers, args.timeout)
    for result in results:
        state = "stopped" if result.stopped else f"exit status {result.returncode}"
        print(f"worker {result.index}: {state}")
        if result.returncode != 0:
            print(result.log[-2000:])
    return 0 if all(result.returncode == 0 for result in results) else 1


if __name__ == "__main__":
    sys.exit(main())
