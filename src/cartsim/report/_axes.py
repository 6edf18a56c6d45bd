"""Log axes that cope with what a patient may lack: no CAR-T (failed manufacture, zero dose), no CLL."""

from __future__ import annotations

import numpy as np

#: The y range of a log axis with nothing positive on it.
EMPTY_LOG_RANGE = (1e-1, 1e3)


def log_y(ax, empty_note: str | None = None) -> None:
    """Put ``ax``'s y axis on a log scale over at least one decade of what is drawn on it.

    Matplotlib cannot log-scale an axis without a positive value, so such an axis gets a fixed range and
    ``empty_note`` in its middle. A nearly flat series (IL-6 at baseline without CAR-T) is widened to a
    decade: otherwise its ticks read 5.14127, 5.14128, ...
    """
    ax.set_yscale("log")
    # The data limits hold only data units (a vertical line's axes-unit height is not in them);
    # minposy is their smallest positive y, infinite when there is none.
    low, high = ax.dataLim.minposy, ax.dataLim.y1
    if not np.isfinite(low):
        ax.set_ylim(*EMPTY_LOG_RANGE)
        if empty_note:
            ax.text(0.5, 0.5, empty_note, transform=ax.transAxes, ha="center", va="center", color="grey")
    elif high < 10 * low:
        centre = np.sqrt(low * high)
        ax.set_ylim(centre / np.sqrt(10), centre * np.sqrt(10))
