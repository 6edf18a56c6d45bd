"""Published targets (``targets.yaml``, a vendored copy of shared/targets/calibration.yaml) and their intervals.

Blind targets (``blind.yaml``, each entry marked ``blind: true``) are published results kept for an
external check of the model: ``cartsim validate --blind`` compares them, the calibration refuses them.

A target's interval is what "agrees with it" means:

* a proportion published as a count ("fraction (8/14)") gets the 95% Wilson interval of that count;
* a published band ([7, 21] days) is the interval itself;
* a single published number gets a band by the target's stated confidence (an assumption, [A]):
  high +-25%, medium +-50%, low a factor of 2 either way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..stats import wilson_interval

DEFAULT_TARGETS = Path(__file__).with_name("targets.yaml")
DEFAULT_BLIND_TARGETS = Path(__file__).with_name("blind.yaml")
_BAND_BY_CONFIDENCE = {"high": (0.75, 1.25), "medium": (0.5, 1.5), "low": (0.5, 2.0)}


class CalibrationError(ValueError):
    """Targets or a parameter set that cannot be used (the message says which and why)."""


@dataclass(frozen=True)
class Target:
    id: str
    quantity: str
    value: object
    units: str
    population: str
    source: str
    confidence: str
    excerpt: str = ""  # the sentence(s) of the source that give the number
    blind: bool = False  # kept for the external blind check: never fitted

    def count(self) -> tuple[int, int] | None:
        """(successes, n) when the units give the published count, e.g. 'fraction (8/14)'."""
        match = re.search(r"\((\d+)\s*/\s*(\d+)\)", self.units)
        return (int(match.group(1)), int(match.group(2))) if match else None

    def interval(self, value: float | None = None) -> tuple[float, float]:
        """The interval a simulated value must fall in; ``value`` overrides the published number (for
        a target whose value is a mapping, the entry being compared)."""
        count = self.count()
        if count is not None and value is None:
            return wilson_interval(*count)
        value = self.value if value is None else value
        if isinstance(value, (list, tuple)) and len(value) == 2:
            return float(value[0]), float(value[1])
        low, high = _BAND_BY_CONFIDENCE.get(self.confidence, _BAND_BY_CONFIDENCE["low"])
        return float(value) * low, float(value) * high


def load_targets(path: str | Path | None = None) -> dict[str, Target]:
    """The targets of a calibration YAML file, by id (an entry with ``blind: true`` is a blind target)."""
    path = DEFAULT_TARGETS if path is None else Path(path)
    try:
        entries = yaml.safe_load(path.read_text())["targets"]
    except FileNotFoundError:
        raise CalibrationError(f"{path}: no such targets file") from None
    except (yaml.YAMLError, KeyError, TypeError) as exc:
        raise CalibrationError(f"{path}: not a targets file (a YAML mapping with a 'targets' list): {exc}") from None
    targets = {}
    for k, entry in enumerate(entries):
        missing = {"id", "value", "units"} - set(entry)
        if missing:
            raise CalibrationError(f"{path}: targets.{k} lacks {', '.join(sorted(missing))}")
        if not isinstance(entry.get("blind", False), bool):
            raise CalibrationError(f"{path}: targets.{k} ({entry['id']}): blind must be true or false, "
                                   f"not {entry['blind']!r}")
        targets[entry["id"]] = Target(entry["id"], entry.get("quantity", ""), entry["value"], str(entry["units"]),
                                      entry.get("population", ""), str(entry.get("source", "")),
                                      entry.get("confidence", "low"), str(entry.get("excerpt", "")).strip(),
                                      entry.get("blind", False))
    return targets


def load_blind_targets(path: str | Path | None = None) -> dict[str, Target]:
    """The blind targets (default ``blind.yaml``); every entry of the file must be marked ``blind: true``, so
    that a blind result cannot lose its marker by being copied into another file unnoticed."""
    path = DEFAULT_BLIND_TARGETS if path is None else Path(path)
    targets = load_targets(path)
    unmarked = sorted(i for i, target in targets.items() if not target.blind)
    if unmarked:
        raise CalibrationError(f"{path}: a blind targets file marks every entry 'blind: true'; not marked: "
                               f"{', '.join(unmarked)}")
    return targets


def refuse_blind(targets: dict[str, Target]) -> None:
    """Raise when ``targets`` hold a blind target: blind results check the model and are never fitted."""
    blind = sorted(i for i, target in targets.items() if target.blind)
    if blind:
        raise CalibrationError(f"blind targets are kept for the external blind check (cartsim validate --blind) "
                               f"and are never fitted; remove them from the calibration targets: {', '.join(blind)}")
