"""Validation outputs: validation.md (the README table), validation.json and validation.png."""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from ..io import json_records  # noqa: E402
from ..report import shown  # noqa: E402
from ._validate import per_disease  # noqa: E402


def _interval(low, high) -> str:
    if low is None or (isinstance(low, float) and math.isnan(low)):
        return "—"
    return f"{shown(low)} – {shown(high)}"


def markdown_table(table: pd.DataFrame, blind: bool = False) -> str:
    """The compared targets (target interval, simulated value and interval, agreement), then the rest; ``blind``:
    the table of blind checks (targets never fitted)."""
    compared = table[table["compared"]]
    agree = f"{int(compared['within'].eq(True).sum())} of {len(compared)} compared"
    head = ([f"Blind checks (published results never fitted): {agree} blind targets agree "
             f"({len(table) - len(compared)} more are not compared, with the reason below)."] if blind else
            [f"{agree} targets agree ({len(table) - len(compared)} more are inputs or definitions of the model)."])
    lines = [*head, "", "| disease | compared | agree |", "| --- | --- | --- |"]
    lines += [f"| {row.disease} | {row.compared} | {row.agree} |" for row in per_disease(table).itertuples()]
    lines += ["", "| target | disease | simulated as | target interval | simulated (95% CI) | agrees |",
              "| --- | --- | --- | --- | --- | --- |"]
    for row in compared.itertuples(index=False):
        agrees = {True: "yes", False: "**no**"}.get(row.within, "not estimable")
        lines.append(f"| `{row.id}` | {row.disease} | {row.simulated_as} | {_interval(row.target_low, row.target_high)} | "
                     f"{shown(row.simulated)} ({_interval(row.simulated_low, row.simulated_high)}) | {agrees} |")
    lines += ["", "| target | not compared because |", "| --- | --- |"]
    lines += [f"| `{row.id}` | {row.note} |" for row in table[~table["compared"]].itertuples(index=False)]
    return "\n".join(lines) + "\n"


def plot_validation(table: pd.DataFrame, path: Path, title: str = "cartsim against published targets") -> Path:
    """Each compared target on its own scale: the target interval maps to [0, 1], the dot is the simulation."""
    compared = table[table["compared"] & table["simulated"].notna()].reset_index(drop=True)
    fig, ax = plt.subplots(figsize=(8, 0.32 * len(compared) + 1.2))
    for i, row in compared.iterrows():
        low, high = row["target_low"], row["target_high"]
        span = (high - low) if math.isfinite(high) and high > low else max(abs(low), 1e-12)
        x = (row["simulated"] - low) / span
        ax.plot([0, 1], [i, i], color="0.8", lw=6, solid_capstyle="butt")
        ax.plot(min(max(x, -1.0), 2.0), i, "o", color="tab:green" if row["within"] else "tab:red")
    ax.set_yticks(range(len(compared)), compared["id"] + " (" + compared["disease"] + ")", fontsize=7)
    ax.set_xlim(-1.1, 2.1)
    ax.axvline(0, color="0.6", lw=0.5)
    ax.axvline(1, color="0.6", lw=0.5)
    ax.set_xlabel("position in the target interval (0 = low end, 1 = high end; clipped at -1 and 2)")
    ax.set_title(f"{title}: {int(compared['within'].sum())} of {len(compared)} agree")
    ax.invert_yaxis()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def write_validation(table: pd.DataFrame, out: Path, blind: bool = False) -> dict:
    """Write validation.md, validation.json and validation.png into ``out`` (``blind``: blind_validation.*, the
    blind checks); return the JSON content."""
    out.mkdir(parents=True, exist_ok=True)
    stem = "blind_validation" if blind else "validation"
    (out / f"{stem}.md").write_text(markdown_table(table, blind))
    records = json_records(table)
    compared = table[table["compared"]]
    content = {"compared": len(compared), "agree": int(compared["within"].eq(True).sum()), "blind": blind,
               "per_disease": json_records(per_disease(table)), "targets": records}
    (out / f"{stem}.json").write_text(json.dumps(content, indent=2, allow_nan=False) + "\n")
    plot_validation(table, out / f"{stem}.png",
                    "cartsim against blind targets (never fitted)" if blind else "cartsim against published targets")
    return content
