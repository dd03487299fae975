"""Numeric precision: exact fp32 by default for inference, mixed precision for training only where it is fast.

`auto` picks, per device:
- a CPU: bf16 only where the CPU computes it natively (AVX512-BF16 or AMX tiles, asked through torch's CPU
  capability checks); elsewhere bf16 is emulated and many times slower than fp32 (measured: landmark
  inference 1.0 img/s in bf16 against 7.2 img/s in fp32 on a 2-core AVX2-only AMD EPYC), so fp32;
- a CUDA GPU: bf16 from compute capability 8 (Ampere) on, fp16 before.
fp32 on CUDA turns TF32 off, so a fp32 result is what the original code computes.
"""

from __future__ import annotations

import contextlib

import torch

from fabrec_bench.errors import UserError

PRECISIONS = ("auto", "fp32", "bf16", "fp16")
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


def native_cpu_bf16() -> tuple[bool, str]:
    """Whether this CPU computes bf16 natively, and the capability that says so (torch's own checks)."""
    checks = (("AVX512-BF16", "_is_avx512_bf16_supported"), ("AMX", "_is_amx_tile_supported"))
    found = []
    for label, name in checks:
        check = getattr(torch.cpu, name, None)
        try:
            if check is not None and check():
                found.append(label)
        except RuntimeError:  # a torch build without the query: treat as absent
            continue
    if found:
        return True, f"the CPU has native bf16 ({' and '.join(found)})"
    return False, "the CPU has no native bf16 (no AVX512-BF16, no AMX): bf16 would be emulated, fp32 is faster"


def processor() -> str:
    """The CPU's model name and its bf16 flags, as the kernel reports them (the figures depend on both)."""
    name, flags = "unknown CPU", set()
    try:
        for line in open("/proc/cpuinfo", encoding="utf-8"):
            key, _, value = line.partition(":")
            if key.strip() == "model name" and name == "unknown CPU":
                name = value.strip()
            elif key.strip() == "flags" and not flags:
                flags = set(value.split())
    except OSError:
        pass
    found = [f for f in ("avx512_bf16", "amx_bf16", "avx512f", "avx2") if f in flags]
    return f"{name} (flags: {', '.join(found) or 'none of avx512_bf16, amx_bf16, avx512f, avx2'})"


def choose(device: str, precision: str) -> tuple[str, str]:
    """The precision `precision` means on `device` ('fp32', 'bf16' or 'fp16') and why."""
    if precision not in PRECISIONS:
        raise UserError(f"precision {precision!r} must be one of {', '.join(PRECISIONS)}")
    if precision != "auto":
        return precision, "asked for"
    if device.startswith("cuda"):
        major = torch.cuda.get_device_capability(torch.device(device))[0]
        if major >= 8:
            return "bf16", f"CUDA compute capability {major}.x has bf16 tensor cores"
        return "fp16", f"CUDA compute capability {major}.x predates bf16; fp16 tensor cores"
    native, reason = native_cpu_bf16()
    return ("bf16" if native else "fp32"), reason


@contextlib.contextmanager
def _exact_fp32(device: str):
    """fp32 that is fp32: TF32 off on CUDA for the duration (restored afterwards)."""
    if not device.startswith("cuda"):
        yield
        return
    saved = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = saved


def autocast_for(device: str, precision: str):
    """A context factory running code on `device` in `precision` (resolved with `choose`)."""
    name, _ = choose(device, precision)
    if name == "fp32":
        return lambda: _exact_fp32(device)
    kind = "cuda" if device.startswith("cuda") else "cpu"
    return lambda: torch.autocast(kind, dtype=_DTYPES[name])
