"""MATLAB v7.3 files (HDF5 with a 512-byte MATLAB header), as COFW ships them: read with h5py, and written for
synthetic fixtures in the same layout.

MATLAB stores arrays column-major, so h5py sees every array transposed: an N x 87 matrix is an (87, N) dataset,
an H x W x 3 image a (3, W, H) one. Cell arrays are datasets of object references into `#refs#`. Readers
here give arrays back in MATLAB's orientation.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from fabrec_bench.errors import DatasetError

HEADER_BYTES = 512


def open_mat(path: Path):
    """An open h5py.File for a v7.3 .mat file; a clear error for anything else."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: file not found")
    try:
        return h5py.File(path, "r")
    except OSError as e:
        with open(path, "rb") as f:
            head = f.read(116)
        kind = "a MATLAB v5 file (save it with -v7.3)" if head.startswith(b"MATLAB 5.0") else "not HDF5"
        raise DatasetError(f"{path}: cannot read as a MATLAB v7.3 (HDF5) file: {kind} ({e})") from None


def matrix(mat, name: str, path: Path) -> np.ndarray:
    """A numeric variable in MATLAB's orientation (rows x columns)."""
    if name not in mat:
        raise DatasetError(f"{path}: variable {name!r} missing (has: {', '.join(sorted(k for k in mat if k[0] != '#'))})")
    return np.asarray(mat[name][()]).T


def cell_length(mat, name: str, path: Path) -> int:
    if name not in mat:
        raise DatasetError(f"{path}: variable {name!r} missing")
    return int(np.asarray(mat[name]).size)


def cell_image(mat, name: str, index: int) -> np.ndarray:
    """Element `index` of a cell array of images, as H x W (grey) or H x W x 3 (RGB) uint8."""
    refs = np.asarray(mat[name]).reshape(-1)
    return np.ascontiguousarray(np.asarray(mat[refs[index]][()]).T)


def write_mat(path: Path, numeric: dict[str, np.ndarray], image_cells: dict[str, list[np.ndarray]]) -> None:
    """Write a v7.3 file: `numeric` 2-D arrays (as doubles) and cell arrays (1 x N) of uint8 images."""
    import h5py

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(path, "w", userblock_size=HEADER_BYTES) as f:
        refs_group = f.create_group("#refs#")
        for name, array in numeric.items():
            ds = f.create_dataset(name, data=np.asarray(array, dtype=np.float64).T)
            ds.attrs["MATLAB_class"] = np.bytes_("double")
        for name, images in image_cells.items():
            refs = np.empty((len(images), 1), dtype=h5py.ref_dtype)
            for i, image in enumerate(images):
                ds = refs_group.create_dataset(f"{name}_{i}", data=np.asarray(image, dtype=np.uint8).T)
                ds.attrs["MATLAB_class"] = np.bytes_("uint8")
                refs[i, 0] = ds.ref
            cell = f.create_dataset(name, data=refs.T)
            cell.attrs["MATLAB_class"] = np.bytes_("cell")
    stamp = time.strftime("%a %b %d %H:%M:%S %Y", time.gmtime())
    text = f"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: {stamp} HDF5 schema 1.00 .".encode()
    header = text.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02" + b"IM"
    with open(path, "r+b") as f:
        f.write(header.ljust(128, b"\x00"))
