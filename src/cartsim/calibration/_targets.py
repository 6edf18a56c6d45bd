"""Published targets (``targets.yaml``, a vendored copy of shared/targets/calibration.yaml) and their intervals.

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
    """The targets of a calibration YAML file, by id."""
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
        targets[entry["id"]] = Target(entry["id"], entry.get("quantity", ""), entry["value"], str(entry["units"]),
                                      entry.get("population", ""), str(entry.get("source", "")),
                                      entry.get("confidence", "low"))
    return targets
