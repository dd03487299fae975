"""Evaluation protocols: which normaliser, threshold, AUC rule and coordinate frame produced a number.

Named protocols (`--protocol NAME` on run, eval, score and leaderboard; the field's codes are described
declaratively in fabrec_bench.field_protocols):
- `standard` (the default, for comparing models): each dataset's own protocol, scored in original-image
  coordinates, with any option overridden on the command line.
- `3fabrec-paper`: how the 3FabRec paper's tables were scored (the original's train_aae_landmarks.py and
  landmarks/lmutils.py): in the 256-pixel crop of the original's crop rule, in the frame of the annotation
  files as written (300-W 1-based), ground truth with negative coordinates clamped to 0; NME normalised by
  the outer eye corners (300-W 36/45, WFLW 60/72) and for AFLW by the crop side, 256 (the squared box's
  max(w, h)); FR = NME > 10 %; AUC = mean CED at 50 thresholds on [0, 0.1].
- `hrnet`, `star`, `pipnet`, `spiga`, `mmpose`: how each of those codes scores (fabrec_bench.field_protocols).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from fabrec_bench.errors import UserError
from fabrec_bench.field_protocols import FIELD_PROTOCOLS

# trapezoid: ours (CED every 1e-4, trapezoid rule); fabrec50: 3FabRec's 50-point mean; simpson: STAR/ADNet and
# PIPNet (CED on np.arange(0, t + 1e-4, 1e-4), Simpson's rule as SciPy's old `simps`); spiga: a 10,000-bin
# histogram of the errors, Simpson's rule, tail correction; none: the code reports no AUC.
AUC_RULES = ("trapezoid", "fabrec50", "simpson", "spiga", "none")
# How per-face errors become NME: each face's mean point error, averaged over faces (every code but mmpose), or
# every scored point's error pooled over the dataset (mmpose).
AVERAGING = ("per-face", "pooled")
# Which faces fail: NME > t (strict), 1 - CED at the last point of the AUC grid (STAR/PIPNet: for t = 0.05 the
# grid ends at 0.0501), or SPIGA's histogram (faces beyond the last bin edge below t).
FR_RULES = ("strict", "grid-end", "histogram")
# Which face box a model is given (fabrec_bench.faces.boxes applies them); `detector` is an alias of detector-hog.
BOX_SOURCES = ("ground-truth", "landmarks", "detector", "detector-hog", "detector-haar")
FRAMES = ("image", "3fabrec-crop")
PROTOCOL_NAMES = ("standard", "3fabrec-paper", *FIELD_PROTOCOLS)
# What each named protocol is and which code it follows (`fabrec-bench protocols`).
PROTOCOL_DESCRIPTIONS = {
    "standard": ("each dataset's own protocol, in original-image coordinates, with any option given on the "
                 "command line; for comparing models", "fabrec-bench (../shared/docs/metrics.md)"),
    "3fabrec-paper": ("how the 3FabRec paper's tables were scored: errors in the 256-px crop of the original's "
                      "crop rule, in the annotation files' own frame, ground truth clamped at 0",
                      "browatbn2/3FabRec: train_aae_landmarks.py, landmarks/lmutils.py, "
                      "csl_common/utils/transforms.py (CenterCrop)"),
    **{name: (code.summary, f"{code.code}: {code.files}") for name, code in FIELD_PROTOCOLS.items()},
}
# The paper's normaliser per dataset; in the crop frame a face's box is the crop, so box-max is 256.
PAPER_NORMALISERS = {"wflw": "inter-ocular", "300w": "inter-ocular", "aflw": "box-max"}
PAPER_CROP_SIZE = 256


@dataclass(frozen=True)
class EvalProtocol:
    """The conventions behind a metric value; stored with every result.

    `threshold` is a fraction (0.10 = 10 % of the normalising distance). `auc_rule` is `trapezoid` (fine grid,
    step 1e-4, the default of recent codebases) or `fabrec50` (3FabRec's 50-point Riemann sum).
    """

    name: str = "standard"
    normaliser: str = "inter-ocular"
    threshold: float = 0.10
    auc_rule: str = "trapezoid"
    metrics: tuple[str, ...] = ("nme", "fr", "auc")
    mask_invisible: bool = False
    # Which face box the model is given (fabrec_bench.faces.boxes): numbers are comparable only within one source.
    box_source: str = "ground-truth"
    # Where errors are measured: original-image coordinates, or the 256-px crop of 3FabRec's crop rule.
    frame: str = "image"
    averaging: str = "per-face"
    fr_rule: str = "strict"
    # A second failure threshold reported beside the first (HRNet's FR@0.08 next to FR@0.1); metric `fr2`.
    second_threshold: float | None = None

    def __post_init__(self) -> None:
        if self.name not in PROTOCOL_NAMES:
            raise UserError(f"unknown protocol {self.name!r}; choose one of {', '.join(PROTOCOL_NAMES)}")
        if self.frame not in FRAMES:
            raise UserError(f"unknown scoring frame {self.frame!r}; choose one of {', '.join(FRAMES)}")
        if not 0 < self.threshold <= 1:
            raise UserError(f"threshold {self.threshold!r} must lie in (0, 1]; it is a fraction, e.g. 0.1 for 10%")
        if self.auc_rule not in AUC_RULES:
            raise UserError(f"unknown AUC rule {self.auc_rule!r}; choose one of {', '.join(AUC_RULES)}")
        if self.averaging not in AVERAGING:
            raise UserError(f"unknown averaging {self.averaging!r}; choose one of {', '.join(AVERAGING)}")
        if self.fr_rule not in FR_RULES:
            raise UserError(f"unknown failure rule {self.fr_rule!r}; choose one of {', '.join(FR_RULES)}")
        object.__setattr__(self, "box_source", canonical_box_source(self.box_source))
        if self.box_source.startswith("detector") and "missed" not in self.metrics:
            object.__setattr__(self, "metrics", (*self.metrics, "missed"))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["metrics"] = list(self.metrics)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> EvalProtocol:
        known = {f.name for f in fields(cls)}
        unknown = set(d) - known
        if unknown:
            raise UserError(f"unknown protocol key(s): {', '.join(sorted(unknown))}")
        d = dict(d)
        if "metrics" in d:
            d["metrics"] = tuple(d["metrics"])
        return cls(**d)

    def with_overrides(self, **overrides) -> EvalProtocol:
        """A copy with the options the user gave (None means keep the dataset's default)."""
        given = {k: v for k, v in overrides.items() if v is not None}
        if "metrics" in given:
            given["metrics"] = tuple(given["metrics"])
        return replace(self, **given)


def canonical_box_source(source: str) -> str:
    """A box source's canonical name (`detector` is dlib's HOG detector, `detector-hog`)."""
    if source not in BOX_SOURCES:
        raise UserError(f"unknown box source {source!r}; choose one of {', '.join(BOX_SOURCES)}")
    return "detector-hog" if source == "detector" else source


def protocol_applies(name: str, dataset: str) -> bool:
    """Whether the named protocol has rules for `dataset` (standard applies to every labeled dataset)."""
    if name == "standard":
        return True
    if name == "3fabrec-paper":
        return dataset in PAPER_NORMALISERS
    return name in FIELD_PROTOCOLS and dataset in FIELD_PROTOCOLS[name].datasets


def named_protocol(name: str, dataset: str, standard: EvalProtocol) -> EvalProtocol:
    """The protocol `name` for dataset `dataset` (whose own protocol is `standard`)."""
    if name == "standard":
        return standard
    if name == "3fabrec-paper":
        if dataset not in PAPER_NORMALISERS:
            raise UserError(f"the 3fabrec-paper protocol covers {', '.join(PAPER_NORMALISERS)}, not '{dataset}'")
        return EvalProtocol(name=name, normaliser=PAPER_NORMALISERS[dataset], threshold=0.10, auc_rule="fabrec50",
                            metrics=standard.metrics, frame="3fabrec-crop")
    if name in FIELD_PROTOCOLS:
        code = FIELD_PROTOCOLS[name]
        rule = code.rule(dataset)
        return EvalProtocol(name=name, normaliser=rule.normaliser, threshold=rule.threshold, auc_rule=code.auc_rule,
                            metrics=code.metrics, fr_rule=code.fr_rule, averaging=code.averaging,
                            second_threshold=code.second_threshold)
    raise UserError(f"unknown protocol {name!r}; choose one of {', '.join(PROTOCOL_NAMES)}")


def protocol_with_overrides(name: str, dataset: str, standard: EvalProtocol, **overrides) -> EvalProtocol:
    """A named protocol with the user's overrides (None: keep). A paper's protocol is fixed: only the
    metrics computed under it may be chosen."""
    protocol = named_protocol(name, dataset, standard)
    given = {k for k, v in overrides.items() if v is not None and k != "metrics"}
    if name != "standard" and given:
        options = ", ".join("--" + k.replace("_", "-") for k in sorted(given))
        raise UserError(f"the {name} protocol fixes how it scores; {options} cannot change it "
                        "(use --protocol standard with your options instead)")
    return protocol.with_overrides(**overrides)
