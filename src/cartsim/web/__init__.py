"""The web app (``cartsim serve``): pick a patient, a product and a protocol, run it and watch the
cytokine storm and the CAR-T expansion; run a virtual trial or a lab assay with live progress.

It is a thin caller of the same API as the CLI: requests are validated by the
scenario, trial and lab schemas, and runs go to warm worker processes.
"""

from ._app import create_app as create_app
from ._requests import ServerLimits as ServerLimits
