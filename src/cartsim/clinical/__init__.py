"""Clinical layer: the clinical clock, CRS/ICANS grading (ASTCT, Lee 2014, Penn), protocols, response (iwCLL 2018,
B-ALL, Lugano 2014), survival."""

from ._clock import ClinicalOutcome as ClinicalOutcome
from ._clock import VisitRecord as VisitRecord
from ._clock import assessment_days as assessment_days
from ._clock import clinical_summary as clinical_summary
from ._clock import Care as Care
from ._clock import run_clinical as run_clinical
from ._clock import visit_days as visit_days
from ._clock import CRS_GRADE_ENDPOINTS as CRS_GRADE_ENDPOINTS
from ._criteria import CRITERIA as CRITERIA
from ._criteria import all_response as all_response
from ._criteria import lugano_response as lugano_response
from ._criteria import mrd_negative_remission as mrd_negative_remission
from ._grading import CRS_SCALES as CRS_SCALES
from ._grading import crs_grade as crs_grade
from ._grading import crs_grade_by as crs_grade_by
from ._grading import icans_grade as icans_grade
from ._response import CR as CR
from ._response import CRI as CRI
from ._response import PD as PD
from ._response import PR as PR
from ._response import RESPONSES as RESPONSES
from ._response import SD as SD
from ._survival import CAUSES as CAUSES
