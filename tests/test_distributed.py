"""Training under tf.distribute: N replicas take the step one device takes on the same global
batch, and so do N worker processes; only the chief writes checkpoints, atomically.

The devices and clusters live in subprocesses (mirrored_step.py, distributed_worker.py): logical
devices and TF_CONFIG must be in place before TensorFlow sets up its devices, which this test
process has long done.
"""

import json
import os
import pathlib
import re
import socket
import subprocess
import sys
import threading
import time

import keras
import numpy as np
import pytest

from vae_helpers import distributed, models, training

HERE = pathlib.Path(__file__).resolve().parent
# Two replicas add the same gradients in another order (two halves, then an all-reduce): the
# steps differ from one device's by ~1e-5 of the largest weight change (measured: 1.0e-5).
STEP_RTOL = 1e-4
# 8 steps on two workers against 8 in one process differ by ~1e-5 of the largest weight change
# (measured: 8.7e-6).
WORKER_STEP_RTOL = 1e-3
RUN_TIMEOUT_S = 300


def _run(command, timeout=RUN_TIMEOUT_S, env=None):
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout,
                            env=env, cwd=HERE.parent)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.fixture(scope="module")
def step(tmp_path_factory):
    output = tmp_path_factory.mktemp("step") / "step.npz"
    _run([sys.executable, str(HERE / "mirrored_step.py"), str(output)])
    with np.load(output) as saved:
        return {name: saved[name] for name in saved.files}


def test_the_subprocess_made_two_logical_cpus_and_chose_mirrored_strategy(step):
    assert list(step["devices"]) == ["/device:CPU:0", "/device:CPU:1"]
    assert str(step["reason"]).startswith("MirroredStrategy over 2 logical CPU device(s)")


def test_one_gpu_is_not_taken_for_replicas_the_two_logical_cpus_are(step):
    # Colab's GPU runtime: MirroredStrategy over its one GPU made one replica, and every check
    # of the appendix held trivially.
    assert int(step["one_gpu_replicas"]) == 2
    assert "only one GPU was found, which would make one replica" in str(step["one_gpu_reason"])


def test_two_replicas_take_the_step_that_one_device_takes(step):
    one, two = step["one_change"], step["two_change"]
    scale = np.abs(one).max()
    assert scale > 0
    np.testing.assert_allclose(two, one, rtol=0, atol=STEP_RTOL * scale)


def test_the_old_per_replica_mean_steps_twice_as_far(step):
    # What the test above would see without the fix (commit 215ea31's train_step): the two
    # replicas' gradients, each of a mean over 32 images, are summed.
    one, old = step["one_change"], step["old_change"]
    scale = np.abs(one).max()
    np.testing.assert_allclose(old, 2 * one, rtol=0, atol=STEP_RTOL * scale)
    assert np.abs(old - one).max() > 0.5 * scale


@pytest.mark.parametrize("metric, term, sign", [
    ("elbo", "elbo", 1), ("reconstruction_loss", "reconstruction", -1),
    ("kl_loss", "kl", 1), ("loss", "elbo", -1),
])
def test_metrics_are_per_image_means_over_the_global_batch(step, metric, term, sign):
    # The terms of the 64 images computed directly, before the step, in one process.
    expected = sign * step[f"terms_{term}"].mean()
    for run in ("one", "two"):
        np.testing.assert_allclose(step[f"{run}_{metric}"], expected, rtol=1e-5)


def test_ports_are_distinct_and_the_cluster_is_on_loopback():
    ports = distributed.free_ports(4)
    assert len(set(ports)) == 4 and all(1024 <= port < 65536 for port in ports)
    config = json.loads(distributed.cluster_config(ports[:2], 1))
    assert config == {
        "cluster": {"worker": [f"127.0.0.1:{ports[0]}", f"127.0.0.1:{ports[1]}"]},
        "task": {"type": "worker", "index": 1},
    }


def test_use_logical_cpus_after_start_up_says_to_restart():
    # This process has set up its devices (the conftest's seeds made tensors).
    import tensorflow as tf

    tf.constant(0.0)
    cpus = tf.config.list_logical_devices("CPU")
    with pytest.raises(RuntimeError, match="restart the kernel"):
        distributed.use_logical_cpus(len(cpus) + 1)


def test_launch_workers_stops_a_stuck_worker_at_the_time_limit():
    start = time.monotonic()
    results = distributed.launch_workers(
        [sys.executable, "-c", "import time; time.sleep(60)"], num_workers=2, timeout=2)
    assert time.monotonic() - start < 20
    assert all(r.stopped and r.returncode != 0 for r in results)


