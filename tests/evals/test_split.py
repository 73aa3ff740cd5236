"""The tune / held-out split of the public suite: fixed by a rule on scenario names, stratified by category."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from pathlib import Path

from voxmcp.evals.schema import Scenario, load_suite

EVALS = Path(__file__).resolve().parents[2] / "evals"


def split_rule(scenarios: list[Scenario]) -> tuple[set[str], set[str]]:
    """evals/README.md's rule: per category, names ordered by sha256 alternate tune, held-out, tune, ..."""
    by_category: dict[str, list[str]] = defaultdict(list)
    for sc in scenarios:
        by_category[sc.category].append(sc.name)
    tune: set[str] = set()
    held: set[str] = set()
    for names in by_category.values():
        ordered = sorted(names, key=lambda n: hashlib.sha256(n.encode()).hexdigest())
        tune.update(ordered[0::2])
        held.update(ordered[1::2])
    return tune, held


def test_the_files_follow_the_rule() -> None:
    tune = load_suite(EVALS / "tune.yaml")
    held = load_suite(EVALS / "heldout.yaml")
    expected_tune, expected_held = split_rule([*tune.scenarios, *held.scenarios])
    assert {s.name for s in tune.scenarios} == expected_tune
    assert {s.name for s in held.scenarios} == expected_held


def test_split_is_stratified_and_disjoint() -> None:
    tune = load_suite(EVALS / "tune.yaml").scenarios
    held = load_suite(EVALS / "heldout.yaml").scenarios
    assert not {s.name for s in tune} & {s.name for s in held}
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for s in tune:
        counts[s.category][0] += 1
    for s in held:
        counts[s.category][1] += 1
    for category, (t, h) in counts.items():
        assert 0 <= t - h <= 1, f"{category}: {t} tune, {h} held out"
    assert len(held) >= 20


def test_public_is_the_union_tagged_by_split() -> None:
    public = load_suite(EVALS / "public.yaml")
    by_suite: dict[str, set[str]] = defaultdict(set)
    for s in public.scenarios:
        by_suite[s.suite].add(s.name)
    assert by_suite == {
        "tune": {s.name for s in load_suite(EVALS / "tune.yaml").scenarios},
        "heldout": {s.name for s in load_suite(EVALS / "heldout.yaml").scenarios},
    }
    assert len(public.scenarios) == 49


def test_held_out_and_cross_server_use_three_voices() -> None:
    for name in ("heldout.yaml", "cross_server.yaml"):
        voices = load_suite(EVALS / name).defaults.voices
        assert {v.split(":")[0] for v in voices} == {"espeak", "piper", "flite"}, name
