"""Publishes the models the full-mode book build trained, beside the book.

    python tools/publish_models.py notebooks/checkpoints _build/html

The Pages workflow runs it after the build (whose chapters, executed in notebooks/, write their
checkpoints to notebooks/checkpoints/). It copies each finished full-mode checkpoint of CHECKPOINT_DIR
(`<class>-...-full.keras`, as `runs.checkpoint_name` names them, holding all the epochs
its name gives) into SITE_DIR/models/, and writes SITE_DIR/models/manifest.json:
for each file its name, SHA-256, size and run record (`published.record_of`: the model's settings,
the data fingerprint, the epochs). `vae_helpers.published.fetch` reads it to fetch a learner's missing
checkpoint. A quick-mode or unfinished checkpoint is skipped, with a line saying so.

It refuses (exit 1, nothing written) to replace a file in SITE_DIR/models/ by a different one; a
file that is already there, byte for byte, is left as it is.
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile

import vae_helpers
from vae_helpers import published, training

FULL_MODE = re.compile(r"[a-z0-9]+-.+-full\.keras")
# The data a published build can train on (load_mnist's download, or its bundled fallback), and
# the epochs the run was asked for (runs.checkpoint_name writes them in the name): a finished run
# holds them all.
SOURCE = re.compile(r".*-(\d+)ep-(?:mnist|bundled)-[0-9a-f]{8}-full\.keras")


class PublishError(Exception):
    """What stops the models from being published; the message names the fix."""


def entries(checkpoint_dir):
    """The manifest entries of the finished full-mode checkpoints in `checkpoint_dir`, by name:
    [{"name", "sha256", "size", "record"}], and the lines saying which files were skipped."""
    if not os.path.isdir(checkpoint_dir):
        raise PublishError(
            f"{checkpoint_dir} is not a folder: pass the folder the full-mode build wrote its "
            "checkpoints to (notebooks/checkpoints, unless VAE_CHECKPOINT_DIR was set)."
        )
    found, skipped = [], []
    for name in sorted(os.listdir(checkpoint_dir)):
        path = os.path.join(checkpoint_dir, name)
        if not (name.endswith(".keras") and os.path.isfile(path)) or name.startswith("."):
            continue  # not a checkpoint, or a temporary file of one
        if not FULL_MODE.fullmatch(name):
            skipped.append(f"skipped {name}: not a full-mode run of the book")
            continue
        try:
            record = published.record_of(path)
        except training.CheckpointMismatchError as error:
            raise PublishError(f"{name} cannot be published: {error}") from None
        source = SOURCE.fullmatch(name)
        if source is None or record["epochs_done"] != int(source.group(1)):
            epochs = "its epochs cannot be checked" if source is None else (
                f"{record['epochs_done']} of its {int(source.group(1))} epochs")
            skipped.append(f"skipped {name}: not a finished run of the published build ({epochs})")
            continue
        with open(path, "rb") as file:
            content = file.read()
        found.append({"name": name, "sha256": hashlib.sha256(content).hexdigest(),
                      "size": len(content), "record": record})
    return found, skipped


def publish(checkpoint_dir, site_dir):
    """Copies the finished full-mode checkpoints of `checkpoint_dir` and their manifest into
    `site_dir`/models/. Returns the lines to print; raises `PublishError` before writing anything
    if a different file is in the way, or if there is nothing to publish."""
    if not os.path.isdir(site_dir):
        raise PublishError(f"{site_dir} is not a folder: build the book first (it is _build/html).")
    found, lines = entries(checkpoint_dir)
    if not found:
        raise PublishError(
            f"{checkpoint_dir} holds no finished full-mode checkpoint: build the book in full mode "
            "(VAE_QUICK unset) before publishing its models."
        )
    models = os.path.join(site_dir, "models")
    manifest = {"format": published.MANIFEST_FORMAT, "vae_helpers": vae_helpers.__version__,
                "models": found}
    files = [(entry["name"], os.path.join(checkpoint_dir, entry["name"])) for entry in found]
    manifest_text = json.dumps(manifest, indent=1, sort_keys=True) + "\n"
    conflicts = [name for name, source in files if _differs(os.path.join(models, name), _read(source))]
    if _differs(os.path.join(models, published.MANIFEST), manifest_text.encode()):
        conflicts.append(published.MANIFEST)
    if conflicts:
        raise PublishError(
            f"{models} already holds another {', '.join(conflicts)}: nothing was written. Publish "
            "into a freshly built site (delete _build/html and build again), or remove those files."
        )
    os.makedirs(models, exist_ok=True)
    for name, source in files:
        _write_new(os.path.join(models, name), _read(source))
        lines.append(f"published {name}")
    _write_new(os.path.join(models, published.MANIFEST), manifest_text.encode())
    lines.append(f"wrote {published.MANIFEST}: {len(found)} model(s), with their SHA-256")
    return lines


def _read(path):
    with open(path, "rb") as file:
        return file.read()


def _differs(path, content):
    """Whether a file other than one holding `content` is at `path`."""
    if not os.path.lexists(path):
        return False
    return not os.path.isfile(path) or os.path.islink(path) or _read(path) != content


def _write_new(path, content):
    """Writes `content` at `path` unless the very same file is there; never replaces another."""
    if os.path.lexists(path) and not _differs(path, content):
        return
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".publish.")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(content)
        os.chmod(temporary, 0o644)  # mkstemp's 0600, but a page is for all to read
        try:
            os.link(temporary, path)  # fails, and replaces nothing, if a file appeared there
        except FileExistsError:
            raise PublishError(f"{path} appeared while publishing: nothing replaced it.") from None
        except OSError:  # no hard links on this file system
            if os.path.lexists(path):
                raise PublishError(f"{path} appeared while publishing: nothing replaced it.") from None
            shutil.move(temporary, path)
    finally:
        if os.path.lexists(temporary):
            os.remove(temporary)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint_dir", help="the folder the full-mode build wrote (notebooks/checkpoints)")
    parser.add_argument("site_dir", help="the built site (_build/html)")
    args = parser.parse_args(argv)
    try:
        lines = publish(args.checkpoint_dir, args.site_dir)
    except PublishError as error:
        print(f"publish_models: {error}", file=sys.stderr)
        return 1
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