def test_launch_workers_stops_the_peers_of_a_failed_worker():
    # Worker 1 fails at once; worker 0 would wait a minute (for its peer, in real life).
    code = ("import json, os, sys, time; i = json.loads(os.environ['TF_CONFIG'])"
            "['task']['index']; sys.exit(3) if i == 1 else time.sleep(60)")
    start = time.monotonic()
    results = distributed.launch_workers([sys.executable, "-c", code], 2, timeout=120)
    assert time.monotonic() - start < 30
    assert results[1].returncode == 3 and not results[1].stopped
    assert results[0].stopped


def _worker(output, checkpoint, epochs, kill_in_save=0):
    return [sys.executable, str(HERE / "distributed_worker.py"), str(output),
            str(checkpoint), str(epochs), str(kill_in_save)]


def _weights(output, index):
    return distributed.read_worker(output, index)[0]


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    """Two workers and, at the same time, the one-process run on the same global batches."""
    folder = tmp_path_factory.mktemp("workers")
    alone = folder / "alone"
    env = {name: value for name, value in os.environ.items() if name != "TF_CONFIG"}
    reference = subprocess.Popen(_worker(alone, alone / "run.keras", 2), env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        results = distributed.launch_workers(
            _worker(folder / "pair", folder / "pair" / "run.keras", 2), 2,
            timeout=RUN_TIMEOUT_S)
        assert reference.wait(timeout=RUN_TIMEOUT_S) == 0
    finally:
        if reference.poll() is None:
            reference.kill()
            reference.wait()
    for result in results:
        assert result.returncode == 0, result.log[-3000:]
    return folder


def _initial(output, index):
    with np.load(output / f"initial-{index}.npz") as saved:
        return [saved[f"arr_{i}"] for i in range(len(saved.files))]


def _flat(weights):
    return np.concatenate([w.ravel() for w in weights])


def test_both_workers_end_with_identical_weights_equal_to_one_process(two_workers):
    first, second = _weights(two_workers / "pair", 0), _weights(two_workers / "pair", 1)
    alone = _weights(two_workers / "alone", 0)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    start = _flat(_initial(two_workers / "alone", 0))
    for index in (0, 1):
        np.testing.assert_array_equal(_flat(_initial(two_workers / "pair", index)), start)
    # The tolerance is a share of the change the 8 SGD steps made, not of the weights: 1e-3 of
    # each tensor's largest weight let a doubled step through on 3 of the 14 tensors (the point
    # mass's log-variance bias is -60).
    step = _flat(alone) - start
    atol = WORKER_STEP_RTOL * np.abs(step).max()
    assert np.abs(_flat(first) - _flat(alone)).max() <= atol
    # Workers that each took a mean over their own images would step twice as far: caught.
    doubled = start + 2 * (_flat(first) - start)
    assert np.abs(doubled - _flat(alone)).max() > 100 * atol
    _, history, chief = distributed.read_worker(two_workers / "pair", 0)
    _, history_alone, _ = distributed.read_worker(two_workers / "alone", 0)
    assert chief and not distributed.read_worker(two_workers / "pair", 1)[2]
    np.testing.assert_allclose(history["elbo"], history_alone["elbo"], rtol=1e-4)


def test_only_the_chief_writes_the_checkpoint(two_workers):
    pair = two_workers / "pair"
    assert int(np.load(pair / "saves-0.npy")) == 2
    assert int(np.load(pair / "saves-1.npy")) == 0
    assert sorted(os.listdir(pair)) == [
        "initial-0.npz", "initial-1.npz", "run.keras", "saves-0.npy", "saves-1.npy",
        "worker-0.npz", "worker-1.npz"]
    state = training.checkpoint_state(pair / "run.keras")
    assert state["epochs_done"] == 2
    loaded = keras.models.load_model(pair / "run.keras")
    for a, b in zip(loaded.get_weights(), _weights(pair, 0)):
        np.testing.assert_array_equal(a, b)


def test_a_chief_killed_while_writing_leaves_the_last_whole_checkpoint(tmp_path):
    checkpoint = tmp_path / "run.keras"
    start = time.monotonic()
    results = distributed.launch_workers(_worker(tmp_path, checkpoint, 3, 2), 2,
                                         timeout=RUN_TIMEOUT_S)
    assert time.monotonic() - start < RUN_TIMEOUT_S
    assert results[0].returncode == -9, results[0].log[-3000:]  # SIGKILL, in save 2
    assert results[1].returncode != 0  # its peer cannot go on; it was stopped or failed
    # The half-written second checkpoint is a temporary file beside the first, which is whole.
    partial = [name for name in os.listdir(tmp_path) if name.endswith(".partial.keras")]
    assert len(partial) == 1
    with pytest.raises(training.CheckpointMismatchError):
        training.checkpoint_state(tmp_path / partial[0])
    assert training.checkpoint_state(checkpoint)["epochs_done"] == 1
    assert len(keras.models.load_model(checkpoint).get_weights()) > 0


# The launcher's faults: nothing that is not this run's is replaced, bad settings and clusters
# are refused with the fix before TensorFlow starts, a NaN loss writes nothing.

def _main(capsys, *args):
    """Runs the launcher's worker in this process: (exit status, what it said on stderr)."""
    status = distributed.main(["worker", *map(str, args)])
    return status, capsys.readouterr().err


_SMALL = ("--images", 64, "--epochs", 1, "--batch-size", 32)


@pytest.mark.parametrize("flag, value", [
    ("--learning-rate", "nan"), ("--learning-rate", "inf"), ("--learning-rate", "0"),
    ("--learning-rate", "-0.01"), ("--epochs", "0"), ("--batch-size", "1.5"),
    ("--images", "-3"), ("--images", "99999"), ("--timeout", "nan"), ("--peer-timeout", "0"),
    ("--checkpoint", "notes.txt"),
])
def test_bad_settings_are_refused_when_the_arguments_are_read(tmp_path, capsys, flag, value):
    with pytest.raises(SystemExit) as exit_status:
        distributed.main(["worker", "--output", str(tmp_path), flag, value])
    message = capsys.readouterr().err
    assert exit_status.value.code == 2 and f"argument {flag}" in message, message
    assert any(fix in message for fix in ("positive", "at most", "ending in .keras")), message
    assert list(tmp_path.iterdir()) == []


def test_files_that_are_not_this_runs_are_refused_and_kept(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    notes = tmp_path / "notes.keras"
    notes.write_text("my notes")
    book = tmp_path / "book.keras"  # a finished run of the book, 5 epochs
    training.save_checkpoint(str(book), models.CVAE(2, seed=0),
                             {"elbo": [-200.0, -180, -170, -165, -160]}, "c" * 64)
    link = tmp_path / "link.keras"  # written through, so its target is what counts
    link.symlink_to(notes)
    before = {path: path.read_bytes() for path in (notes, book)}
    for checkpoint, problem in ((notes, "not a checkpoint written by vae_helpers"),
                                (book, r"a checkpoint of another run \(5 epoch"),
                                (link, "not a checkpoint written by vae_helpers")):
        status, message = _main(capsys, "--output", tmp_path / "out", *_SMALL,
                                "--checkpoint", checkpoint)
        assert status == 1 and re.search(problem, message), message
        assert "left as it is: pass another checkpoint path (--checkpoint)" in message
    results = tmp_path / "results"
    results.mkdir()
    (results / "worker-0.npz").write_bytes(before[notes])
    os.mkfifo(results / "worker-1.npz")  # read, it would block for ever
    status, message = _main(capsys, "--output", results, *_SMALL)
    assert status == 1 and "worker-0.npz already exists and was not written by this run" in message
    monkeypatch.setenv("TF_CONFIG", distributed.cluster_config(distributed.free_ports(2), 1))
    status, message = _main(capsys, "--output", results, *_SMALL)
    assert status == 1 and "worker-1.npz already exists" in message and "--output" in message
    # launch checks every worker's files before it starts any worker.
    assert distributed.main(["launch", "--output", str(tmp_path / "new"), *map(str, _SMALL),
                             "--checkpoint", str(book)]) == 1
    assert "book.keras already exists and was not written by this run" in capsys.readouterr().err
    assert {path: path.read_bytes() for path in (notes, book)} == before
    assert (results / "worker-0.npz").read_bytes() == before[notes] and link.is_symlink()
    assert training.checkpoint_state(book)["epochs_done"] == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "book.keras", "link.keras", "notes.keras", "results"]


def test_a_rerun_replaces_its_own_files_and_another_run_does_not(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    checkpoint = tmp_path / "run.keras"
    command = ("--output", tmp_path, *_SMALL, "--checkpoint", checkpoint)
    assert _main(capsys, *command) == (0, "")
    first = distributed.read_worker(tmp_path, 0)[0]
    (tmp_path / "worker-0.npz").touch()
    assert _main(capsys, *command) == (0, "")  # the same run: its own files, written again
    for a, b in zip(first, distributed.read_worker(tmp_path, 0)[0]):
        np.testing.assert_array_equal(a, b)
    before = {name: (tmp_path / name).read_bytes() for name in ("run.keras", "worker-0.npz")}
    status, message = _main(capsys, *command, "--learning-rate", 0.02)  # another run
    assert status == 1 and "run.keras already exists" not in message  # the results come first
    assert "worker-0.npz already exists and was not written by this run" in message
    status, message = _main(capsys, "--output", tmp_path / "other", *_SMALL,
                            "--learning-rate", 0.02, "--checkpoint", checkpoint)
    assert status == 1 and "run.keras already exists and was not written by this run" in message
    assert before == {name: (tmp_path / name).read_bytes() for name in before}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.keras", "worker-0.npz"]


def test_a_non_finite_loss_writes_nothing_and_names_the_learning_rate(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    # v0.1: trained NaN weights, wrote them to both files and exited with status 0.
    status, message = _main(capsys, "--output", tmp_path, *_SMALL, "--learning-rate", 1e30,
                            "--checkpoint", tmp_path / "run.keras")
    assert status == 1, message
    assert re.search(r"the training loss became (nan|inf) at epoch 1, step \d", message)
    assert "SGD's learning rate 1e+30 may be too large" in message and "--learning-rate" in message
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("tf_config, problem", [
    ('{"cluster": {"worker": ["127.0.0.1:1"]', "TF_CONFIG is not valid JSON"),
    ('{"cluster": {"chief": ["127.0.0.1:20000"]}, "task": {"type": "chief", "index": 0}}',
     "TF_CONFIG's cluster has no \"worker\" job"),
    ('{"cluster": {"worker": ["127.0.0.1:20000"], "ps": ["127.0.0.1:20001"]}, '
     '"task": {"type": "worker", "index": 0}}', "jobs besides worker \\(ps\\)"),
    ('{"cluster": {"worker": ["127.0.0.1"]}, "task": {"type": "worker", "index": 0}}',
     "not host:port"),
    ('{"cluster": {"worker": ["127.0.0.1:20000"]}, "task": {"type": "worker", "index": 1}}',
     "index\": i} with i from 0 to 0"),
    ('["worker"]', "must be a JSON object"),
])
def test_a_malformed_tf_config_names_the_fix(tmp_path, capsys, monkeypatch, tf_config, problem):
    monkeypatch.setenv("TF_CONFIG", tf_config)
    status, message = _main(capsys, "--output", tmp_path, *_SMALL)
    # v0.1: json.JSONDecodeError, or KeyError: 'worker', from deep inside.
    assert status == 1 and re.search(problem, message), message
    assert "distributed.cluster_config(ports, index)" in message or "free_ports" in message
    assert "Traceback" not in message and list(tmp_path.iterdir()) == []


def test_a_busy_port_is_named_before_tensorflow_tries_it(tmp_path, capsys, monkeypatch):
    busy = socket.socket()
    busy.bind(("127.0.0.1", 0))
    busy.listen()
    port = busy.getsockname()[1]
    try:
        monkeypatch.setenv("TF_CONFIG", distributed.cluster_config(
            [port, distributed.free_ports(1)[0]], 0))
        status, message = _main(capsys, "--output", tmp_path, *_SMALL)
    finally:
        busy.close()
    # v0.1: TensorFlow's "Could not start gRPC server", naming no port.
    assert status == 1 and f"Port {port} (127.0.0.1:{port}, worker 0 in TF_CONFIG) is in use" in message
    assert "free port" in message


def test_a_peer_that_never_starts_ends_the_wait_at_the_peer_timeout(tmp_path, capsys, monkeypatch):
    ports = distributed.free_ports(2)
    monkeypatch.setenv("TF_CONFIG", distributed.cluster_config(ports, 0))
    start = time.monotonic()
    status, message = _main(capsys, "--output", tmp_path, *_SMALL, "--peer-timeout", 0.5)
    # v0.1 waited for ever, silently.
    assert time.monotonic() - start < 30
    assert status == 1 and f"worker 1 (127.0.0.1:{ports[1]}) never started listening" in message
    assert "--peer-timeout" in message and distributed.PEER_TIMEOUT_S >= 60


def test_peers_that_start_at_different_times_all_find_each_other():
    ports = distributed.free_ports(3)
    places = [distributed.read_tf_config(distributed.cluster_config(ports, i)) for i in range(3)]
    errors, servers, done = [], [], threading.Event()

    def join(place, delay):
        time.sleep(delay)
        try:
            distributed.wait_for_peers(place, timeout=20)
        except distributed.ClusterError as error:
            errors.append(error)
            return
        server = socket.socket()  # then TensorFlow's server listens on the port
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("", ports[place.index]))
        server.listen()
        servers.append(server)
        done.wait(30)

    threads = [threading.Thread(target=join, args=(place, 0.7 * i)) for i, place in enumerate(places)]
    start = time.monotonic()
    for thread in threads:
        thread.start()
    while len(servers) + len(errors) < 3 and time.monotonic() - start < 30:
        time.sleep(0.1)
    seconds = time.monotonic() - start
    done.set()
    for thread in threads:
        thread.join()
    for server in servers:
        server.close()
    assert errors == [] and len(servers) == 3 and seconds < 15
