"""The ``cartsim lab`` commands: ``restim`` (in-vitro repeated stimulation) and ``mouse`` (NSG xenograft).

Bad input exits with 2 like every other cartsim usage error: the settings
schemas (:mod:`cartsim.lab._settings`, which the web app validates with too)
check every value, and :class:`typer.BadParameter` names the option and what
was expected.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from pydantic import ValidationError

from ..product import COSTIMULATION
from ..report import shown
from ._mouse import XENOGRAFT
from ._restim import CULTURE
from ._settings import MouseSettings, RestimSettings

lab_app = typer.Typer(help="Lab assays with the same model: in-vitro repeated stimulation, NSG mouse xenograft.",
                      no_args_is_help=True)
console = Console()

_COSTIM_HELP = f"Co-stimulatory domain, repeatable ({', '.join(COSTIMULATION)})."
_DEFAULT_COSTIM = ["4-1BB", "CD28"]
#: The option that sets each settings field.
_OPTIONS = {"costimulations": "--costim", "rounds": "--rounds", "every_days": "--every-days",
            "effector_target_ratio": "--et-ratio", "cells": "--cells", "seed": "--seed",
            "stimulations": "--stimulations", "mice": "--mice", "days": "--days"}


def _settings(schema, **values):
    """The validated settings (the web app's schema too); a bad value names its option and what it expects."""
    try:
        return schema.model_validate(values)
    except ValidationError as exc:
        fields = [str(err["loc"][0]) for err in exc.errors()]
        problems = "; ".join(f"{err['msg']} (got {err['input']!r})" for err in exc.errors())
        raise typer.BadParameter(problems + ".", param_hint=", ".join(dict.fromkeys(_OPTIONS[f] for f in fields)))


def _stimulations(text: str) -> list[int | str]:
    """The k of ``0,1,2``; a part that is not a whole number is passed on for the schema to name."""
    return [int(part) if part.strip().lstrip("-").isdigit() else part for part in text.split(",")]


def _written(out: Path) -> None:
    console.print(f"Outputs written to [bold]{out.resolve()}[/bold]")


@lab_app.command()
def restim(
    rounds: Annotated[int, typer.Option(help="Stimulation rounds (1-20).")] = CULTURE.default_rounds,
    every_days: Annotated[float, typer.Option(help="Days between restimulations (1-28).")
                          ] = CULTURE.default_every_days,
    et_ratio: Annotated[float, typer.Option(help="Effector:target ratio at each stimulation (> 0).")] = 1.0,
    costim: Annotated[list[str], typer.Option(help=_COSTIM_HELP)] = _DEFAULT_COSTIM,
    cells: Annotated[float, typer.Option(help="CAR-T plated per well each round (1e3-1e8).")
                     ] = CULTURE.default_cells,
    seed: Annotated[int, typer.Option(help="Fixes every random draw.")] = 0,
    out: Annotated[Path, typer.Option("--out", "-o", file_okay=False, help="Folder for restim.csv/.json/.png.")] = Path(
        "out/lab/restim"),
) -> None:
    """In-vitro repeated stimulation: CAR-T and CLL targets at --et-ratio, restimulated every --every-days
    for --rounds; killing, fold expansion and senescent share per round and domain
    (Kay/Kenderian ASH 2022)."""
    from ._outputs import write_restim
    from ._restim import run_restim

    s = _settings(RestimSettings, costimulations=costim, rounds=rounds, every_days=every_days,
                  effector_target_ratio=et_ratio, cells=cells, seed=seed)
    with Progress(console=console) as progress:
        task = progress.add_task(f"{s.rounds} rounds, {len(s.costimulations)} domains", total=s.rounds)
        result = run_restim(s.costimulations, s.rounds, s.every_days, s.effector_target_ratio, s.cells, s.seed,
                            progress=lambda r: progress.update(task, completed=r))
    write_restim(result, out)
    table = Table("domain", "round", "killing (end)", "killing (24 h)", "fold", "cumulative fold",
                  "senescent", "completed exposures",
                  title=f"Repeated stimulation every {s.every_days:g} days at E:T {s.effector_target_ratio:g}:1")
    for row in result.table.itertuples(index=False):
        table.add_row(row.costimulation, str(row.round), f"{row.killing:.3%}", f"{row.killing_24h:.1%}",
                      shown(row.fold_expansion), shown(row.cumulative_fold), f"{row.senescent_fraction:.1%}",
                      shown(row.completed_exposures))
    console.print(table)
    _written(out)


@lab_app.command()
def mouse(
    stimulations: Annotated[str, typer.Option(help="Stimulations k before harvest, comma-separated.")] = ",".join(
        map(str, XENOGRAFT.default_stimulations)),
    mice: Annotated[int, typer.Option(help="Mice per (domain, k) group (1-1000).")] = XENOGRAFT.default_mice,
    days: Annotated[int, typer.Option(help=f"Follow-up after the CAR-T ({XENOGRAFT.readout_day}-365).")
                    ] = XENOGRAFT.default_days,
    costim: Annotated[list[str], typer.Option(help=_COSTIM_HELP)] = _DEFAULT_COSTIM,
    seed: Annotated[int, typer.Option(help="Fixes the mice and every random draw.")] = 0,
    out: Annotated[Path, typer.Option("--out", "-o", file_okay=False,
                                      help="Folder for mouse.csv/.json/.png, mouse_tumor.parquet.")
                   ] = Path("out/lab/mouse"),
) -> None:
    """NSG mouse xenograft: CAR-T harvested from the repeated-stimulation assay after k stimulations
    against an engrafted CLL-like line; tumour burden and survival per group (Kay/Kenderian ASH 2022)."""
    from ._mouse import run_mouse
    from ._outputs import write_mouse
    from ._restim import run_restim

    s = _settings(MouseSettings, costimulations=costim, stimulations=_stimulations(stimulations), mice=mice,
                  days=days, seed=seed)
    rounds = max(max(s.stimulations), 1)
    groups = len(s.stimulations) * len(s.costimulations)
    with Progress(console=console) as progress:
        task = progress.add_task("assay, then mice", total=rounds + groups)
        assay = run_restim(s.costimulations, rounds=rounds, seed=s.seed, progress=lambda r: progress.advance(task))
        result = run_mouse(assay, s.costimulations, s.stimulations, s.mice, s.days, s.seed,
                           progress=lambda label: progress.advance(task))
    write_mouse(result, out)
    readout = XENOGRAFT.readout_day
    table = Table("domain", "k", "injected senescent", "deaths", "median survival (d)", "mean survival (d)",
                  f"median tumour day {readout}",
                  title=f"NSG xenograft, {s.mice} mice per group, {XENOGRAFT.dose_cells:.0e} CAR-T, {s.days} days")
    for row in result.groups.itertuples(index=False):
        median = f"> {s.days}" if row.median_survival_days != row.median_survival_days else shown(
            row.median_survival_days)
        table.add_row(row.costimulation, str(row.stimulations), f"{row.injected_senescent_fraction:.1%}",
                      f"{row.deaths}/{row.mice}", median, shown(row.mean_survival_days),
                      shown(row.tumour_readout_median))
    console.print(table)
    _written(out)
