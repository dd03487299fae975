"""Evaluation protocols: which normaliser, threshold, AUC rule and coordinate frame produced a number.

Two types:
- `EvalProtocol`: the rules one number was scored by on one dataset, as plain data. It is stored with every
  result, so a number always says what produced it (and stored results stay readable when a protocol's plugin
  is gone).
- `Protocol`: a named protocol, registered by a plugin through `fabrec_bench_register_protocols`: its rules
  per dataset (`DatasetRule`: normaliser and threshold), its failure and AUC rules, its averaging, an optional
  scoring frame (`ScoringFrame`, e.g. 3FabRec's crop), the code it follows and what could not be verified.
  `--protocol NAME` on run, eval, score and leaderboard picks one; `--protocol all` every one that has rules
  for the dataset. The built-in ones: `standard` (each dataset's own rules, the only one that takes options
  from the command line), `3fabrec-paper` (the 3FabRec plugin), and the field's codes (`hrnet`, `star`,
  `pipnet`, `spiga`, `mmpose`; fabrec_bench_plugins.metrics.protocols).

Rule names (`fr_rule`, `auc_rule`, `averaging`) refer to the functions in fabrec_bench.metrics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace

from fabrec_bench.errors import UserError

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
IMAGE_FRAME = "image"  # errors measured in original-image pixels, the default


@dataclass(frozen=True)
class EvalProtocol:
    """The conventions behind a metric value; stored with every result.

    `threshold` is a fraction (0.10 = 10 % of the normalising distance). `frame` names where errors are
    measured: original-image pixels, or a frame a protocol registers (`ScoringFrame`).
    """

    name: str = "standard"
    normaliser: str = "inter-ocular"
    threshold: float = 0.10
    auc_rule: str = "trapezoid"
    metrics: tuple[str, ...] = ("nme", "fr", "auc")
    mask_invisible: bool = False
    # Which face box the model is given (fabrec_bench.faces.boxes): numbers are comparable only within one source.
    box_source: str = "ground-truth"
    frame: str = IMAGE_FRAME
    averaging: str = "per-face"
    fr_rule: str = "strict"
    # A second failure threshold reported beside the first (HRNet's FR@0.08 next to FR@0.1); metric `fr2`.
    second_threshold: float | None = None

    def __post_init__(self) -> None:
        if not self.name:
            raise UserError("a protocol needs a name")
        if not 0 < self.threshold <= 1:
            raise UserError(f"threshold {self.threshold!r} must lie in (0, 1]; it is a fraction, e.g. 0.1 for 10%")
        for value, allowed, what in ((self.auc_rule, AUC_RULES, "AUC rule"), (self.averaging, AVERAGING, "averaging"),
                                     (self.fr_rule, FR_RULES, "failure rule")):
            if value not in allowed:
                raise UserError(f"unknown {what} {value!r}; choose one of {', '.join(allowed)}")
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


@dataclass(frozen=True)
class DatasetRule:
    """A protocol's normaliser and failure threshold on one dataset (or one split of it), and where in the
    code it follows that rule is written."""

    normaliser: str
    threshold: float
    source: str = ""  # file (and lines) of the code the rule was read from


@dataclass(frozen=True)
class ScoringFrame:
    """A frame other than image pixels that a protocol scores in: `transform(pred, gt, boxes, split,
    dataset)` maps (N, L, 2) predictions and ground truth and (N, 4) boxes of a split into it; `split` is the
    fabrec_bench.types.Split (its faces and their image files), `dataset` its fabrec_bench.models.DatasetFacts.
    `datasets`, when given, are the only ones it can be computed for."""

    name: str
    description: str
    transform: Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]]
    datasets: tuple[str, ...] = ()
    source: str = ""


@dataclass(frozen=True)
class Protocol:
    """A named protocol: how one code (or paper) scores, registered by a plugin.

    `datasets` gives its normaliser and threshold per dataset name, or per "dataset/split" where a code scores
    one split of a dataset differently (SPIGA: 300-W's private test set); a protocol with `from_dataset` set
    takes each dataset's own declared rules instead (`standard`), and is the only kind that accepts the user's
    options (`--normaliser`, `--threshold`, ...). `repository` and `commit` say which code the rules were read
    from, `sources` the file (and lines) behind each of its other rules (failure, AUC, averaging)."""

    name: str
    summary: str
    follows: str  # the code it was read from: repository, files
    datasets: Mapping[str, DatasetRule] = field(default_factory=dict)
    metrics: tuple[str, ...] | None = ("nme", "fr", "auc")  # None: the dataset's own
    fr_rule: str = "strict"
    auc_rule: str = "trapezoid"
    averaging: str = "per-face"
    second_threshold: float | None = None
    frame: ScoringFrame | None = None
    from_dataset: bool = False
    notes: tuple[str, ...] = ()
    repository: str = ""
    commit: str = ""
    sources: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.from_dataset and not self.datasets:
            raise ValueError(f"protocol {self.name!r} has rules for no dataset")
        EvalProtocol(name=self.name, fr_rule=self.fr_rule, auc_rule=self.auc_rule, averaging=self.averaging)

    def applies_to(self, dataset: str) -> bool:
        """Whether the protocol has rules for `dataset` (or for some split of it)."""
        return self.from_dataset or any(key.split("/")[0] == dataset for key in self.datasets)

    def rule(self, dataset: str, split: str | None = None) -> DatasetRule:
        """The rule for `dataset`'s `split`: the split's own, else the dataset's."""
        rule = self.datasets.get(f"{dataset}/{split}") if split else None
        rule = rule or self.datasets.get(dataset)
        if rule is None:
            covered = list(dict.fromkeys(key.split("/")[0] for key in self.datasets))
            where = f"'{dataset}'" + (f" split '{split}'" if split and self.applies_to(dataset) else "")
            raise UserError(f"the {self.name} protocol has no rules for {where}; it covers {', '.join(covered)}")
        return rule

    def rules_for(self, adapter, split: str | None = None) -> EvalProtocol:
        """The protocol's rules on `split` of the dataset of `adapter` (a fabrec_bench.datasets.DatasetAdapter)."""
        if self.from_dataset:
            return replace(adapter.protocol, name=self.name)
        rule = self.rule(adapter.name, split)
        metrics = adapter.protocol.metrics if self.metrics is None else self.metrics
        return EvalProtocol(name=self.name, normaliser=rule.normaliser, threshold=rule.threshold,
                            auc_rule=self.auc_rule, metrics=metrics, fr_rule=self.fr_rule, averaging=self.averaging,
                            second_threshold=self.second_threshold,
                            frame=self.frame.name if self.frame else IMAGE_FRAME)

    def source_text(self) -> str:
        """The code the rules were read from: repository and commit."""
        return f"{self.repository} at {self.commit}" if self.repository and self.commit else self.follows


def resolve_protocols(adapter, registry, name: str = "standard", split: str | None = None,
                      **overrides) -> list[EvalProtocol]:
    """The protocols `--protocol NAME` asks for on `split` of `adapter`'s dataset: NAME's rules (the user's
    overrides on top, for the protocols that take them), or with `all` every registered protocol with rules for
    the dataset (standard first). With `all` only `metrics` may be given (each protocol fixes the rest)."""
    given = {k for k, v in overrides.items() if v is not None and k != "metrics"}
    if name == "all":
        if given:
            options = ", ".join("--" + k.replace("_", "-") for k in sorted(given))
            raise UserError(f"--protocol all scores by each protocol's own rules; {options} cannot change them "
                            "(use --protocol standard with your options instead)")
        return [_resolve(adapter, p, split, metrics=overrides.get("metrics") if p.from_dataset else None)
                for p in registry.protocols_in_order() if p.applies_to(adapter.name)]
    return [_resolve(adapter, registry.protocol(name), split, **overrides)]


def _resolve(adapter, protocol: Protocol, split: str | None, **overrides) -> EvalProtocol:
    given = {k for k, v in overrides.items() if v is not None and k != "metrics"}
    if not protocol.from_dataset and given:
        options = ", ".join("--" + k.replace("_", "-") for k in sorted(given))
        raise UserError(f"the {protocol.name} protocol fixes how it scores; {options} cannot change it "
                        "(use --protocol standard with your options instead)")
    rules = protocol.rules_for(adapter, split)
    if protocol.frame is not None and protocol.frame.datasets and adapter.name not in protocol.frame.datasets:
        raise UserError(f"the {protocol.name} protocol scores in {protocol.frame.description}, which exists for "
                        f"{', '.join(protocol.frame.datasets)}, not for '{adapter.name}'")
    return rules.with_overrides(**overrides)
