"""The public API: what `voxmcp` exports, that importing it stays cheap, that the exports are documented and typed."""

from __future__ import annotations

import inspect
import json
import pkgutil
import subprocess
import sys
import typing
from importlib import metadata
from pathlib import Path

import pytest

import voxmcp

HEAVY = ("livekit", "llama_cpp", "faster_whisper", "ctranslate2", "onnxruntime", "hibari", "mcp", "numpy")


def _loaded_after(code: str) -> list[str]:
    """Top-level packages from HEAVY that are imported after running `code` in a fresh interpreter."""
    probe = f"{code}\nimport sys, json\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=120)
    loaded = set(json.loads(out.stdout.strip().splitlines()[-1]))
    return sorted(loaded & set(HEAVY))


def test_import_voxmcp_loads_no_models_and_no_livekit() -> None:
    assert _loaded_after("import voxmcp; voxmcp.__version__; dir(voxmcp)") == []


def test_a_config_name_loads_only_what_it_needs() -> None:
    loaded = _loaded_after("import voxmcp; voxmcp.MCPServerConfig")
    assert not {"llama_cpp", "faster_whisper", "ctranslate2", "onnxruntime", "hibari"} & set(loaded), loaded


def test_every_export_resolves_and_is_documented() -> None:
    names = [name for name in voxmcp.__all__ if name != "__version__"]
    assert sorted(names) == sorted(voxmcp._EXPORTS)  # __all__ and the lazy table agree
    for name in names:
        value = getattr(voxmcp, name)
        assert inspect.getdoc(value), f"voxmcp.{name} has no docstring"
        assert name in dir(voxmcp)
    assert voxmcp.MCPToolset.__module__ == "voxmcp.toolset"


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="module 'voxmcp' has no attribute 'Nope'"):
        voxmcp.Nope  # noqa: B018


def test_version_matches_the_installed_distribution() -> None:
    assert voxmcp.__version__ == metadata.version("voxmcp")


@pytest.mark.parametrize(
    "function",
    [
        "voxmcp:MCPToolset.__init__",
        "voxmcp:MCPToolset.from_config",
        "voxmcp:MCPToolset.from_dict",
        "voxmcp:MCPToolset.from_mcp_json",
        "voxmcp:MCPToolset.setup",
        "voxmcp:MCPToolset.filter_tools",
        "voxmcp.plugins.stt:WhisperSTT.__init__",
        "voxmcp.plugins.llm:LlamaCppLLM.__init__",
        "voxmcp.plugins.tts:HibariTTS.__init__",
        "voxmcp.plugins.tts:EspeakTTS.__init__",
        "voxmcp.plugins.tts:PiperTTS.__init__",
        "voxmcp.plugins.vad:SileroVAD.load",
    ],
)
def test_public_signatures_are_typed(function: str) -> None:
    target = pkgutil.resolve_name(function)
    assert callable(target)
    hints = typing.get_type_hints(target)
    parameters = [p for p in inspect.signature(target).parameters if p not in ("self", "cls") and p != "options"]
    missing = [p for p in parameters if p not in hints]
    assert not missing, f"{function}: parameters without a type: {missing}"
    assert "return" in hints, f"{function}: no return type"
    assert inspect.getdoc(target)


def test_package_ships_its_type_marker() -> None:
    assert (Path(voxmcp.__file__).parent / "py.typed").is_file()


def test_errors_reached_through_the_public_api_are_spoken_sentences() -> None:
    """Whichever public name comes first, an MCP failure's text is the voice layer's sentence, not raw fields."""
    code = (
        "import voxmcp; voxmcp.MCPServerConfig\n"
        "from voxmcp.mcp.errors import MCPCallError, Request\n"
        "print(MCPCallError('unknown_outcome', server='pay', request=Request('call_tool', 'charge')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    assert out.stdout.strip().startswith("I lost the connection to the pay server while the charge tool was running")
