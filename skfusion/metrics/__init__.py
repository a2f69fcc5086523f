"""Clinical evaluation: calibration, metrics by modality availability,
survival targets, and scoring with unlabeled rows."""

from .._semisupervised import labeled_scorer
from ._availability import availability_report
from ._calibration import expected_calibration_error
from ._survival import check_survival_y, concordance_index, survival_array

__all__ = [
    "availability_report",
    "check_survival_y",
    "concordance_index",
    "expected_calibration_error",
    "labeled_scorer",
    "survival_array",
]
