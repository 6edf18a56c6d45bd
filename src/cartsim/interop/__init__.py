"""Interoperability: the deterministic in-vivo model as SBML (python-libsbml), traced from the kernel itself."""

from ._sbml import consistency_errors as consistency_errors
from ._sbml import export_sbml as export_sbml
from ._sbml import sbml_document as sbml_document
from ._sbml import scenario_batch as scenario_batch
from ._symbolic import symbolic_model as symbolic_model
from ._symbolic import symbolic_rhs as symbolic_rhs
