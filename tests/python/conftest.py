"""Shared by the Python tests: a `pylon server` of its own on a free loopback port, and waiting on a condition."""

import os
import pathlib
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
BINARY = os.environ.get("PYLON_BINARY", str(ROOT / ".build/debug/pylon"))


def wait_for(predicate, timeout=30.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture(scope="module")
def kubeconfig():
    """Starts `pylon server` with a fresh data directory; yields the path of its kubeconfig; stops it."""
    data_dir = tempfile.mkdtemp(prefix="pylon-pytest-")
    proc = subprocess.Popen([BINARY, "server", "--data-dir", data_dir, "--port", "0", "--log-level", "warning"])
    try:
        path = os.path.join(data_dir, "kubeconfig.yaml")
        wait_for(lambda: os.path.exists(path), what="kubeconfig")
        yield path
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(data_dir, ignore_errors=True)
