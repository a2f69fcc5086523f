"""Hourly vital signs whose trend depends on a latent risk score, for
``make_clinical_multimodal(vitals=True)``."""

import numpy as np

__all__ = ["VITAL_CHANNELS", "vital_series"]

#: channel, baseline mean, baseline spread (between patients), change over
#: the stay per unit of s_vitals, measurement noise, decimals.
_VITALS = [
    ("heart_rate", 80.0, 10.0, 8.0, 4.0, 0),  # beats/min
    ("systolic_bp", 125.0, 15.0, -10.0, 6.0, 0),  # mmHg
    ("spo2", 96.0, 1.5, -2.0, 0.8, 1),  # %
]
#: The channels of the vitals series, in order.
VITAL_CHANNELS = tuple(v[0] for v in _VITALS)
_STEPS = (24, 48)  # hourly measurements per stay, inclusive
_CELL_GAP = 0.1  # chance that one value is not measured
_BLOCK_GAP = 0.2  # chance that a stay has a 3-to-6-hour gap in every channel


def vital_series(s_vitals, rng):
    """One (hours x 3) float64 array per row: heart rate, systolic blood
    pressure and SpO2 measured hourly over 24 to 48 hours. Each channel is
    a baseline drawn independently of every latent, plus a linear trend over
    the stay whose total change is ``change * s_vitals`` (heart rate up,
    blood pressure and SpO2 down with risk), plus noise. About 10% of the
    values are NaN (not measured), and 20% of the stays have a gap of 3 to 6
    consecutive hours in every channel."""
    base = np.array([v[1] for v in _VITALS])
    spread = np.array([v[2] for v in _VITALS])
    change = np.array([v[3] for v in _VITALS])
    noise = np.array([v[4] for v in _VITALS])
    decimals = [v[5] for v in _VITALS]
    series = []
    for s in s_vitals:
        hours = int(rng.integers(_STEPS[0], _STEPS[1] + 1))
        t = np.arange(hours)[:, None] / (hours - 1)
        level = base + spread * rng.standard_normal(3)
        values = level + change * s * t + noise * rng.standard_normal((hours, 3))
        values = np.column_stack(
            [np.round(values[:, c], d) for c, d in enumerate(decimals)]
        )
        values[rng.random((hours, 3)) < _CELL_GAP] = np.nan
        if rng.random() < _BLOCK_GAP:
            length = int(rng.integers(3, 7))
            start = int(rng.integers(1, hours - length))
            values[start : start + length] = np.nan
        series.append(values)
    return series
