"""The tensors of a TorchScript archive, read without running it.

A TorchScript file (`torch.jit.save`) is a zip holding a program (`code/`, TorchScript source that
`torch.jit.load` compiles and runs) and its state: `data.pkl`, a pickle of the module tree whose tensors point
at raw storages in `data/<key>`. Only `data.pkl` and the storages are read here. The pickle is read by an
unpickler that knows three kinds of global and nothing else: the script classes (`__torch__.*`, rebuilt as plain
records of their attributes; their methods are never looked up), PyTorch's tensor rebuild functions with the
storage types, and `collections.OrderedDict`. Any other global (a function or class a crafted archive could
name to run code) is refused. What a user trusts by loading a TorchScript release this way: nothing beyond the
numbers in it; the architecture is fabrec-bench's, and the archive's code is never compiled or run.
"""

from __future__ import annotations

import collections
import io
import pickle
import zipfile
from pathlib import Path

import torch

from fabrec_bench.errors import UserError

_STORAGE_DTYPES = {
    "FloatStorage": torch.float32, "DoubleStorage": torch.float64, "HalfStorage": torch.float16,
    "BFloat16Storage": torch.bfloat16, "LongStorage": torch.int64, "IntStorage": torch.int32,
    "ShortStorage": torch.int16, "CharStorage": torch.int8, "ByteStorage": torch.uint8, "BoolStorage": torch.bool,
}


class ScriptObject:
    """A script module (or other script class) as data: its class name and its attributes. The pickle makes
    one through `cls.__new__` and fills it through `__setstate__`; a subclass per script class carries the name."""

    qualname = ""
    attributes: dict = {}

    def __setstate__(self, state):
        self.attributes = dict(state) if isinstance(state, dict) else {"__state__": state}


_SCRIPT_CLASSES: dict[str, type] = {}


def _script_class(qualname: str) -> type:
    if qualname not in _SCRIPT_CLASSES:
        _SCRIPT_CLASSES[qualname] = type("ScriptObject", (ScriptObject,), {"qualname": qualname})
    return _SCRIPT_CLASSES[qualname]


def _rebuild_tensor(storage, offset, size, stride, requires_grad=False, hooks=None, metadata=None):
    return torch.as_strided(storage, size, stride, offset).clone()


class _Unpickler(pickle.Unpickler):
    def __init__(self, data: bytes, archive: zipfile.ZipFile, prefix: str, source: Path):
        super().__init__(io.BytesIO(data))
        self.archive, self.prefix, self.source = archive, prefix, source

    def find_class(self, module: str, name: str):
        if module.startswith("__torch__"):
            return _script_class(f"{module}.{name}")
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return name
        if module == "collections" and name == "OrderedDict":
            return collections.OrderedDict
        raise UserError(f"{self.source}: refused: its state names {module}.{name}, which is neither a tensor nor "
                        "a script module; fabrec-bench reads only the weights of a TorchScript archive")

    def persistent_load(self, pid):
        kind, storage_type, key, _location, numel = pid[:5]
        if kind != "storage" or storage_type not in _STORAGE_DTYPES:
            raise UserError(f"{self.source}: refused: unknown storage {pid[:2]} in its state")
        dtype = _STORAGE_DTYPES[storage_type]
        raw = self.archive.read(f"{self.prefix}data/{key}")
        flat = torch.frombuffer(bytearray(raw), dtype=dtype) if raw else torch.empty(0, dtype=dtype)
        return flat[:numel]


def is_torchscript(path: str | Path) -> bool:
    """Whether the file is a zip holding a TorchScript program (a `code/` folder and a `data.pkl`)."""
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, OSError):
        return False
    return any("/code/" in n for n in names) and any(n.endswith("/data.pkl") or n == "data.pkl" for n in names)


def read_torchscript_tensors(path: str | Path) -> dict[str, torch.Tensor]:
    """Every tensor attribute of the archive's module tree by its dotted name (`m0.b1_4.conv1.weight`), as a
    state dict; one line saying why for a file that is not such an archive."""
    path = Path(path)
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise UserError(f"{path}: not a TorchScript archive ({e})") from None
    with archive:
        pickles = [n for n in archive.namelist() if n.endswith("data.pkl") and n.count("/") <= 1]
        if not pickles:
            raise UserError(f"{path}: not a TorchScript archive (no data.pkl); TorchScript files written before "
                            "PyTorch 1.4 (model.json) are not read")
        prefix = pickles[0][: -len("data.pkl")]
        try:
            root = _Unpickler(archive.read(pickles[0]), archive, prefix, path).load()
        except UserError:
            raise
        except Exception as e:  # truncated member, bad pickle
            raise UserError(f"{path}: its state (data.pkl) cannot be read ({type(e).__name__}: {e})") from None
    if not isinstance(root, ScriptObject):
        raise UserError(f"{path}: the archive's state is not a script module")
    tensors: dict[str, torch.Tensor] = {}

    def walk(obj: ScriptObject, prefix: str) -> None:
        for name, value in obj.attributes.items():
            if isinstance(value, torch.Tensor):
                tensors[prefix + name] = value
            elif isinstance(value, ScriptObject):
                walk(value, f"{prefix}{name}.")

    walk(root, "")
    if not tensors:
        raise UserError(f"{path}: the TorchScript archive holds no tensors")
    return tensors
