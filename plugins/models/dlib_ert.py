"""dlib-ert: dlib's ensemble-of-regression-trees 68-point shape predictor (Kazemi & Sullivan, CVPR 2014), the
most used off-the-shelf landmark baseline. Pretrained, no training; it predicts the iBUG 68 points, so it is
scored on 300-W, AffectNet, and WFLW through the 98->68 mapping (`--dataset wflw68`).

Install with `pip install "fabrec-bench[dlib]"`: `dlib-bin` (prebuilt dlib wheels) and
`face-recognition-models`, which ships `shape_predictor_68_face_landmarks.dat` inside the package. Nothing is
downloaded at run time. The package's `__init__` imports `pkg_resources` (absent from recent setuptools), so
the file is located through the import system's metadata without importing the package.

Licence caveat: dlib's 68-point model was trained on the iBUG 300-W data, whose images are licensed for
non-commercial research only; results with it inherit that restriction.

The predictor was trained on dlib's own HOG detector boxes: give it other boxes (the dataset's, or the
landmarks' extent) and its error grows; run with `--box-source detector` to evaluate it as it is used.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fabrec_bench.checkpoints import atomic_write
from fabrec_bench.errors import UserError
from fabrec_bench.hookspecs import hookimpl
from fabrec_bench.models import Capabilities, LandmarkModel, ModelSpec, RunContext
from fabrec_bench.options import Options, option
from fabrec_bench.schemes import IBUG68, LandmarkScheme
from fabrec_bench.types import FaceSample

MISSING = ('dlib-ert needs dlib and the face-recognition-models package: pip install "fabrec-bench[dlib]" '
           "(dlib-bin + face-recognition-models; nothing is downloaded at run time)")
FORMAT = "fabrec-bench/dlib-ert/1"


def bundled_predictor(name: str = "shape_predictor_68_face_landmarks.dat") -> Path:
    """The .dat file inside face-recognition-models, found without importing the package."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise UserError(MISSING)
    for folder in spec.submodule_search_locations:
        path = Path(folder) / "models" / name
        if path.is_file():
            return path
    raise UserError(f"face-recognition-models is installed but has no models/{name}; reinstall it")


def _dlib():
    try:
        import dlib
    except ImportError:
        raise UserError(MISSING) from None
    return dlib


@dataclass(frozen=True)
class DlibOptions(Options):
    predictor: str = option("", "a dlib shape_predictor .dat file (default: the 68-point model inside "
                                "face-recognition-models)")


class DlibErtModel(LandmarkModel):
    """dlib's shape predictor behind the model contract; each face's box becomes its dlib rectangle."""

    def __init__(self, scheme: LandmarkScheme, options: DlibOptions, context: RunContext | str = "auto"):
        super().__init__(scheme, options, context)
        if scheme.num_points != 68:
            raise UserError(f"dlib-ert predicts the 68 iBUG points; dataset scheme '{scheme.name}' has "
                            f"{scheme.num_points} (for WFLW use --dataset wflw68, the 98->68 mapping)")
        dlib = _dlib()
        self.path = Path(options.predictor) if options.predictor else bundled_predictor()
        if not self.path.is_file():
            raise UserError(f"{self.path}: no such shape predictor file")
        try:
            self.predictor = dlib.shape_predictor(str(self.path))
        except RuntimeError as e:
            raise UserError(f"{self.path}: not a dlib shape predictor ({e})") from None
        self.rectangle = dlib.rectangle

    def predict(self, samples: Sequence[FaceSample]) -> np.ndarray:
        from fabrec_bench.faces.facedata import face_image  # OpenCV: only when predicting

        out = np.zeros((len(samples), 68, 2))
        cached_path, rgb = None, None
        for i, sample in enumerate(samples):
            if str(sample.image_path) != cached_path:  # multi-face images are read once
                image = face_image(sample)
                rgb = np.ascontiguousarray(image[..., ::-1])
                cached_path = str(sample.image_path)
            x0, y0, x1, y1 = (int(round(v)) for v in sample.box_px)
            # dlib rectangles are inclusive: right/bottom are the last pixel inside the box.
            shape = self.predictor(rgb, self.rectangle(x0, y0, x1 - 1, y1 - 1))
            out[i] = [(p.x, p.y) for p in shape.parts()]
        return out

    def save(self, path: Path) -> None:
        record = json.dumps({"format": FORMAT, "predictor": str(self.path)})
        atomic_write(path, lambda f: f.write(record), binary=False)

    @classmethod
    def load(cls, path: Path, context: RunContext | str = "auto") -> DlibErtModel:
        try:
            meta = json.loads(Path(path).read_text())
        except (OSError, ValueError) as e:
            raise UserError(f"{path}: not a dlib-ert checkpoint ({e})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise UserError(f"{path}: not a dlib-ert checkpoint")
        return cls(IBUG68, DlibOptions(predictor=meta.get("predictor", "")), context)

    def describe(self) -> dict:
        return {"predictor": self.path.name, "licence": "iBUG 300-W training data: non-commercial research only"}


@hookimpl
def fabrec_bench_register_models(register):
    register(ModelSpec(
        name="dlib-ert",
        create=DlibErtModel,
        load=DlibErtModel.load,
        description="dlib's 68-point ERT shape predictor (pretrained; needs the [dlib] extra; "
                    "non-commercial model licence)",
        options=DlibOptions,
        capabilities=Capabilities(needs_training=False),  # reads the image in the face box itself
        checkpoint_suffix=".json",
        native_scheme="ibug68",
    ))
