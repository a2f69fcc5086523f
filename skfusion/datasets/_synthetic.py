"""Synthetic clinical data with tabular, free-text and image modalities."""

import os
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image
from scipy.ndimage import gaussian_filter
from scipy.special import expit
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ..metrics._survival import SURVIVAL_DTYPE
from ._vitals import vital_series

__all__ = ["make_clinical_multimodal"]

# name, centre, spread, sign of the loading on s_tab, log-normal?, clip, decimals.
# The first ``n_informative_tabular`` entries depend on s_tab, the rest are noise.
_NUMERIC = [
    ("age", 64.0, 13.0, 1, False, (18, 95), 0),  # years
    ("systolic_bp", 132.0, 18.0, 1, False, (80, 220), 0),  # mmHg
    ("creatinine", 1.0, 0.35, 1, True, (0.3, 10.0), 2),  # mg/dL
    ("crp", 4.0, 0.9, 1, True, (0.1, 300.0), 1),  # mg/L
    ("hemoglobin", 13.4, 1.6, -1, False, (6.0, 19.0), 1),  # g/dL
    ("heart_rate", 78.0, 13.0, 1, False, (35, 180), 0),  # beats/min
    ("bmi", 27.5, 5.0, 1, False, (15.0, 60.0), 1),  # kg/m^2
    ("glucose", 105.0, 0.25, 1, True, (40, 600), 0),  # mg/dL
    ("sodium", 139.0, 3.0, -1, False, (120, 160), 0),  # mmol/L
    ("albumin", 4.0, 0.45, -1, False, (1.5, 5.5), 1),  # g/dL
]
_NUMERIC_COLUMNS = tuple(spec[0] for spec in _NUMERIC)
_TAB_SNR = 4.0  # sum over informative columns of loading**2 / (1 - loading**2)
_CHUNK = 512  # images drawn per batch, bounds memory
_SMOKER = np.array(["never", "former", "current"])

_OPENINGS = [
    "Routine follow-up visit.",
    "Seen in the outpatient clinic.",
    "Evaluated in the emergency department.",
    "Admitted overnight for observation.",
    "Reviewed in the heart failure clinic.",
    "Referred by the primary care physician for review.",
    "Seen on the ward round this morning.",
]
_RISK = [
    "dyspnea on exertion",
    "bilateral pitting edema to the knees",
    "elevated troponin on admission labs",
    "crackles at both lung bases",
    "orthopnea requiring three pillows",
    "new atrial fibrillation on the ECG",
    "jugular venous distension",
    "reduced ejection fraction on echocardiogram",
    "tachypnea at rest",
    "productive cough with fever",
    "hypoxia requiring supplemental oxygen",
    "chest pain radiating to the left arm",
    "marked fatigue with poor exercise tolerance",
    "weight gain despite diuretics",
    "new confusion noted by nursing staff",
]
_REASSURING = [
    "lungs clear to auscultation",
    "no peripheral edema",
    "no acute distress",
    "vital signs stable",
    "chest examination unremarkable",
    "no chest pain or palpitations",
    "ambulating independently",
    "tolerating oral diet",
    "normal sinus rhythm on the ECG",
    "troponin within normal limits",
    "good exercise tolerance",
    "afebrile",
    "oxygen saturation normal on room air",
    "alert and oriented",
    "sleeping flat without orthopnea",
]
_LEADS = ["On examination, ", "Today, ", "Notably, ", "Findings: ", "", ""]
_TEXT_SLOPE = 2.0
_N_FINDINGS = (6, 10)
_FILLERS = [
    "Medications reviewed and reconciled with the pharmacy.",
    "Lives with {who} and is independent in daily activities.",
    "Follow-up arranged in {k} weeks.",
    "Discussed diet, exercise and adherence to treatment.",
    "Allergies: {allergy}.",
    "Vaccinations are up to date.",
    "Plan discussed with the {team} team.",
    "Imaging requested as per protocol.",
    "Patient asked about travel plans for the {season}.",
    "Blood samples sent to the laboratory.",
]
_FILL_SLOTS = {
    "who": ["a spouse", "a daughter", "a son", "friends", "no one"],
    "k": [str(k) for k in range(1, 13)],
    "allergy": ["none known", "penicillin", "sulfonamides", "latex", "shellfish"],
    "team": ["cardiology", "renal", "respiratory", "geriatric", "surgical"],
    "season": ["summer", "winter", "holidays", "spring"],
}


