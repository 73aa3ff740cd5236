"""The llama.cpp KV state of a prompt prefix, kept on disk so a new process doesn't evaluate it again.

Every session starts by evaluating the same system prompt + tool schemas (500-700 tokens: 5-27 s on 2 busy cores).
LiveKit runs each job in its own process, so without this every room pays that before its greeting. The state of
those tokens is small (a 0.5B's KV for 700 tokens is ~9 MB), so it is written once per (model file, context size,
prefix tokens) and loaded in milliseconds afterwards. A file that doesn't match or can't be read is ignored (and
replaced): the cache can only cost a recomputation, never a wrong answer.

The key is the exact prefix tokens, so each way of showing a tool set (full schemas, the compact catalogue, the
tool-search header: see `catalogue`) has a state of its own. A compact catalogue near the context's size is ~40 MB
of state, so the folder is kept under a total size as well as a file count.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from llama_cpp import Llama

logger = logging.getLogger(__name__)

_MAGIC = b"VOXKV1\n"


def default_kv_dir() -> Path:
    """$VOXMCP_KV_CACHE_DIR, else $VOXMCP_CACHE_DIR/kv, else $XDG_CACHE_HOME/voxmcp/kv, else ~/.cache/voxmcp/kv."""
    own = os.environ.get("VOXMCP_KV_CACHE_DIR")
    if own:
        return Path(own).expanduser()
    env = os.environ.get("VOXMCP_CACHE_DIR")
    if env:
        return Path(env).expanduser() / "kv"
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "voxmcp" / "kv"


def state_key(model_path: Path, n_ctx: int, tokens: Sequence[int]) -> str:
    """Names one prefix state: the model file (path, size, mtime), llama.cpp's version, context size, tokens."""
    import llama_cpp

    st = model_path.stat()
    h = hashlib.sha256()
    h.update(f"{model_path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{llama_cpp.__version__}|{n_ctx}|".encode())
    h.update(np.asarray(tokens, np.int32).tobytes())
    return h.hexdigest()[:32]


class KVStateCache:
    """Save/load the KV state of a token prefix of a `Llama` (call with the model's lock held)."""

    def __init__(self, directory: Path | None = None, *, max_files: int = 16, max_bytes: int = 256 << 20) -> None:
        self.directory = directory if directory is not None else default_kv_dir()
        self.max_files = max_files
        self.max_bytes = max_bytes

    def path_for(self, model_path: Path, n_ctx: int, tokens: Sequence[int]) -> Path:
        return self.directory / f"{state_key(model_path, n_ctx, tokens)}.kv"

    def load(self, llama: Llama, model_path: Path, tokens: Sequence[int]) -> bool:
        """Put the saved state of exactly `tokens` into `llama`; False when there is none usable."""
        import llama_cpp

        path = self.path_for(model_path, llama.n_ctx(), tokens)
        try:
            blob = path.read_bytes()
        except OSError:
            return False
        head = len(_MAGIC) + 8
        if not blob.startswith(_MAGIC) or len(blob) < head:
            logger.warning("ignoring a corrupt KV state file", extra={"path": str(path)})
            return False
        n = int.from_bytes(blob[len(_MAGIC) : head], "little")
        saved = np.frombuffer(blob[head : head + 4 * n], np.int32)
        if n != len(tokens) or not np.array_equal(saved, np.asarray(tokens, np.int32)):
            logger.warning("ignoring a KV state file for other tokens", extra={"path": str(path)})
            return False
        data = blob[head + 4 * n :]
        buf = (ctypes.c_uint8 * len(data)).from_buffer_copy(data)
        if llama_cpp.llama_state_set_data(llama._ctx.ctx, buf, len(data)) != len(data):
            logger.warning("llama.cpp refused a KV state file", extra={"path": str(path)})
            llama.reset()  # type: ignore[no-untyped-call]
            return False
        llama.input_ids[:n] = tokens
        llama.n_tokens = n
        logger.info("KV state loaded", extra={"tokens": n, "bytes": len(data)})
        return True

    def save(self, llama: Llama, model_path: Path, tokens: Sequence[int]) -> Path | None:
        """Write the state of `llama` (which must hold exactly `tokens`) atomically; None if it can't be written."""
        import llama_cpp

        if list(llama.input_ids[: llama.n_tokens]) != list(tokens):
            raise ValueError("the model's context does not hold exactly these tokens")
        size = llama_cpp.llama_state_get_size(llama._ctx.ctx)
        buf = (ctypes.c_uint8 * size)()
        written = int(llama_cpp.llama_state_get_data(llama._ctx.ctx, buf, size))
        path = self.path_for(model_path, llama.n_ctx(), tokens)
        header = _MAGIC + len(tokens).to_bytes(8, "little") + np.asarray(tokens, np.int32).tobytes()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(header)
                f.write(bytes(buf)[:written])
            os.replace(tmp, path)
        except OSError as e:
            logger.warning("could not write the KV state cache", extra={"path": str(path), "error": str(e)})
            return None
        logger.info("KV state saved", extra={"tokens": len(tokens), "bytes": written})
        self._prune()
        return path

    def _prune(self) -> None:
        """Keep the newest states, at most `max_files` of them and `max_bytes` together (always the newest one):
        each tool set or prompt change makes a new one."""
        try:
            found = [(f, f.stat()) for f in self.directory.glob("*.kv")]
        except OSError:
            return
        found.sort(key=lambda item: item[1].st_mtime, reverse=True)
        total = 0
        for i, (path, st) in enumerate(found):
            total += st.st_size
            if i and (i >= self.max_files or total > self.max_bytes):
                path.unlink(missing_ok=True)
