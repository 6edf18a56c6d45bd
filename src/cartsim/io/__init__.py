"""Scenario files (YAML validated by pydantic) and result files."""

from ._results import write_outputs as write_outputs
from ._scenario import DRUGS as DRUGS
from ._scenario import DrugDose as DrugDose
from ._scenario import Lymphodepletion as Lymphodepletion
from ._scenario import Patient as Patient
from ._scenario import Product as Product
from ._scenario import Scenario as Scenario
from ._scenario import ScenarioError as ScenarioError
from ._scenario import SimulationSettings as SimulationSettings
from ._scenario import Treatment as Treatment
from ._scenario import Tumor as Tumor
from ._scenario import parse_yaml_text as parse_yaml_text
from ._scenario import read_yaml as read_yaml
from ._scenario import to_yaml as to_yaml
from ._scenario import load_scenario as load_scenario
