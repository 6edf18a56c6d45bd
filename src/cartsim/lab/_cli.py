"""The ``cartsim lab`` commands: ``restim`` (in-vitro repeated stimulation) and ``mouse`` (NSG xenograft).

Bad input exits with 2 like every other cartsim usage error: typer's own range
checks where an option has a range, :class:`typer.BadParameter` (which names
the option and the expected value) where it needs more than a range.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from ..product import COSTIMULATION
from ..report._html import shown
from ._mouse import XENOGRAFT
from ._restim import CULTURE

lab_app = typer.Typer(help="Lab assays with the same model: in-vitro repeated stimulation, NSG mouse xenograft.",
                      no_args_is_help=True)
console = Console()

_COSTIM_HELP = f"Co-stimulatory domain, repeatable ({', '.join(COSTIMULATION)})."
_DEFAULT_COSTIM = ["4-1BB", "CD28"]


def _domains(costim: list[str]) -> tuple[str, ...]:
    unknown = [d for d in costim if d not in COSTIMULATION]
    if unknown or len(set(costim)) != len(costim):
        raise typer.BadParameter(f"expected distinct domains among {', '.join(COSTIMULATION)}; got "
                                 f"{', '.join(costim)}.", param_hint="--costim")
    return tuple(costim)


def _stimulations(text: str) -> tuple[int, ...]:
    try:
        ks = tuple(int(part) for part in text.split(","))
    except ValueError:
        ks = ()
    if not ks or min(ks) < 0 or len(set(ks)) != len(ks):
        raise typer.BadParameter(f"expected distinct whole numbers >= 0 separated by commas, e.g. 0,1,2,3; "
                                 f"got {text!r}.", param_hint="--stimulations")
    return ks


def _written(out: Path) -> None:
    console.print(f"Outputs written to [bold]{out.resolve()}[/bold]")


@lab_app.command()
def restim(
    rounds: Annotated[int, typer.Option(min=1, max=20, help="Stimulation rounds.")] = CULTURE.default_rounds,
    every_days: Annotated[float, typer.Option(min=1.0, max=28.0, help="Days between restimulations.")
                          ] = CULTURE.default_every_days,
    et_ratio: Annotated[float, typer.Option(help="Effector:target ratio at each stimulation (> 0).")] = 1.0,
    costim: Annotated[list[str], typer.Option(help=_COSTIM_HELP)] = _DEFAULT_COSTIM,
    cells: Annotated[float, typer.Option(min=1e3, max=1e8, help="CAR-T plated per well each round.")
                     ] = CULTURE.default_cells,
    seed: Annotated[int, typer.Option(min=0, help="Fixes every random draw.")] = 0,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for restim.csv/.json/.png.")] = Path(
        "out/lab/restim"),
) -> None:
    """In-vitro repeated stimulation: CAR-T and CLL targets at --et-ratio, restimulated every --every-days
    for --rounds; killing, fold expansion and senescent share per round and domain (seed 000)."""
    from ._outputs import write_restim
    from ._restim import run_restim

    domains = _domains(costim)
    if not et_ratio > 0:
        raise typer.BadParameter(f"expected a ratio > 0 (effectors per target, e.g. 1.0); got {et_ratio}.",
                                 param_hint="--et-ratio")
    with Progress(console=console) as progress:
        task = progress.add_task(f"{rounds} rounds, {len(domains)} domains", total=rounds)
        result = run_restim(domains, rounds, every_days, et_ratio, cells, seed,
                            progress=lambda r: progress.update(task, completed=r))
    write_restim(result, out)
    table = Table("domain", "round", "killing (end)", "killing (24 h)", "fold", "cumulative fold",
                  "senescent", "completed exposures",
                  title=f"Repeated stimulation every {every_days:g} days at E:T {et_ratio:g}:1")
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
    mice: Annotated[int, typer.Option(min=1, max=1000, help="Mice per (domain, k) group.")] = XENOGRAFT.default_mice,
    days: Annotated[int, typer.Option(min=XENOGRAFT.readout_day, max=365, help="Follow-up after the CAR-T.")
                    ] = XENOGRAFT.default_days,
    costim: Annotated[list[str], typer.Option(help=_COSTIM_HELP)] = _DEFAULT_COSTIM,
    seed: Annotated[int, typer.Option(min=0, help="Fixes the mice and every random draw.")] = 0,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for mouse.csv/.json/.png, mouse_tumor.parquet.")
                   ] = Path("out/lab/mouse"),
) -> None:
    """NSG mouse xenograft: CAR-T harvested from the repeated-stimulation assay after k stimulations
    against an engrafted CLL-like line; tumour burden and survival per group (seed 000)."""
    from ._mouse import run_mouse
    from ._outputs import write_mouse
    from ._restim import run_restim

    ks = _stimulations(stimulations)
    domains = _domains(costim)
    rounds = max(max(ks), 1)
    with Progress(console=console) as progress:
        task = progress.add_task("assay, then mice", total=rounds + len(ks) * len(domains))
        assay = run_restim(domains, rounds=rounds, seed=seed, progress=lambda r: progress.advance(task))
        result = run_mouse(assay, domains, ks, mice, days, seed, progress=lambda label: progress.advance(task))
    write_mouse(result, out)
    readout = XENOGRAFT.readout_day
    table = Table("domain", "k", "injected senescent", "deaths", "median survival (d)", "mean survival (d)",
                  f"median tumour day {readout}",
                  title=f"NSG xenograft, {mice} mice per group, {XENOGRAFT.dose_cells:.0e} CAR-T, {days} days")
    for row in result.groups.itertuples(index=False):
        median = f"> {days}" if row.median_survival_days != row.median_survival_days else shown(
            row.median_survival_days)
        table.add_row(row.costimulation, str(row.stimulations), f"{row.injected_senescent_fraction:.1%}",
                      f"{row.deaths}/{row.mice}", median, shown(row.mean_survival_days),
                      shown(row.tumour_readout_median))
    console.print(table)
    _written(out)
