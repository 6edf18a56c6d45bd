"""The fuzz test of tests/test_fuzz.py at length: many more documents, a random seed, every finding kept.

    .venv/bin/python benchmarks/fuzz.py --examples 500                 # scenarios, then trials (--n 3)
    .venv/bin/python benchmarks/fuzz.py --examples 200 --kind trial --seed 7 --full-range
    make fuzz                                                          # the same, FUZZ_EXAMPLES=500

Prints the counts of documents that ran (or ended in a clean solver failure), were refused, or broke the
contract, and one line per distinct failure class (verdict, exception and the traceback's last frame).
Each failing document is saved under --out/<class>/ as YAML next to the CLI's output; the smallest of a
class is the one to start from. By default the fields that size the work are capped as in the suite
(``WORK_CAPS``); --full-range draws them over their whole schema range, where a run past --time-limit is
a finding too.
"""

from __future__ import annotations

import argparse
import random
import re
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, Phase, given, seed, settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from test_fuzz import OK, TIME_LIMIT_S, WORK_CAPS, Case, _yaml, cases, outcome  # noqa: E402

from cartsim.io import Scenario  # noqa: E402
from cartsim.trial import Trial  # noqa: E402

KINDS = {"scenario": (Scenario, "simulate"), "trial": (Trial, "trial")}


def failure_class(verdict: str, output: str) -> str:
    """A verdict and, for a crash, the exception and the last frame of its traceback, without numbers."""
    frames = re.findall(r'File "([^"]+)", line \d+, in (\S+)', output)
    if not frames:
        return verdict
    file, function = frames[-1]
    last = output.strip().splitlines()[-1]
    message = re.sub(r"[-+]?\d[\d.e+-]*", "N", last)[:120]
    return f"{verdict} | {message} | {Path(file).name}:{function}"


def fuzz(kind: str, examples: int, rng_seed: int, caps: dict | None, time_limit: float, out: Path) -> Counter:
    model, command = KINDS[kind]
    verdicts: Counter = Counter()
    classes: dict[str, list[str]] = {}
    shutil.rmtree(out / kind, ignore_errors=True)  # the folder shows this run's findings only

    @seed(rng_seed)
    @settings(max_examples=examples, deadline=None, database=None, phases=(Phase.generate,),
              suppress_health_check=list(HealthCheck))
    @given(case=cases(model, caps))
    def run(case: Case) -> None:
        verdict, output = outcome(case, command, time_limit)
        verdicts[("nonsense " if case.mutated is not None else "valid ") + verdict] += 1
        if verdict in OK:
            return
        name = failure_class(verdict, output)
        saved = classes.setdefault(name, [])
        folder = out / kind / f"class-{list(classes).index(name):02d}"
        folder.mkdir(parents=True, exist_ok=True)
        stem = folder / f"{len(saved):04d}"
        change = f"# nonsense at {'.'.join(map(str, case.mutated))} ({case.how})\n" if case.mutated else ""
        stem.with_suffix(".yaml").write_text(change + _yaml(case.document), encoding="utf-8")
        stem.with_suffix(".txt").write_text(f"{name}\n\n{output}", encoding="utf-8")
        (folder / "CLASS").write_text(name + "\n")
        saved.append(str(stem.with_suffix(".yaml")))

    started = time.time()
    run()
    print(f"\n{kind}: {sum(verdicts.values())} documents in {time.time() - started:.0f} s (seed {rng_seed})")
    for verdict, count in sorted(verdicts.items()):
        print(f"  {count:6d}  {verdict}")
    for name, saved in classes.items():
        smallest = min(saved, key=lambda path: Path(path).stat().st_size)
        print(f"  class: {name}\n         {len(saved)} documents, smallest {smallest}")
    return verdicts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=500, help="documents per kind")
    parser.add_argument("--kind", choices=[*KINDS, "both"], default="both")
    parser.add_argument("--seed", type=int, default=None, help="default: a random one (printed)")
    parser.add_argument("--full-range", action="store_true", help="do not cap the fields that size the work")
    parser.add_argument("--time-limit", type=float, default=TIME_LIMIT_S, help="seconds per document")
    parser.add_argument("--out", type=Path, default=Path("out/fuzz"), help="folder for the failing documents")
    args = parser.parse_args()
    rng_seed = random.randrange(2**32) if args.seed is None else args.seed
    kinds = list(KINDS) if args.kind == "both" else [args.kind]
    totals: Counter = Counter()
    for kind in kinds:
        # A trial document runs a few patients per arm: a tenth as many keeps the two kinds' time similar.
        count = args.examples if kind == "scenario" else max(1, args.examples // 10)
        totals += fuzz(kind, count, rng_seed, None if args.full_range else WORK_CAPS, args.time_limit, args.out)
    ran = sum(n for v, n in totals.items() if v.endswith(("ran", "solver failure")))
    refused = sum(n for v, n in totals.items() if v.endswith("refused"))
    print(f"\nvalidated {ran} / refused {refused} / broke the contract {sum(totals.values()) - ran - refused}")


if __name__ == "__main__":
    main()
