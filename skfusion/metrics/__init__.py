"""Clinical evaluation: metrics broken down by which modalities rows have."""

from ._availability import availability_report

__all__ = ["availability_report"]
