"""precision=auto: bf16 only where the hardware computes it natively; inference exact (fp32) by default."""

from __future__ import annotations

import pytest
import torch

from fabrec_bench.errors import UserError
from fabrec_bench.torch_helpers import precision
from fabrec_bench.torch_helpers.precision import autocast_for, choose


def cpu_with(monkeypatch, *, avx512_bf16: bool, amx: bool) -> None:
    """Pretend to be a CPU with (or without) native bf16, through torch's own capability checks."""
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: avx512_bf16)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: amx)


def test_auto_is_fp32_on_a_cpu_without_native_bf16(monkeypatch):
    cpu_with(monkeypatch, avx512_bf16=False, amx=False)
    name, reason = choose("cpu", "auto")
    assert name == "fp32" and "no native bf16" in reason and "emulated" in reason
    with autocast_for("cpu", "auto")():
        assert not torch.is_autocast_enabled("cpu")
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.float32


@pytest.mark.parametrize(("avx512_bf16", "amx", "named"), [(True, False, "AVX512-BF16"), (False, True, "AMX"),
                                                           (True, True, "AVX512-BF16 and AMX")])
def test_auto_is_bf16_on_a_cpu_with_native_bf16(monkeypatch, avx512_bf16, amx, named):
    cpu_with(monkeypatch, avx512_bf16=avx512_bf16, amx=amx)
    name, reason = choose("cpu", "auto")
    assert name == "bf16" and named in reason
    with autocast_for("cpu", "auto")():
        assert torch.is_autocast_enabled("cpu")
        assert (torch.ones(2, 2) @ torch.ones(2, 2)).dtype == torch.bfloat16


def test_a_torch_without_the_capability_queries_means_no_native_bf16(monkeypatch):
    monkeypatch.delattr(torch.cpu, "_is_avx512_bf16_supported")
    monkeypatch.delattr(torch.cpu, "_is_amx_tile_supported")
    assert choose("cpu", "auto")[0] == "fp32"


@pytest.mark.parametrize(("major", "expected"), [(9, "bf16"), (8, "bf16"), (7, "fp16")])
def test_auto_on_cuda_follows_the_compute_capability(monkeypatch, major, expected):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda device=None: (major, 0))
    assert choose("cuda", "auto")[0] == expected


def test_an_explicit_choice_is_kept_and_a_wrong_one_refused(monkeypatch):
    cpu_with(monkeypatch, avx512_bf16=False, amx=False)
    assert choose("cpu", "bf16") == ("bf16", "asked for")
    with pytest.raises(UserError, match="precision 'fp8'"):
        choose("cpu", "fp8")


def test_fp32_on_cuda_turns_tf32_off_and_restores_it(monkeypatch):
    torch.backends.cuda.matmul.allow_tf32 = True
    with precision._exact_fp32("cuda:0"):
        assert torch.backends.cuda.matmul.allow_tf32 is False and torch.backends.cudnn.allow_tf32 is False
    assert torch.backends.cuda.matmul.allow_tf32 is True
    torch.backends.cuda.matmul.allow_tf32 = False


def test_the_model_defaults_exact_inference_and_auto_training():
    from fabrec_bench_plugins.models.fabrec.defaults import FabrecOptions

    assert FabrecOptions().inference_precision == "fp32" and FabrecOptions().precision == "auto"


def test_the_without_native_bf16_wrapper_makes_auto_choose_fp32():
    """scripts/without-native-bf16 stands in for a CPU without native bf16, in the command and its children."""
    import subprocess
    import sys
    from pathlib import Path

    wrapper = Path(__file__).resolve().parent.parent / "scripts" / "without-native-bf16"
    probe = ("import os, subprocess, sys; assert 'torch' not in sys.modules; "
             "from fabrec_bench.torch_helpers.precision import choose, native_cpu_bf16; "
             "print(native_cpu_bf16()[0], choose('cpu', 'auto')[0], os.environ['ATEN_CPU_CAPABILITY']); "
             "child = 'import torch; print(torch.cpu._is_avx512_bf16_supported(), torch.cpu._is_amx_tile_supported())'; "
             "sys.stdout.flush(); subprocess.run([sys.executable, '-c', child], check=True)")
    result = subprocess.run([str(wrapper), sys.executable, "-c", probe], capture_output=True, text=True,
                            timeout=120, check=True)
    assert result.stdout.split() == ["False", "fp32", "avx2", "False", "False"]
