"""Fixtures for the end-to-end tests: a `geodex serve` process per test on a free port, the
official `qdrant-client` pointed at it, and the shared evaluation sets."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from qdrant_client import QdrantClient

REPO = Path(__file__).resolve().parents[4]
BINARY = Path(os.environ.get("GEODEX_BIN", REPO / "target" / "debug" / "geodex"))
SHARED = Path(os.environ.get("GEODEX_SHARED_DATA", REPO.parent / "shared" / "data"))


class Server:
    """One `geodex serve` process over a data directory; restartable."""

    def __init__(self, data_dir: Path, api_key: str | None = None, extra: list[str] | None = None):
        self.data_dir = data_dir
        self.api_key = api_key
        self.extra = extra or []
        self.proc: subprocess.Popen[str] | None = None
        self.url = ""

    def start(self) -> Server:
        assert BINARY.exists(), (
            f"{BINARY} is missing: build it with `cargo build --profile test -p geodex-cli`"
        )
        cmd = [str(BINARY), "serve", "--data-dir", str(self.data_dir), "--port", "0", "--quiet", *self.extra]
        env = dict(os.environ)
        env.pop("GEODEX_API_KEY", None)
        if self.api_key is not None:
            env["GEODEX_API_KEY"] = self.api_key
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if "listening on " not in line:
            self.proc.kill()
            raise RuntimeError(
                f"server did not start: {line!r} {self.proc.stderr.read() if self.proc.stderr else ''}"
            )
        self.url = line.strip().split("listening on ")[1]
        return self

    def client(self, **kwargs) -> QdrantClient:
        key = kwargs.pop("api_key", self.api_key)
        return QdrantClient(url=self.url, api_key=key, timeout=120, **kwargs)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        assert self.proc is not None
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=timeout)
        self.proc = None
        return code

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    s = Server(tmp_path / "data").start()
    yield s
    if s.proc is not None:
        s.kill()


@pytest.fixture
def make_server(tmp_path: Path) -> Iterator:
    started: list[Server] = []

    def make(**kwargs) -> Server:
        s = Server(tmp_path / f"data{len(started)}", **kwargs).start()
        started.append(s)
        return s

    yield make
    for s in started:
        if s.proc is not None:
            s.kill()


def read_vecs(path: Path, dtype: np.dtype, limit: int | None = None) -> np.ndarray:
    """Reads .fvecs / .bvecs / .ivecs: each row is an int32 dimension, then the components."""
    raw = np.fromfile(path, dtype=np.uint8)
    dim = int(raw[:4].view(np.int32)[0])
    width = 4 + dim * np.dtype(dtype).itemsize
    rows = raw.reshape(-1, width)
    if limit is not None:
        rows = rows[:limit]
    return np.ascontiguousarray(rows[:, 4:]).view(dtype).reshape(len(rows), dim)


SETS = {
    # name: (base file, element type, query file, Qdrant distance)
    "sift-debian": ("base.bvecs", np.uint8, "query.bvecs", "Euclid"),
    "minilm-words-20k": ("base.fvecs", np.float32, "query.fvecs", "Cosine"),
}


def shared_set(name: str, n: int = 20_000, queries: int = 100) -> tuple[np.ndarray, np.ndarray, str]:
    """The first `n` base rows and `queries` queries of a shared set, as float32."""
    base_file, dtype, query_file, distance = SETS[name]
    root = SHARED / name
    if not root.exists():
        pytest.fail(f"shared data set {root} is missing (set GEODEX_SHARED_DATA)")
    base = read_vecs(root / base_file, dtype, n).astype(np.float32)
    query = read_vecs(root / query_file, dtype, queries).astype(np.float32)
    return base, query, distance


def wait_until(predicate, timeout: float = 10.0) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")
