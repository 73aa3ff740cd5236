"""Which grounding rules earn their place: rerun, with one rule off, only the runs that rule fired in.

    python benchmarks/grounding_ablation.py BASELINE_DIR OUT_DIR -- SUITE.yaml... --typed-from REPORT.json ...

BASELINE_DIR holds the report.json of a `voxmcp eval` run with every rule on (at temperature 0: a typed rerun then
gives the same calls, so any difference is the rule's). A rule changes nothing in a run it did not fire in, so each
rule is judged on the runs whose agent log says "grounding rule fired" with it. Everything after `--` is passed to
`voxmcp eval` (suites, --typed-from, ...), plus `--only` for the scenarios and a config with `rules_off`. Prints, per
rule: runs, passed with / without, wrong calls (false positives) with / without, unbacked claims.
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

FIRED = re.compile(r"grounding rule fired (\{.*\})$")


def runs_fired_in(report: dict[str, Any]) -> dict[str, set[tuple[str, str]]]:
    """Rule -> the (scenario, voice) runs whose agent log says it fired."""
    fired: dict[str, set[tuple[str, str]]] = {}
    for result in report["results"]:
        for line in result.get("agent_log", []):
            if m := FIRED.search(line):
                for rule in ast.literal_eval(m.group(1)).get("rules", []):
                    fired.setdefault(rule, set()).add((result["name"], result["voice"]))
    return fired


def compare(base: dict[str, Any], ablated: dict[str, Any]) -> dict[str, int]:
    before = {(r["name"], r["voice"]): r for r in base["results"]}
    after = {(r["name"], r["voice"]): r for r in ablated["results"] if (r["name"], r["voice"]) in before}
    return {
        "runs": len(after),
        "passed_with": sum(before[k]["success"] for k in after),
        "passed_without": sum(r["success"] for r in after.values()),
        "wrong_calls_with": sum(before[k]["false_positives"] for k in after),
        "wrong_calls_without": sum(r["false_positives"] for r in after.values()),
        "unbacked_without": sum(len(r.get("unbacked_claims") or []) for r in after.values()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("baseline", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("eval_args", nargs=argparse.REMAINDER)
    args = parser.parse_args()
    eval_args = [a for a in args.eval_args if a != "--"]
    base = json.loads((args.baseline / "report.json").read_text())
    fired = runs_fired_in(base)
    args.out.mkdir(parents=True, exist_ok=True)
    table: dict[str, dict[str, int]] = {}
    for rule, runs in sorted(fired.items(), key=lambda kv: len(kv[1])):
        out = args.out / f"off-{rule}"
        if not (out / "report.json").exists():
            config = args.out / f"off-{rule}.toml"
            config.write_text(f'[llm]\ntemperature = 0.0\nrules_off = ["{rule}"]\n')
            only = [a for name in sorted({n for n, _ in runs}) for a in ("--only", name)]
            cmd = [sys.executable, "-m", "voxmcp.evals", *eval_args, *only, "-c", str(config), "--out", str(out)]
            subprocess.run(cmd, check=True)
        table[rule] = compare(base, json.loads((out / "report.json").read_text()))
        print(rule, table[rule], flush=True)
    (args.out / "ablation.json").write_text(json.dumps(table, indent=1))


if __name__ == "__main__":
    main()
