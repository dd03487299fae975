"""3FabRec checkpoints: ours (tensors and plain metadata, loadable with weights_only=True, written atomically)
and the released original snapshots (a folder with saae.mdl and meta.json), and loading weights into the net."""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import torch

from fabrec_bench.checkpoints import atomic_write
from fabrec_bench.errors import UserError
from fabrec_bench_plugins.models.fabrec.networks import Fabrec

FORMAT = "fabrec-bench/3fabrec/1"


def save_checkpoint(path: Path, net: Fabrec, meta: dict) -> None:
    """Tensors and plain metadata only (loadable with weights_only=True), written to a temp file and renamed."""
    payload = {"format": FORMAT, "meta": json.dumps(meta, default=str),
               "state_dict": {k: v.detach().cpu() for k, v in net.state_dict().items()}}
    atomic_write(path, lambda f: torch.save(payload, f))


def read_checkpoint(path: Path, *, mmap: bool = False) -> tuple[dict, dict]:
    """(state_dict, meta) from our checkpoints or a released original snapshot (a folder with saae.mdl).
    `mmap` maps the tensors instead of reading them (enough to look at the keys and shapes)."""
    path = Path(path)
    if path.is_dir():
        return read_reference_snapshot(path)
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError:  # objects beyond tensors and plain data: never unpickled
        raise UserError(f"{path}: refused: it holds Python objects besides weights (an unsafe pickle); "
                        "fabrec-bench loads checkpoints with weights_only=True") from None
    except Exception as e:  # truncated file, not a torch file...
        first = str(e).splitlines()[0] if str(e) else ""
        raise UserError(f"{path}: not a readable fabrec-bench checkpoint ({type(e).__name__}: {first})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise UserError(f"{path}: not a 3fabrec checkpoint written by fabrec-bench")
    return payload["state_dict"], json.loads(payload["meta"])


def read_reference_snapshot(folder: Path) -> tuple[dict, dict]:
    """A released 3FabRec snapshot: <folder>/saae.mdl (arch, z_dim, input_size, state_dict) and meta.json."""
    mdl = folder / "saae.mdl"
    if not mdl.is_file():
        raise UserError(f"{folder}: no saae.mdl inside; expected a released 3FabRec snapshot folder")
    try:
        payload = torch.load(mdl, map_location="cpu", weights_only=True)
    except Exception as e:
        raise UserError(f"{mdl}: cannot be read safely ({type(e).__name__}: {e})") from None
    if not isinstance(payload, dict) or "state_dict" not in payload:
        raise UserError(f"{mdl}: expected a dict with arch, z_dim, input_size and state_dict")
    state = payload["state_dict"]
    meta = {"source": "3fabrec-release", "arch": payload.get("arch"), "z_dim": int(payload.get("z_dim", 99)),
            "input_size": int(payload.get("input_size", 256)), "stage": "landmarks" if "LMH.lin.weight" in state
            else "autoencoder"}
    if "LMH.lin.weight" in state:
        meta["num_points"] = int(state["LMH.lin.weight"].shape[1])
    # The frame the release was trained in: 300-W's .pts files are 1-based and the original used them as
    # written; WFLW's and AFLW's files were used as written too, which is also how we read them.
    meta["config"] = {"crop_rule": "3fabrec", "frame_origin": 1.0 if meta.get("num_points") == 68 else 0.0}
    meta_json = folder / "meta.json"
    if meta_json.is_file():
        meta["release_meta"] = json.loads(meta_json.read_text())
    return state, meta


def load_weights(net: Fabrec, state: dict, source: Path, *, head: bool) -> None:
    """Load Q, P, D_z, D (and LMH if `head`); shape mismatches and missing autoencoder keys are errors."""
    own = net.state_dict()
    wanted = {k: v for k, v in state.items() if head or not k.startswith("LMH.")}
    for key, value in wanted.items():
        if key in own and own[key].shape != value.shape:
            raise UserError(f"{source}: {key} has shape {tuple(value.shape)}, this model needs {tuple(own[key].shape)} "
                            f"(another landmark scheme or input size?)")
    missing = [k for k in own if (k.startswith(("Q.", "P.")) or (head and k.startswith("LMH."))) and k not in wanted]
    if missing:
        raise UserError(f"{source}: {len(missing)} weight(s) missing, e.g. {missing[0]}")
    extra = [k for k in wanted if k.startswith(("Q.", "P.")) and k not in own]
    if extra:  # a layout this network does not have: never drop weights silently (see Fabrec.for_weights)
        raise UserError(f"{source}: {len(extra)} weight(s) this network has no place for, e.g. {extra[0]}")
    net.load_state_dict({k: v for k, v in wanted.items() if k in own}, strict=False)