def _seeds(random_state, n):
    rs = check_random_state(random_state)
    return [np.random.default_rng(s) for s in rs.randint(2**31 - 1, size=n)]


def _check_weights(modality_weights, signal):
    try:
        weights = np.asarray(modality_weights, dtype=float)
    except (TypeError, ValueError):
        weights = np.array([np.nan])
    if (
        weights.shape != (3,)
        or not np.all(np.isfinite(weights) & (weights >= 0))
        or not weights.any()
    ):
        raise ValueError(
            "The 'modality_weights' parameter of make_clinical_multimodal must "
            "be 3 finite non-negative numbers, not all zero (tabular, text, "
            f"image). Got {modality_weights!r} instead."
        )
    if signal == "interaction" and not np.array_equal(weights, np.ones(3)):
        raise ValueError(
            "The 'modality_weights' parameter of make_clinical_multimodal must "
            "be left at its default (1.0, 1.0, 1.0) when signal='interaction': "
            "that label depends on s_tab * s_img only and has no weights. Got "
            f"{modality_weights!r} instead."
        )
    return weights


def _check_vitals(vitals, signal, target):
    if vitals and (signal != "additive" or target == "multilabel"):
        raise ValueError(
            "make_clinical_multimodal: vitals=True adds s_vitals to the "
            "additive score; it needs signal='additive' and target 'binary' "
            f"or 'survival'. Got signal={signal!r}, target={target!r}."
        )


def _tabular(s_tab, n_informative, rng):
    """Numeric columns and categorical columns from the tabular latent."""
    n = s_tab.shape[0]
    loading = np.sqrt(_TAB_SNR / (n_informative + _TAB_SNR)) if n_informative else 0
    cols = {}
    for j, (name, centre, spread, sign, log, clip, dec) in enumerate(_NUMERIC):
        a = loading if j < n_informative else 0.0
        z = sign * a * s_tab + np.sqrt(1 - a**2) * rng.standard_normal(n)
        value = np.exp(np.log(centre) + spread * z) if log else centre + spread * z
        cols[name] = np.round(np.clip(value, *clip), dec)
    cols["sex"] = np.where(rng.random(n) < 0.5, "female", "male")
    # ordinal logit: risk shifts smokers from "never" towards "current"
    u = rng.logistic(size=n) + 0.8 * s_tab
    cols["smoker"] = _SMOKER[np.digitize(u, [0.3, 1.6])]
    return cols


def _notes(s_text, rng):
    """Short clinical notes whose findings depend on the text latent only."""
    p_risk = expit(_TEXT_SLOPE * s_text)
    notes = []
    for p in p_risk:
        n_find = rng.integers(_N_FINDINGS[0], _N_FINDINGS[1] + 1)
        is_risk = rng.random(n_find) < p
        risk = iter(rng.choice(len(_RISK), size=n_find, replace=False))
        ok = iter(rng.choice(len(_REASSURING), size=n_find, replace=False))
        findings = [_RISK[next(risk)] if r else _REASSURING[next(ok)] for r in is_risk]
        sentences = []
        while findings:  # one or two findings per sentence
            group = [findings.pop()]
            if findings and rng.random() < 0.4:
                group.append(findings.pop())
            text = _LEADS[rng.integers(len(_LEADS))] + ", ".join(group)
            sentences.append(text[0].upper() + text[1:] + ".")
        for i in rng.choice(len(_FILLERS), size=rng.integers(1, 4), replace=False):
            slots = {k: v[rng.integers(len(v))] for k, v in _FILL_SLOTS.items()}
            sentences.append(_FILLERS[i].format(**slots))
        rng.shuffle(sentences)
        opening = _OPENINGS[rng.integers(len(_OPENINGS))]
        notes.append(" ".join([opening, *sentences]))
    return notes


