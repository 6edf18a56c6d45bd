"""Are two trial runs the same patients, bit for bit? The behaviour check of a refactor: run the same trial
file with the same seed before and after the change, then compare the two output folders.

    cartsim trial scenarios/trials/cd28_vs_41bb.yaml --out /tmp/before --n 60     # on the old commit
    cartsim trial scenarios/trials/cd28_vs_41bb.yaml --out /tmp/after --n 60      # on the new one
    PYTHONPATH=src .venv/bin/python benchmarks/compare_trials.py /tmp/before /tmp/after

Exits 1, naming the first differing column, unless every patient row is exactly equal (chunk layout, worker
count and file order do not matter: rows are compared by arm and patient).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd


def patient_table(folder: Path) -> pd.DataFrame:
    """Every patient row of a trial output folder, ordered by arm and patient."""
    files = sorted((folder / "patients").rglob("*.parquet"))
    if not files:
        sys.exit(f"{folder}: no patients/*.parquet (not a trial output folder)")
    table = pd.concat([pd.read_parquet(path) for path in files])
    return table.sort_values(["arm", "patient"]).reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("reference", type=Path)
    parser.add_argument("candidate", type=Path)
    args = parser.parse_args()
    reference, candidate = patient_table(args.reference), patient_table(args.candidate)
    try:
        pd.testing.assert_frame_equal(reference, candidate, check_exact=True)
    except AssertionError as difference:
        sys.exit(f"different:\n{difference}")
    print(f"identical: {reference.shape[0]} patients x {reference.shape[1]} columns")


if __name__ == "__main__":
    main()
