"""BPMN 2.0 export and import (issue 19): a 500-step map written, the largest reference file read.

Run `.venv/bin/python bench/bpmn.py [--repeats 20]` from the project root; see bench/README.md. It writes a
synthetic as-is map of 500 steps in 6 lanes (inputs, decisions, service tasks, problem flags, control points)
with `app.maps.bpmn_write.write`, and reads the largest file of the OMG test suite
(`../shared/bpmn/reference/B.2.0.bpmn`, skipped when absent) and the written map with
`app.maps.bpmn_read.read`. Prints median and max; targets: each <= 300 ms. Exit status 1 when one is missed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from app.maps import bpmn_read, bpmn_write  # noqa: E402
from app.maps.model import MapDoc, MapStep  # noqa: E402

TARGET_MS = 300.0
LANES = ["运营部 Operations", "技术部 Technology", "客服部 Customer service", "财务部 Finance", "法务合规部 Legal",
         "产品部 Product"]


def big_map(steps: int = 500) -> MapDoc:
    kinds = ["input"] + ["activity", "activity", "decision", "activity"] * (steps // 4)
    made = []
    for n, kind in enumerate(kinds[:steps - 1] + ["output"]):
        made.append(MapStep(key=f"survey:{n + 1}", name=f"步骤 {n + 1} Step {n + 1}", kind=kind,
                            lane=LANES[n % len(LANES)], role="专员 Specialist", minutes=5.0 + n % 30,
                            waiting_minutes=float(n % 7), systems=["CRM"] if n % 3 == 0 else [],
                            flags=["efficiency"] if n % 5 == 0 else [],
                            control_points=["金额 ≥ 10,000 须审批"] if n % 11 == 0 else [],
                            documentation=f"Step {n + 1} of the benchmark map"))
    return MapDoc(key="survey:1", name="BENCH 500 steps", steps=made, lanes=LANES, lang="zh-CN")


def _time(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    fn()
    runs = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        runs.append((time.perf_counter() - t) * 1000)
    return statistics.median(runs), max(runs)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    doc = big_map()
    written = bpmn_write.write(doc)
    cases: list[tuple[str, Callable[[], object]]] = [
        (f"write 500 steps ({len(written) / 1024:.0f} KB)", lambda: bpmn_write.write(doc)),
        ("read the 500-step map", lambda: bpmn_read.read(written))]
    reference = ROOT.parent / "shared" / "bpmn" / "reference" / "B.2.0.bpmn"
    if reference.exists():
        data = reference.read_bytes()
        cases.append((f"read reference B.2.0 ({len(data) / 1024:.0f} KB)", lambda: bpmn_read.read(data)))
    else:
        print(f"skipped: {reference} not found")
    print("| case | median ms | max ms | target |\n| --- | --- | --- | --- |")
    ok = True
    for name, fn in cases:
        median, worst = _time(fn, args.repeats)
        passed = median <= TARGET_MS
        ok &= passed
        print(f"| {name} | {median:.1f} | {worst:.1f} | {TARGET_MS:.0f}: {'PASS' if passed else 'FAIL'} |")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
