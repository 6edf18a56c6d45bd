"""Clinical layer: the clinical clock, ASTCT CRS/ICANS grading, protocols, iwCLL response, survival."""

from ._clock import ClinicalOutcome as ClinicalOutcome
from ._clock import VisitRecord as VisitRecord
from ._clock import assessment_days as assessment_days
from ._clock import clinical_summary as clinical_summary
from ._clock import Care as Care
from ._clock import run_clinical as run_clinical
from ._clock import visit_days as visit_days
from ._grading import crs_grade as crs_grade
from ._grading import icans_grade as icans_grade
from ._response import CR as CR
from ._response import CRI as CRI
from ._response import PD as PD
from ._response import PR as PR
from ._response import RESPONSES as RESPONSES
from ._response import SD as SD
from ._survival import CAUSES as CAUSES