def _images(s_img, size, rng):
    """Grayscale chest "scans" with a lesion whose radius grows with s_img."""
    n = s_img.shape[0]
    grid = (np.arange(size) + 0.5) / size * 2 - 1
    yy, xx = np.meshgrid(grid, grid, indexing="ij")
    base = rng.uniform(60, 130, size=(n, 1, 1))
    texture = gaussian_filter(
        rng.standard_normal((n, size, size)), sigma=(0, size / 8, size / 8)
    )
    texture /= texture.std(axis=(1, 2), keepdims=True)
    anatomy = 30 * np.exp(-((xx / 0.12) ** 2)) - 30 * (xx**2 + yy**2) ** 2
    ribs = 6 * np.sin(4 * np.pi * yy[None] + rng.uniform(0, 2 * np.pi, (n, 1, 1)))
    # lesion in the left or right lung field, soft-edged disk
    cx = rng.choice([-1, 1], size=n) * rng.uniform(0.25, 0.7, n)
    cy = rng.uniform(-0.6, 0.6, n)
    radius = 0.09 * size * np.exp(0.35 * s_img)
    dist = np.hypot(xx - cx[:, None, None], yy - cy[:, None, None]) * size / 2
    contrast = rng.uniform(50, 65, size=(n, 1, 1))
    lesion = contrast * expit((radius[:, None, None] - dist) / 0.6)
    pixels = base + anatomy + ribs + 8 * texture + lesion
    pixels += rng.normal(0, 6, size=pixels.shape)
    return np.clip(np.rint(pixels), 0, 255).astype(np.uint8)



