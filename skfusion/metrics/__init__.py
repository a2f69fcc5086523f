"""Clinical evaluation: calibration, and metrics by modality availability."""

from ._availability import availability_report
from ._calibration import expected_calibration_error

__all__ = ["availability_report", "expected_calibration_error"]
