"""ImageEmbedder's storage: encoder files, fingerprints and cache entries.

Encoders given as files are read as ``torch.export`` or TorchScript archives
(never unpickled). The fingerprint hashes everything that changes an
embedding (weights, code, preprocessing, versions); each cache entry is one
float32 ``.npy`` vector written atomically, so parallel workers never read
a partial file.
"""

import functools
import hashlib
import inspect
import io
import os
import tempfile
import warnings
import zipfile
from collections import namedtuple

import numpy as np
import torch

#: Bump when the cache layout or the meaning of an entry changes.
_CACHE_FORMAT = 2

_HOW_TO_SAVE = (
    "Pass a torch.nn.Module, or the path of a file written by "
    "torch.export.save (recommended: ep = torch.export.export(model.eval(), "
    "(torch.zeros(2, C, H, W),), dynamic_shapes=({0: torch.export.Dim('batch')},)); "
    "torch.export.save(ep, 'encoder.pt2')) or by torch.jit.save. Files written "
    "by torch.save are not loaded, since unpickling them can run arbitrary code: "
    "build the module in Python, call "
    "module.load_state_dict(torch.load(path, weights_only=True)) and pass the "
    "module."
)


class _Archive(namedtuple("_Archive", "kind data")):
    """A serialised encoder (kind: "export" or "torchscript", data: bytes)."""


def _read_archive(path):
    """Read and classify an encoder file; refuse pickles and unknown files."""
    path = os.fspath(path)
    try:
        with open(path, "rb") as file:
            data = file.read()
    except OSError as exc:
        raise ValueError(
            f"ImageEmbedder could not read encoder={path!r} ({exc}). {_HOW_TO_SAVE}"
        ) from exc
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            entries = {name.partition("/")[2] for name in archive.namelist()}
    except zipfile.BadZipFile:
        entries = set()
    if "archive_format" in entries:
        return _Archive("export", data)
    if "constants.pkl" in entries or any(e.startswith("code/") for e in entries):
        return _Archive("torchscript", data)
    what = (
        "a file written by torch.save (a pickle)"
        if "data.pkl" in entries
        else "neither a torch.export nor a TorchScript file"
    )
    raise ValueError(f"ImageEmbedder: encoder={path!r} is {what}. {_HOW_TO_SAVE}")


def _script_archive(module):
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit
        torch.jit.save(module, buffer)
    return _Archive("torchscript", buffer.getvalue())


def _load_archive(kind, data):
    try:
        if kind == "export":
            return torch.export.load(io.BytesIO(data)).module()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit
            return torch.jit.load(io.BytesIO(data), map_location="cpu")
    except Exception as exc:
        raise ValueError(
            f"ImageEmbedder could not load the {kind} encoder file "
            f"({type(exc).__name__}: {exc}). {_HOW_TO_SAVE}"
        ) from exc


def _freeze(module, device):
    try:
        module.eval()
    except NotImplementedError:  # torch.export modules: exported in eval mode
        pass
    for parameter in module.parameters():  # ScriptModules lack requires_grad_
        if parameter.is_leaf:  # (encoding runs under inference_mode anyway)
            parameter.requires_grad_(False)
    return module.to(device)


def _fingerprint(encoder, archive_sha, loader, device_type):
    import skfusion

    digest = hashlib.sha256()

    def add(*parts):
        for part in parts:
            data = part if isinstance(part, bytes) else repr(part).encode()
            digest.update(len(data).to_bytes(8, "little") + data)

    add("ImageEmbedder", _CACHE_FORMAT, skfusion.__version__, torch.__version__)
    add(device_type, archive_sha, repr(encoder))
    for cls in dict.fromkeys(type(m) for m in encoder.modules()):
        add(cls.__module__, cls.__qualname__, _source(cls))
    for m in encoder.modules():
        if isinstance(m, torch.jit.ScriptModule):
            try:
                add(m.code)
            except (AttributeError, RuntimeError):  # no forward method
                add(None)
    tensors = dict(encoder.named_buffers())
    tensors.update(encoder.state_dict(keep_vars=True))
    for name, tensor in sorted(tensors.items()):
        add(name, str(tensor.dtype), tuple(tensor.shape))
        add(_tensor_bytes(tensor.detach().to("cpu").contiguous().reshape(-1)))
    params = sorted(loader.get_params(deep=False).items())
    add(type(loader).__module__, type(loader).__qualname__, params)
    return digest.hexdigest()


def _source(cls):
    """Source of a user-defined module class ("" for torch's own or unknown)."""
    if cls.__module__.startswith("torch."):
        return ""
    try:
        return inspect.getsource(cls)
    except (OSError, TypeError):
        return ""


def _tensor_bytes(tensor):
    try:
        return tensor.view(torch.uint8).numpy().tobytes()
    except (RuntimeError, TypeError):  # quantized and other exotic dtypes
        return repr(tensor.tolist()).encode()


def _entry(cache, key):
    return os.path.join(cache, key[:2], key + ".npy")


@functools.lru_cache(maxsize=8)
def _npy_header(d):
    """The .npy header of a little-endian float32 vector of length d."""
    buffer = io.BytesIO()
    np.save(buffer, np.zeros(d, dtype="<f4"))
    return buffer.getvalue()[: -4 * d]


def _read_entry(path, d):
    """(vector or None, whether an existing entry was unreadable).

    An entry is exactly the header np.save writes for a (d,) "<f4" vector,
    then its bytes: anything else (truncated, other shape) is unreadable.
    Comparing bytes avoids np.load's header parsing (~10x faster).
    """
    header = _npy_header(d)
    try:
        with open(path, "rb") as file:
            data = file.read(len(header) + 4 * d + 1)
    except FileNotFoundError:
        return None, False
    except OSError:
        return None, True
    if len(data) != len(header) + 4 * d or not data.startswith(header):
        return None, True
    return np.frombuffer(data, dtype="<f4", offset=len(header)), False


def _write_entry(path, vec):
    """Write atomically: a temporary file in the same folder, then rename."""
    folder = os.path.dirname(path)
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-", suffix=".npy")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(_npy_header(len(vec)) + vec.astype("<f4").tobytes())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _store(cache, keys, embeddings, counts):
    """Write the new entries; stop and return the OSError if one fails."""
    for key, vec in zip(keys, embeddings, strict=True):
        if key is not None:
            try:
                _write_entry(_entry(cache, key), vec)
            except OSError as exc:
                return exc
            counts["written"] += 1
    return None
