"""Evaluation protocols: which normaliser, threshold and AUC rule produced a number."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace

from fabrec_bench.errors import UserError

AUC_RULES = ("trapezoid", "fabrec50")


@dataclass(frozen=True)
class EvalProtocol:
    """The conventions behind a metric value; stored with every result.

    `threshold` is a fraction (0.10 = 10 % of the normalising distance). `auc_rule` is `trapezoid` (fine grid,
    step 1e-4, the default of recent codebases) or `fabrec50` (3FabRec's 50-point Riemann sum).
    """

    normaliser: str = "inter-ocular"
    threshold: float = 0.10
    auc_rule: str = "trapezoid"
    metrics: tuple[str, ...] = ("nme", "fr", "auc")
    mask_invisible: bool = False
    # Which face box the model is given (fabrec_bench.boxes): numbers are comparable only within one source.
    box_source: str = "ground-truth"

    def __post_init__(self) -> None:
        if not 0 < self.threshold <= 1:
            raise UserError(f"threshold {self.threshold!r} must lie in (0, 1]; it is a fraction, e.g. 0.1 for 10%")
        if self.auc_rule not in AUC_RULES:
            raise UserError(f"unknown AUC rule {self.auc_rule!r}; choose one of {', '.join(AUC_RULES)}")
        from fabrec_bench.boxes import canonical

        object.__setattr__(self, "box_source", canonical(self.box_source))
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
