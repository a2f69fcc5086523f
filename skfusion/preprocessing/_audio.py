"""WAV-path columns to fixed-size log-mel spectrograms (an image modality)."""

import os
import warnings
from math import gcd
from numbers import Integral, Real

import numpy as np
from scipy.io import wavfile
from scipy.io.wavfile import WavFileWarning
from scipy.signal import get_window, resample_poly
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _check_feature_names_in,
    check_is_fitted,
)

from .._names import output_names, pixel_names
from .._validation import describe_row
from .._warnings import warn
from ..exceptions import AudioReadError, SkfusionDataWarning
from ._utils import (
    _column_names,
    _is_missing,
    _PathColumnMixin,
    _ReadError,
)

__all__ = ["AudioLoader", "AudioReadError"]

_SILENCE = 1e-10  # peak mel power below -100 dB re full scale: silence
_MAX_ROWS_LISTED = 10


class AudioLoader(_PathColumnMixin, TransformerMixin, BaseEstimator):
    """Load a column of WAV paths as fixed-size log-mel spectrograms in [0, 1].

    Each row becomes a one-channel image of shape ``(1, n_mels, n_frames)``
    (mel band by time frame), flattened in C order with ``pixel_0_{m}_{t}``
    names, so :class:`~skfusion.CrossModalClassifier` gives it a CNN encoder
    like any image. Only NumPy and SciPy are used:

    1. **Reading** (:func:`scipy.io.wavfile.read`): 8-bit unsigned, 16/24/32
       /64-bit signed integer PCM and float32/64 WAV. Integers are scaled to
       [-1, 1] (8-bit: ``(x - 128) / 128``, others: ``x / 2**(bits - 1)``),
       floats are used as is; several channels are averaged.
    2. **Resampling** to ``sample_rate`` with
       :func:`scipy.signal.resample_poly` when the file's rate differs.
    3. **Framing**: frame ``t`` holds samples ``[t * hop_length, t *
       hop_length + n_fft)`` (no centring), zero-padded past the end of the
       recording, for every ``t`` with ``t * hop_length`` inside it. A
       recording of N samples (after resampling) therefore has
       ``ceil(N / hop_length)`` frames; only the first ``n_frames`` are kept
       (the first ``((n_frames - 1) * hop_length + n_fft) / sample_rate``
       seconds), and the missing frames of a shorter recording are silence
       (value 0).
    4. **Power spectrum** of each frame with a periodic Hann window, scaled
       so that a full-scale sine at a bin centre has power 1 (0 dB).
    5. **Mel filterbank**: HTK mel scale ``mel = 2595 * log10(1 + f / 700)``;
       ``n_mels + 2`` points equally spaced in mel from ``fmin`` to ``fmax``,
       and filter ``m`` a triangle of peak 1 (no Slaney area normalisation)
       rising from point ``m`` to point ``m + 1`` (its centre, in
       ``mel_frequencies_``) and falling to point ``m + 2``, evaluated at
       the FFT bin frequencies: the filters of librosa's ``mel(htk=True,
       norm=None)`` and torchaudio's ``melscale_fbanks(norm=None,
       mel_scale="htk")``.
    6. **Decibels and scaling**: with ``S_max`` the row's loudest
       band-frame among the kept frames, ``dB = 10 * log10(S / S_max)`` and
       ``X = clip(1 + dB / top_db, 0, 1)``: the loudest point of every
       recording is 1 and anything ``top_db`` or more below it is 0
       (librosa's ``power_to_db(S, ref=np.max, top_db=top_db)`` mapped
       linearly to [0, 1], without its absolute floor). This per-recording
       reference makes the output independent of the recording gain, which
       differs between devices, rooms and speaking distances, and keeps the
       relative levels within a recording; absolute loudness is lost. A
       recording whose mel power never exceeds 1e-10 (-100 dB re full
       scale, e.g. digital silence) is all 0, like padding.

    Row 0 of the image is the lowest mel band (plots usually draw it at the
    bottom). A *missing* path (None, NaN, ``pd.NA``, empty string) gives a
    zero spectrogram with ``missing=1``. A path that does not exist, is a
    directory, or is not a readable WAV (wrong format, truncated, no
    samples, non-finite samples) raises :class:`AudioReadError`, or, with
    ``on_error="missing"``, is treated as missing with a
    :class:`~skfusion.exceptions.SkfusionDataWarning` naming the rows.

    ``fit`` learns nothing from the recordings and does not open the files;
    it checks the parameters and builds the filterbank.

    Parameters
    ----------
    sample_rate : int, default=16000
        Rate (Hz) every recording is resampled to.
    n_mels : int, default=64
        Number of mel bands (image height).
    n_frames : int, default=128
        Number of time frames kept (image width).
    n_fft : int, default=512
        Frame length in samples (at ``sample_rate``), also the FFT size.
    hop_length : int, default=160
        Samples between the starts of consecutive frames.
    fmin : float, default=0.0
        Lowest filter edge in Hz.
    fmax : float or None, default=None
        Highest filter edge in Hz, at most ``sample_rate / 2``; None means
        ``sample_rate / 2``.
    top_db : float, default=80.0
        Dynamic range in dB: levels ``top_db`` below the row's maximum map
        to 0.
    root : str, path-like or None, default=None
        Directory prepended to relative paths.
    on_error : {"raise", "missing"}, default="raise"
        What to do with an unreadable or nonexistent file.
    add_indicator : bool, default=True
        Append the ``missing`` column (1.0 for a missing recording, else 0.0).

    Attributes
    ----------
    image_shape_ : tuple of int
        ``(1, n_mels, n_frames)``.
    mel_filters_ : ndarray of shape (n_mels, n_fft // 2 + 1)
        The triangular filters over the FFT bins ``k * sample_rate / n_fft``.
    mel_frequencies_ : ndarray of shape (n_mels,)
        Centre frequency (Hz) of each mel band, increasing.
    n_features_in_ : int
        Number of input columns (always 1).
    feature_names_in_ : ndarray of shape (1,)
        Input column name, when X has a string column name.

    See Also
    --------
    skfusion.preprocessing.ImageLoader : Image paths to pixel arrays.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> from scipy.io import wavfile
    >>> from skfusion.preprocessing import AudioLoader
    >>> folder = tempfile.mkdtemp()
    >>> t = np.arange(1600) / 16000  # 0.1 s of a 1 kHz tone
    >>> tone = (0.5 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    >>> wavfile.write(os.path.join(folder, "tone.wav"), 16000, tone)
    >>> loader = AudioLoader(n_mels=8, n_frames=4, root=folder)
    >>> X = loader.fit_transform(["tone.wav", None])
    >>> X.shape, X.dtype
    ((2, 33), dtype('float32'))
    >>> loader.mel_frequencies_.round().tolist()[:4]  # band centres (Hz)
    [226.0, 525.0, 921.0, 1445.0]
    >>> spectrogram = X[0, :-1].reshape(loader.image_shape_)
    >>> int(spectrogram[0].max(axis=1).argmax())  # the band nearest 1 kHz
    2
    >>> X[:, -1].tolist(), float(X[1].max())
    ([0.0, 1.0], 1.0)
    >>> loader.get_feature_names_out()[[0, 31, 32]].tolist()
    ['pixel_0_0_0', 'pixel_0_7_3', 'missing']
    """

    _file_kind, _a_file = "audio", "a WAV file"
    _example_step = '("voice", AudioLoader(), "voice_path")'

    _parameter_constraints: dict = {
        "sample_rate": [Interval(Integral, 1, None, closed="left")],
        "n_mels": [Interval(Integral, 1, None, closed="left")],
        "n_frames": [Interval(Integral, 1, None, closed="left")],
        "n_fft": [Interval(Integral, 2, None, closed="left")],
        "hop_length": [Interval(Integral, 1, None, closed="left")],
        "fmin": [Interval(Real, 0, None, closed="left")],
        "fmax": [Interval(Real, 0, None, closed="neither"), None],
        "top_db": [Interval(Real, 0, None, closed="neither")],
        "root": [str, os.PathLike, None],
        "on_error": [StrOptions({"raise", "missing"})],
        "add_indicator": ["boolean"],
    }

    def __init__(
        self,
        *,
        sample_rate=16000,
        n_mels=64,
        n_frames=128,
        n_fft=512,
        hop_length=160,
        fmin=0.0,
        fmax=None,
        top_db=80.0,
        root=None,
        on_error="raise",
        add_indicator=True,
    ):
        self.sample_rate = sample_rate
        self.n_mels = n_mels
        self.n_frames = n_frames
        self.n_fft = n_fft
        self.hop_length = hop_length
        self.fmin = fmin
        self.fmax = fmax
        self.top_db = top_db
        self.root = root
        self.on_error = on_error
        self.add_indicator = add_indicator

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Check the parameters and the input column; no file is read.

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, 1)
            WAV paths (str or path-like); missing values allowed.
        y : None
            Ignored.

        Returns
        -------
        self : AudioLoader
            The fitted transformer.
        """
        filters, centres = _mel_filterbank(
            self.sample_rate, self.n_fft, self.n_mels, self.fmin, self.fmax
        )
        self._validate_column(X, reset=True)
        self.mel_filters_ = filters
        self.mel_frequencies_ = centres
        self.image_shape_ = (1, int(self.n_mels), int(self.n_frames))
        return self

    def transform(self, X):
        """Read, resample and turn the recordings into flat log-mel images.

        Parameters
        ----------
        X : array-like of shape (n_samples,) or (n_samples, 1)
            WAV paths (str or path-like); missing values allowed.

        Returns
        -------
        X_out : ndarray of shape (n_samples, n_mels * n_frames + add_indicator)
            Values in [0, 1] (float32), each row in C order ``(1, n_mels,
            n_frames)``; the last column is ``missing`` when
            ``add_indicator=True``.
        """
        check_is_fitted(self)
        X_checked, values, index = self._validate_column(X, reset=False)
        column = _column_names(X_checked)[0]
        n_pixels = int(np.prod(self.image_shape_))
        out = np.zeros((len(values), n_pixels + self.add_indicator), np.float32)
        missing = np.zeros(len(values), dtype=bool)
        failed = []
        for i, value in enumerate(values[:, 0]):
            if _is_missing(value):
                missing[i] = True
                continue
            try:
                self._load_into(value, out[i, :n_pixels].reshape(self.image_shape_[1:]))
            except _ReadError as exc:
                if self.on_error == "raise":
                    raise AudioReadError(
                        "AudioLoader could not read the audio file in column "
                        f"{column!r}, {describe_row(i, index)}: {exc}. Fix the "
                        "path (or set root=), or pass on_error='missing' to "
                        "treat unreadable recordings as missing."
                    ) from exc.__cause__
                missing[i] = True
                out[i, :n_pixels] = 0.0
                failed.append((i, str(exc)))
        if failed:
            _warn_failed(failed, column, index)
        if self.add_indicator:
            out[:, -1] = missing
        return out

    def get_feature_names_out(self, input_features=None):
        """Output feature names.

        An image output of one channel: one column per (mel band, frame)
        named ``pixel_0_{m}_{t}`` in C order (band ``m`` slowest, 0 = lowest
        frequency; then frame ``t``, 0 = start of the recording), so
        ``X_out[i, :n_mels * n_frames].reshape(1, n_mels, n_frames)`` is row
        ``i``'s spectrogram and the shape can be read back from the last
        name. With ``add_indicator=True`` the last column is ``missing``: 1.0
        where the row's recording is absent (or unreadable with
        ``on_error="missing"``), else 0.0. Inside a ColumnTransformer step
        named ``"voice"`` they read ``voice__pixel_0_3_5`` ...
        ``voice__missing``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Checked against ``feature_names_in_``; does not change the
            output names.

        Returns
        -------
        feature_names_out : ndarray of str objects
            The output names.
        """
        check_is_fitted(self, "image_shape_")
        _check_feature_names_in(self, input_features)
        return output_names(pixel_names(self.image_shape_), self.add_indicator)

    # -- internals -------------------------------------------------------

    def _load_into(self, value, view):
        """Decode one file into ``view`` (a (n_mels, n_frames) float32 view)."""
        path = self._resolve(value)
        rate, data = _read_wav(path)
        needed = (self.image_shape_[2] - 1) * self.hop_length + self.n_fft
        up = down = 1
        if rate != self.sample_rate:
            g = gcd(int(rate), int(self.sample_rate))
            up, down = self.sample_rate // g, int(rate) // g
        # Read only what the kept frames use (plus the resampling filter's
        # reach), so a long recording is not decoded in full.
        take = -(-needed * down // up) + (
            10 * max(up, down) // up + 1 if up != down else 0
        )
        signal = _to_mono_float(data[:take])
        del data  # release the memory map
        if not np.isfinite(signal).all():
            raise _ReadError(f"{path!r} contains NaN or infinite samples")
        if up != down:
            signal = resample_poly(signal, up, down)[:needed]
        self._log_mel_into(signal, view)

    def _log_mel_into(self, signal, view):
        hop, n_fft = self.hop_length, self.n_fft
        count = min(view.shape[1], -(-signal.size // hop))
        buffer = np.zeros((count - 1) * hop + n_fft)
        kept = min(signal.size, buffer.size)
        buffer[:kept] = signal[:kept]
        frames = np.lib.stride_tricks.sliding_window_view(buffer, n_fft)[::hop]
        window = get_window("hann", n_fft)  # periodic
        spectrum = np.fft.rfft(frames * window, axis=1)
        power = spectrum.real**2 + spectrum.imag**2
        power *= 4.0 / window.sum() ** 2  # full-scale sine at a bin -> 1
        mel = self.mel_filters_ @ power.T  # (n_mels, count)
        peak = mel.max()
        if not peak > _SILENCE:
            return  # silence: the row stays 0
        # Relative power floored at -top_db dB (which maps to 0): no -inf.
        floor = 10.0 ** (-self.top_db / 10.0)
        db = 10.0 * np.log10(np.maximum(mel / peak, floor))  # in [-top_db, 0]
        view[:, :count] = np.clip(1.0 + db / self.top_db, 0.0, 1.0)


def _read_wav(path):
    """Return ``(rate, data)`` of a WAV file or raise _ReadError."""
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", WavFileWarning)
            try:
                rate, data = wavfile.read(path, mmap=True)
            except ValueError:
                # 24-bit and other unmappable layouts, or a truncated data
                # chunk (reported below by the non-mapped reader's warning).
                rate, data = wavfile.read(path, mmap=False)
    except MemoryError:
        raise
    except Exception as e:  # any parser failure (struct.error, ValueError, ...)
        raise _ReadError(
            f"{path!r} is not a readable WAV file ({type(e).__name__}: {e})"
        ) from e
    for w in caught:
        if str(w.message).startswith("Reached EOF prematurely"):
            raise _ReadError(f"{path!r} is a truncated WAV file ({w.message})")
    if data.dtype.kind not in "iuf" or data.ndim not in (1, 2):
        raise _ReadError(
            f"{path!r} has unsupported sample data (dtype {data.dtype}, "
            f"shape {data.shape})"
        )
    if data.shape[0] == 0 or (data.ndim == 2 and data.shape[1] == 0):
        raise _ReadError(f"{path!r} is an empty WAV file (0 samples)")
    if rate <= 0:
        raise _ReadError(f"{path!r} declares a sample rate of {rate} Hz")
    return int(rate), data


def _to_mono_float(data):
    """Scale integer PCM to [-1, 1] and average the channels (float64)."""
    kind, bits = data.dtype.kind, 8 * data.dtype.itemsize
    signal = np.asarray(data, dtype=np.float64)
    if kind == "u":
        signal -= 2.0 ** (bits - 1)
    if kind in "iu":
        signal /= 2.0 ** (bits - 1)
    return signal.mean(axis=1) if signal.ndim == 2 else signal


def _hz_to_mel(f):
    return 2595.0 * np.log10(1.0 + np.asarray(f, dtype=np.float64) / 700.0)


def _mel_to_hz(m):
    return 700.0 * (10.0 ** (np.asarray(m, dtype=np.float64) / 2595.0) - 1.0)


def _mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax):
    """HTK-scale triangular filters of peak 1 and their centres (Hz)."""
    nyquist = sample_rate / 2
    fmax = nyquist if fmax is None else float(fmax)
    if fmax > nyquist:
        raise ValueError(
            f"AudioLoader: fmax={fmax} is above the Nyquist frequency "
            f"sample_rate / 2 = {nyquist} Hz. Lower fmax or raise sample_rate."
        )
    if fmin >= fmax:
        raise ValueError(
            f"AudioLoader: fmin={fmin} must be below fmax={fmax} Hz (fmax=None "
            "means sample_rate / 2)."
        )
    edges = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    bins = np.arange(n_fft // 2 + 1) * (sample_rate / n_fft)
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins - lower) / (centre - lower)
    falling = (upper - bins) / (upper - centre)
    filters = np.maximum(0.0, np.minimum(rising, falling))
    empty = np.flatnonzero(filters.sum(axis=1) == 0)
    if empty.size:
        m = int(empty[0])
        raise ValueError(
            f"AudioLoader: with n_mels={n_mels}, n_fft={n_fft} and "
            f"sample_rate={sample_rate}, {empty.size} mel band(s) contain no "
            f"FFT bin (first: band {m}, {edges[m]:.1f}-{edges[m + 2]:.1f} Hz; "
            f"bins are {sample_rate / n_fft:.2f} Hz apart), so they would "
            "always be silent. Use fewer n_mels, a larger n_fft, or a higher "
            "fmin."
        )
    return filters, edges[1:-1].copy()


def _warn_failed(failed, column, index):
    rows = ", ".join(describe_row(i, index) for i, _ in failed[:_MAX_ROWS_LISTED])
    more = len(failed) - _MAX_ROWS_LISTED
    if more > 0:
        rows += f" and {more} more"
    warn(
        f"AudioLoader treated {len(failed)} unreadable audio file(s) in column "
        f"{column!r} as missing (on_error='missing'): {rows}. First error: "
        f"{failed[0][1]}.",
        SkfusionDataWarning,
    )
