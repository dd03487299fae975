"""`datasets check`: walk a whole dataset and report every problem, with counts, without stopping."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from fabrec_bench.datasets import DatasetAdapter
from fabrec_bench.errors import AnnotationError, DatasetError
from fabrec_bench.problems import collect_problems


@dataclass
class Problem:
    kind: str  # missing image, unreadable image, malformed annotation, path escapes root, layout
    message: str


@dataclass
class CheckReport:
    dataset: str
    root: str
    faces: dict[str, int] = field(default_factory=dict)  # usable faces per split
    images_checked: int = 0
    problems: list[Problem] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return dict(Counter(p.kind for p in self.problems))

    def to_dict(self) -> dict:
        return {"dataset": self.dataset, "root": self.root, "faces": self.faces, "images_checked": self.images_checked,
                "problem_counts": self.counts(), "problems": [p.__dict__ for p in self.problems]}


def _kind(error: AnnotationError) -> str:
    if "escapes" in error.reason:
        return "path escapes root"
    if "not found" in error.reason and "image" in error.reason:
        return "missing image"
    return "malformed annotation"


def verify_image(path: Path) -> str | None:
    """None if the image decodes completely, else why not (truncated files are caught, unlike cv2.imread)."""
    from PIL import Image

    try:
        if path.stat().st_size == 0:
            return "empty file"
        with Image.open(path) as im:
            im.load()
    except Exception as e:  # PIL raises OSError, SyntaxError, ValueError... for damaged files
        return f"{type(e).__name__}: {e}"
    return None


def check_dataset(adapter: DatasetAdapter, root: Path, *, images: bool = True,
                  progress: Callable[[int, int], None] | None = None) -> CheckReport:
    """Read every split collecting malformed lines, then decode every referenced image once."""
    report = CheckReport(adapter.name, str(root))
    seen_messages: set[str] = set()
    used: dict[Path, str] = {}
    try:
        adapter.check_root(root, "the given root")
    except DatasetError as e:
        report.problems.append(Problem("layout", str(e)))
        return report
    with collect_problems() as collected:
        for info in adapter.splits:
            try:
                split = adapter.load_split(root, info.name, skip_bad=True)
            except DatasetError as e:
                if str(e) not in seen_messages:
                    seen_messages.add(str(e))
                    report.problems.append(Problem("layout", str(e)))
                continue
            report.faces[info.name] = len(split)
            for sample in split.samples:
                used.setdefault(Path(sample.image_path), sample.id)
    for error in collected:
        if str(error) not in seen_messages:  # subsets re-read the same lines
            seen_messages.add(str(error))
            report.problems.append(Problem(_kind(error), str(error)))
    if images:
        for i, (path, face_id) in enumerate(sorted(used.items())):
            why = verify_image(path)
            if why:
                report.problems.append(Problem("unreadable image", f"{path}: {why} (face {face_id})"))
            if progress:
                progress(i + 1, len(used))
        report.images_checked = len(used)
    return report