#: Which latents (tabular, text, image) each label of target="multilabel"
#: adds up, cycling after the fourth label.
_LABEL_MASKS = np.array([[1, 1, 0], [0, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=float)
#: Baseline hazard of target="survival": a median time of 365 days when the
#: log hazard is 0.
_BASE_HAZARD = np.log(2) / 365.0


def _multilabel_target(latent, weights, eps, noise, n_labels, rng):
    """Label l is ``1[latent @ (weights * mask_l) + noise * eps_l > 0]``; the
    first label reuses ``eps``, the others draw their own noise."""
    n = latent.shape[0]
    eps_all = np.column_stack([eps, rng.standard_normal((n, n_labels - 1))])
    masks = _LABEL_MASKS[np.arange(n_labels) % len(_LABEL_MASKS)]
    scores = latent @ (masks * weights).T
    return (scores + noise * eps_all > 0).astype(int)


def _survival_target(log_hazard, censoring, rng):
    """Event times from a proportional-hazards model with an exponential
    baseline (whole days, so ties occur), censored at an independent
    exponential time whose rate is set so that about ``censoring`` of the
    rows are censored."""
    u = rng.random(log_hazard.shape[0])
    event_time = np.ceil(-np.log1p(-u) / (_BASE_HAZARD * np.exp(log_hazard)))
    v = rng.random(log_hazard.shape[0])
    rate = _censoring_rate(event_time, censoring)
    censor_time = np.ceil(-np.log1p(-v) / rate) if rate > 0 else np.inf
    y = np.empty(log_hazard.shape[0], dtype=SURVIVAL_DTYPE)
    y["event"] = event_time <= censor_time
    y["time"] = np.minimum(event_time, censor_time)
    return y


def _censoring_rate(event_time, fraction):
    """Rate r of an exponential censoring time with E[P(C < T)] = fraction
    over these event times (bisection on r in log space)."""
    if fraction <= 0:
        return 0.0
    low, high = 1e-12, 1e3
    for _ in range(100):
        mid = np.sqrt(low * high)
        if np.mean(-np.expm1(-mid * event_time)) < fraction:
            low = mid
        else:
            high = mid
    return float(np.sqrt(low * high))


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "image_dir": [str, os.PathLike],
        "image_size": [Interval(Integral, 8, None, closed="left")],
        "n_informative_tabular": [Interval(Integral, 0, len(_NUMERIC), closed="both")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "modality_weights": ["array-like"],
        "signal": [StrOptions({"additive", "interaction"})],
        "target": [StrOptions({"binary", "survival", "multilabel"})],
        "n_labels": [Interval(Integral, 1, None, closed="left")],
        "censoring": [Interval(Real, 0, 1, closed="left")],
        "missing_tabular": [Interval(Real, 0, 1, closed="left")],
        "missing_note": [Interval(Real, 0, 1, closed="left")],
        "missing_image": [Interval(Real, 0, 1, closed="left")],
        "vitals": ["boolean"],
        "return_latent": ["boolean"],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_clinical_multimodal(
    n_samples=500,
    *,
    image_dir,
    image_size=32,
    n_informative_tabular=5,
    noise=0.5,
    modality_weights=(1.0, 1.0, 1.0),
    signal="additive",
    target="binary",
    n_labels=3,
    censoring=0.3,
    missing_tabular=0.05,
    missing_note=0.0,
    missing_image=0.0,
    vitals=False,
    return_latent=False,
    random_state=None,
):
    """Generate a clinical table whose label is spread over three modalities.

    Each patient has three independent latent risk scores ``s_tab``,
    ``s_text`` and ``s_img``, each standard normal, and ``eps ~ N(0, 1)``.
    With ``signal="additive"`` (the default) the binary label is::

        y = 1[w_tab * s_tab + w_text * s_text + w_img * s_img + noise * eps > 0]

    with ``(w_tab, w_text, w_img) = modality_weights``. With
    ``signal="interaction"`` it is::

        y = 1[s_tab * s_img + noise * eps > 0]

    Every modality expresses only its own latent (below), so in the additive
    regime no single modality can recover the label well, while a model that
    fuses all three can. In the interaction regime the label needs the
    tabular and image modalities *jointly*: given ``s_tab`` alone (or
    ``s_img`` alone) the product is symmetric around 0, so ``P(y = 1)`` is
    exactly 1/2 and each modality alone carries no information about ``y``,
    not even through a nonlinear model; the note is pure noise. A model
    that only adds up one score per modality (a linear model on all the
    columns, a weighted average of single-modality predictions) is no better
    than chance there; one in which the modalities interact (a nonlinear
    head over both, a multiplicative fusion) can learn the label. The
    modalities are generated the same way in both regimes:

    - **tabular**: the first ``n_informative_tabular`` numeric columns (in the
      order listed under Returns) are ``centre + spread * z`` (``age``,
      ``systolic_bp``, ...) or ``exp(log(centre) + spread * z)``
      (``creatinine``, ``crp``, ``glucose``) with
      ``z = ±a * s_tab + sqrt(1 - a**2) * e``, ``e ~ N(0, 1)`` and the loading
      ``a = sqrt(4 / (n_informative_tabular + 4))``, so the information they
      carry together does not depend on how many there are. ``hemoglobin``,
      ``sodium`` and ``albumin`` decrease with risk. The other numeric columns
      have ``a = 0`` (distractors). ``smoker`` follows an ordinal logit with
      slope 0.8 on ``s_tab``; ``sex`` is noise. Values are clipped to a
      plausible range and rounded.
    - **text**: a note names 6 to 10 distinct findings, one or two per
      sentence, each a risk finding ("elevated troponin", "bilateral pitting
      edema", ...) with probability ``expit(2 * s_text)`` or otherwise a
      reassuring one ("lungs clear", "no acute distress", ...), mixed with
      an opening sentence and 1 to 3 filler sentences drawn independently
      of every latent.
    - **image**: an ``image_size`` square grayscale scan with a random
      background brightness, smooth texture, spine, ribs and pixel noise,
      all independent of the label, and a bright soft-edged disk ("lesion")
      at a random position in either lung field, 50 to 65 gray levels
      brighter than its surroundings, whose radius is
      ``0.09 * image_size * exp(0.35 * s_img)`` pixels.

    With the defaults, each latent alone gives a ROC AUC of about 0.75 and
    their sum about 0.98. Simple models cross-validated on 1000 rows reach
    about 0.68-0.73 on any one modality (logistic regression on the table or
    on tf-idf of the notes, a small CNN on the images) and about 0.85-0.89
    when their three scores are stacked.

    Parameters
    ----------
    n_samples : int, default=500
        Number of patients (rows).
    image_dir : str or path-like
        Directory where the PNG images are written; created if needed.
        Existing files with the same names are overwritten.
    image_size : int, default=32
        Height and width of the images in pixels (at least 8).
    n_informative_tabular : int, default=5
        How many of the 10 numeric columns depend on ``s_tab``.
    noise : float, default=0.5
        Standard deviation of the label noise ``eps``.
    modality_weights : array-like of shape (3,), default=(1.0, 1.0, 1.0)
        Non-negative weights of ``s_tab``, ``s_text`` and ``s_img`` in the
        label. A weight of 0 makes that modality pure noise. Used only with
        ``signal="additive"``; with ``signal="interaction"`` it must be left
        at its default (any other value raises ``ValueError``).
    signal : {"additive", "interaction"}, default="additive"
        How the label combines the latents (formulas above).

        - ``"additive"``: ``y`` thresholds the weighted sum of the three
          latents; each modality alone is informative.
        - ``"interaction"``: ``y`` thresholds ``s_tab * s_img``; the
          tabular and image columns are informative only jointly and the
          note is pure noise.

        Both regimes draw the same random numbers, so for the same
        ``random_state`` (and other parameters) ``X`` and the latents are
        identical, PNG files included; only ``y`` differs. The label stays
        balanced on average.
    target : {"binary", "survival", "multilabel"}, default="binary"
        What ``y`` is; ``X`` and the latents do not depend on it.

        - ``"binary"``: the label above.
        - ``"survival"``: a time to event with right censoring, from a
          proportional-hazards model whose log hazard is the score above
          (``w . latents + noise * eps``, or ``s_tab * s_img + noise * eps``
          with ``signal="interaction"``): the event time is exponential
          with rate ``log(2) / 365 * exp(log hazard)`` (a median of 365
          days at 0), rounded up to whole days, so tied times occur. It is
          censored at an independent exponential time whose rate is set so
          that about ``censoring`` of the rows are censored. With the
          defaults, the true log hazard ranks the times with a C-index of
          about 0.8.
        - ``"multilabel"``: ``n_labels`` binary findings, label ``l`` being
          ``1[latents @ (modality_weights * mask_l) + noise * eps_l > 0]``
          with the masks (tabular + text), (text + image), (tabular +
          image), (all three), cycling; each label has its own noise
          ``eps_l`` (the first reuses ``eps``). Labels share latents, so
          they co-occur as findings do. Needs ``signal="additive"``.
    n_labels : int, default=3
        Number of labels of ``target="multilabel"``.
    censoring : float in [0, 1), default=0.3
        About this share of the rows of ``target="survival"`` is censored
        (0: none).
    missing_tabular : float in [0, 1), default=0.05
        Probability that each numeric cell is NaN, independently (MCAR).
    missing_note : float in [0, 1), default=0.0
        Probability that a row's note is missing.
    missing_image : float in [0, 1), default=0.0
        Probability that a row's image is missing: its path is missing and
        no file is written for it.
    vitals : bool, default=False
        If True, add a fourth latent ``s_vitals ~ N(0, 1)`` with weight 1
        in the score (``score + s_vitals``, before thresholding or as log
        hazard; needs ``signal="additive"`` and a binary or survival
        target) and a column ``vitals``: per row, an array of shape
        (hours, 3) holding heart rate, systolic blood pressure and SpO2
        measured hourly over 24 to 48 hours. Each channel is a baseline
        independent of every latent plus a linear trend whose change over
        the stay is ``(+8 bpm, -10 mmHg, -2 %) * s_vitals``, plus
        measurement noise (SD 4, 6, 0.8); about 10% of the values are NaN
        (not measured) and 20% of the stays have a 3-to-6-hour gap in every
        channel. Only the trend carries the label: read it with
        :class:`~skfusion.preprocessing.TimeSeriesLoader`. The vitals draw
        from their own stream, so every other column, and the label with
        ``vitals=False``, are unchanged.
    return_latent : bool, default=False
        If True, also return the latent scores.
    random_state : int, RandomState instance or None, default=None
        Seed for every random draw. An int gives identical frames and
        identical PNG bytes on every call. Each modality and the missingness
        use their own stream, so changing a ``missing_*`` rate leaves the
        generated values unchanged.

    Returns
    -------
    X : pandas.DataFrame of shape (n_samples, 14)
        Columns ``age``, ``systolic_bp``, ``creatinine``, ``crp``,
        ``hemoglobin``, ``heart_rate``, ``bmi``, ``glucose``, ``sodium``,
        ``albumin`` (float64, with NaN), ``sex`` ("female"/"male") and
        ``smoker`` ("never"/"former"/"current") as strings, ``note`` (text)
        and ``xray_path`` (absolute path of ``img_00000.png``, ... in
        ``image_dir``). Missing notes and paths are missing values of the
        column's dtype (``None`` or NaN); test them with :func:`pandas.isna`.
        With ``vitals=True`` a 15th column ``vitals`` holds the series.
    y : ndarray
        ``target="binary"``: shape (n_samples,) of int, balanced on
        average. ``"survival"``: a structured array of shape (n_samples,)
        with the fields ``event`` (bool) and ``time`` (float64, days), as
        ``sksurv.util.Surv.from_arrays(event, time)`` makes it.
        ``"multilabel"``: shape (n_samples, n_labels) of int 0/1.
    latent : pandas.DataFrame of shape (n_samples, 3)
        Columns ``tabular``, ``text`` and ``image`` holding ``s_tab``,
        ``s_text`` and ``s_img`` (and ``vitals``, ``s_vitals``, with
        ``vitals=True``). Only returned if ``return_latent=True``.

    Examples
    --------
    >>> import tempfile
    >>> from skfusion.datasets import make_clinical_multimodal
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     X, y = make_clinical_multimodal(20, image_dir=tmp, random_state=0)
    >>> X.shape, y.shape
    ((20, 14), (20,))
    >>> list(X.columns[-4:])
    ['sex', 'smoker', 'note', 'xray_path']
    >>> sorted(set(y.tolist()))
    [0, 1]
    >>> with tempfile.TemporaryDirectory() as tmp:
    ...     _, y = make_clinical_multimodal(
    ...         20, image_dir=tmp, target="survival", random_state=0)
    >>> y.dtype.names
    ('event', 'time')
    """
    weights = _check_weights(modality_weights, signal)
    if target == "multilabel" and signal != "additive":
        raise ValueError(
            "make_clinical_multimodal: target='multilabel' needs "
            "signal='additive' (each label adds up its own modalities); got "
            f"signal={signal!r}."
        )
    _check_vitals(vitals, signal, target)
    seeds = _seeds(random_state, 6 if vitals else 5)  # the first 5 unchanged
    latent_rng, tab_rng, text_rng, img_rng, miss_rng = seeds[:5]
    latent = latent_rng.standard_normal((n_samples, 3))
    eps = latent_rng.standard_normal(n_samples)
    s_tab, s_text, s_img = latent.T
    score = latent @ weights if signal == "additive" else s_tab * s_img
    if vitals:  # its own stream: nothing above changes
        s_vitals = seeds[5].standard_normal(n_samples)
        score = score + s_vitals
        latent = np.column_stack([latent, s_vitals])
    # the targets draw their extra numbers after eps: X never changes with
    # the target, and the binary label is the same as before
    if target == "survival":
        y = _survival_target(score + noise * eps, censoring, latent_rng)
    elif target == "multilabel":
        y = _multilabel_target(latent, weights, eps, noise, n_labels, latent_rng)
    else:
        y = (score + noise * eps > 0).astype(int)

    X = pd.DataFrame(_tabular(s_tab, n_informative_tabular, tab_rng))
    numeric = list(_NUMERIC_COLUMNS)
    holes = miss_rng.random((n_samples, len(numeric))) < missing_tabular
    X[numeric] = X[numeric].mask(holes)
    no_note = miss_rng.random(n_samples) < missing_note
    no_image = miss_rng.random(n_samples) < missing_image

    notes = _notes(s_text, text_rng)
    X["note"] = [
        None if gone else note for note, gone in zip(notes, no_note, strict=True)
    ]

    image_dir = Path(image_dir).resolve()
    image_dir.mkdir(parents=True, exist_ok=True)
    width = max(5, len(str(n_samples - 1)))
    paths = []
    for start in range(0, n_samples, _CHUNK):
        stop = min(start + _CHUNK, n_samples)
        images = _images(s_img[start:stop], image_size, img_rng)
        for i, pixels in enumerate(images, start=start):
            if no_image[i]:
                paths.append(None)
                continue
            path = image_dir / f"img_{i:0{width}d}.png"
            Image.fromarray(pixels).save(path)  # 2-D uint8 -> mode "L"
            paths.append(str(path))
    X["xray_path"] = paths
    if vitals:
        X["vitals"] = pd.Series(vital_series(s_vitals, seeds[5]), dtype=object)

    if return_latent:
        names = ["tabular", "text", "image", "vitals"][: latent.shape[1]]
        return X, y, pd.DataFrame(latent, columns=names)
    return X, y
