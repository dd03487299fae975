"""Reading annotation files safely: paths that stay inside a dataset, UTF-8 names and text with the line at
fault named, numbers recognised before they are parsed."""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

from fabrec_bench.errors import AnnotationError


def path_inside(base: Path, relative: str) -> Path | None:
    """`base / relative` resolved, or None if `relative` is absolute or leads outside `base` (e.g. '../x').

    Annotation files name images by relative path; this keeps a malformed or hostile file from reaching
    anything outside the dataset's image folder.
    """
    relative = relative.replace("\\", "/")
    base = Path(base).resolve()
    target = (base / relative).resolve()
    if os.path.isabs(relative) or not target.is_relative_to(base):
        return None
    return target


def printable_path(path) -> str:
    """A path as text even when its name is not valid UTF-8 (undecodable bytes shown as \\xNN)."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def check_utf8_name(path: Path) -> None:
    """Refuse a file whose name is not valid UTF-8: face ids, the results store and CSV files are text."""
    try:
        str(path).encode("utf-8")
    except UnicodeEncodeError:
        raise AnnotationError(printable_path(path), None, "file name is not valid UTF-8; rename it") from None


def read_text_lines(path: Path) -> list[str]:
    """A UTF-8 annotation file as lines; bytes that are not UTF-8 are reported with their line number."""
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8").splitlines()
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise AnnotationError(path, line, f"not UTF-8 text (byte 0x{data[e.start]:02x} at column {column}); "
                                          "save the file as UTF-8") from None


def is_number(text: str) -> bool:
    """Whether `float(text)` succeeds (to name the offending token in parse errors)."""
    try:
        float(text)
        return True
    except ValueError:
        return False


class RowsByImage:
    """The rows of a processed annotation file (HRNet-Facial's CSV, ADNet's metadata), keyed by the image path
    each names relative to its own root, found for an image on disk by the tail of its path. Indexed once by
    file name, so each face looks only at the rows naming a file of its own name, not at the whole file."""

    def __init__(self, rows: dict[str, list]):
        self._by_file: dict[str, list[tuple[str, list]]] = defaultdict(list)
        for name, items in rows.items():
            self._by_file[name.rsplit("/", 1)[-1]].append((name, items))

    def for_image(self, image_path) -> list:
        """The rows whose path shares the longest tail with the image's path: the whole row path where one is
        a suffix of it (`test/0001.png` for `.../COFW/test/0001.png`), down to the bare file name (a row naming
        `test/0001.png` for an image the dataset keeps as `.../cofw-images/0001.png`)."""
        parts = Path(image_path).as_posix().split("/")
        named = self._by_file.get(parts[-1], ())
        if not named:
            return []
        shared = [(_shared_tail(name.split("/"), parts), items) for name, items in named]
        longest = max(n for n, _ in shared)
        return [row for n, items in shared if n == longest for row in items]

    def nearest(self, image_path) -> str:
        """The row path most like the image's (for an error message): the longest shared tail, then the most
        alike file name."""
        import difflib

        parts = Path(image_path).as_posix().split("/")
        names = [name for named in self._by_file.values() for name, _ in named]
        if not names:
            return ""
        return max(names, key=lambda name: (_shared_tail(name.split("/"), parts),
                                            difflib.SequenceMatcher(None, name.rsplit("/", 1)[-1],
                                                                    parts[-1]).ratio()))


def _shared_tail(a: list[str], b: list[str]) -> int:
    """How many trailing path components two paths share."""
    n = 0
    while n < min(len(a), len(b)) and a[-1 - n] == b[-1 - n]:
        n += 1
    return n
