"""Are two trial runs the same patients, bit for bit? The behaviour check of a refactor: run the same trial
file with the same seed before and after the change, then compare the two output folders.

    cartsim trial scenarios/trials/cd28_vs_41bb.yaml --out /tmp/before --n 60     # on the old commit
    cartsim trial scenarios/trials/cd28_vs_41bb.yaml --out /tmp/after --n 60      # on the new one
    PYTHONPATH=src .venv/bin/python benchmarks/compare_trials.py /tmp/before /tmp/after

Exits 1, naming the first differing column, unless every patient row is exactly equal (chunk layout, worker
count and file order do not matter: rows are compared by arm and patient). With ``--shared-columns`` a change
that only adds columns (a new endpoint) passes when every column both tables have is equal; the added ones
are named.
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
    parser.add_argument("--shared-columns", action="store_true",
                        help="compare only the columns both tables have (the candidate may add endpoints)")
    args = parser.parse_args()
    reference, candidate = patient_table(args.reference), patient_table(args.candidate)
    if args.shared_columns:
        added = [name for name in candidate.columns if name not in reference.columns]
        candidate = candidate[[name for name in candidate.columns if name in reference.columns]]
        reference = reference[list(candidate.columns)]
        if added:
            print(f"columns only in the candidate (not compared): {', '.join(added)}")
    try:
        pd.testing.assert_frame_equal(reference, candidate, check_exact=True)
    except AssertionError as difference:
        sys.exit(f"different:\n{difference}")
    print(f"identical: {reference.shape[0]} patients x {reference.shape[1]} columns")


if __name__ == "__main__":
    main()
