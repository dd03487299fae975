"""3FabRec speed: landmark inference and both training stages, against a straightforward baseline.

    python benchmarks/fabrec_speed.py [--device cpu|cuda] [--input-size 256] [--batch-size N] [--compile]
                                      [--precisions bf16,fp32]

It prints the processor (and whether it has native bf16), what `precision=auto` picks here and why, then for
each phase and each precision (side by side: bf16 and fp32 by default) images/s, batch size, FLOPs per image
(counted by torch.utils.flop_counter on one batch) and the fraction of the machine's peak, measured in the same
run as a large matrix product in the same precision. fp32 inference runs as the model's exact default does
(NCHW, TF32 off); mixed precision channels-last. The baseline does what the reference code does: fp32, NCHW, the
full autoencoder (reconstruction included) plus the head, and a Python loop over images and landmarks for
the 9x9 blur and argmax. Inputs are random tensors already on the device, so this measures the model, not
image loading (see benchmarks/crop_throughput.py for that).
"""

from __future__ import annotations

import argparse
import time

import cv2
import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from fabrec_bench.torch_helpers.precision import autocast_for, choose, native_cpu_bf16, processor
from fabrec_bench_plugins.models.fabrec.heatmaps import decode
from fabrec_bench_plugins.models.fabrec.networks import Fabrec
from fabrec_bench_plugins.models.fabrec.training import AutoencoderTrainer, LandmarkTrainer


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn, device: str, warmup: int, iters: int) -> float:
    """Seconds per call (median of `iters` after `warmup`)."""
    for _ in range(warmup):
        fn()
    sync(device)
    times = []
    for _ in range(iters):
        start = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def matmul_peak(device: str, dtype: torch.dtype, n: int) -> float:
    """FLOP/s of an n×n matrix product in `dtype` (the roofline the model is compared with)."""
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    seconds = timed(lambda: a @ b, device, 2, 5)
    return 2 * n ** 3 / seconds


def flops(fn) -> int:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops()


DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


def baseline_decode(heatmaps: torch.Tensor, input_size: int) -> np.ndarray:
    """The reference's decoding: per image, per landmark, cv2.blur then argmax, in Python."""
    maps = heatmaps.float().cpu().numpy()
    out = np.zeros(maps.shape[:2] + (2,))
    scale = maps.shape[-1] / input_size
    for i in range(maps.shape[0]):
        for j in range(maps.shape[1]):
            blurred = cv2.blur(maps[i, j], (9, 9), borderType=cv2.BORDER_CONSTANT)
            y, x = np.unravel_index(blurred.argmax(), blurred.shape)
            out[i, j] = (x / scale, y / scale)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--input-size", type=int, default=256, choices=(128, 256))
    parser.add_argument("--batch-size", type=int, default=None, help="default 256 on CUDA, 32 on CPU")
    parser.add_argument("--train-batch-size", type=int, default=None, help="default 128 on CUDA, 16 on CPU")
    parser.add_argument("--landmarks", type=int, default=98)
    parser.add_argument("--iters", type=int, default=None)
    parser.add_argument("--compile", action="store_true", help="also time the inference path under torch.compile")
    parser.add_argument("--peak-size", type=int, default=None,
                        help="side of the matrix product that measures the peak (default 8192 on CUDA, 2048 on "
                             "CPU; where bf16 is emulated a 2048 product alone takes minutes)")
    parser.add_argument("--precisions", default="bf16,fp32",
                        help="comma-separated precisions to time side by side (fp32, bf16, fp16)")
    args = parser.parse_args()
    device = args.device
    cuda = device.startswith("cuda")
    batch = args.batch_size or (256 if cuda else 32)
    train_batch = args.train_batch_size or (128 if cuda else 16)
    iters = args.iters or (20 if cuda else 3)
    warmup = 3 if cuda else 1
    if cuda:
        torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    size = args.input_size
    precisions = [p.strip() for p in args.precisions.split(",") if p.strip()]
    unknown = [p for p in precisions if p not in DTYPES]
    if unknown:
        parser.error(f"unknown precision(s) {', '.join(unknown)}; choose from {', '.join(DTYPES)}")
    name = torch.cuda.get_device_name(device) if cuda else "CPU"
    print(f"device {device} ({name}), torch {torch.__version__}, input {size}, {args.landmarks} landmarks, "
          f"threads {torch.get_num_threads()}")
    native_bf16 = native_cpu_bf16()[0]
    print(f"processor: {processor()}; torch sees native bf16: {native_bf16}")
    auto, reason = choose(device, "auto")
    print(f"precision=auto for training here: {auto} ({reason}); inference defaults to fp32")
    peak_size = args.peak_size if args.peak_size is not None else (8192 if cuda else 2048)
    if peak_size < 1:
        parser.error(f"--peak-size must be positive, got {peak_size}")
    peaks = {p: matmul_peak(device, DTYPES[p], peak_size) for p in dict.fromkeys([*precisions, "fp32"])}
    print("measured matmul peak: " + ", ".join(f"{p} {peaks[p] / 1e12:.2f} TFLOP/s" for p in peaks)
          + f" ({peak_size}×{peak_size} product)")
    if not cuda and "bf16" in peaks and not native_bf16:
        print("bf16 is emulated on this CPU: its matrix-product 'peak' is no roofline, so its share of peak "
              "can pass 100 %")

    rows = []
    x = torch.randn(batch, 3, size, size, device=device)

    # Ours: landmarks only, batched decoding on the device, in each precision (mixed precision channels-last,
    # fp32 NCHW as the exact default runs); eager, and with torch.compile when asked.
    net = Fabrec(args.landmarks, size).to(device).eval()
    ours_times = {}
    for prec in precisions:
        autocast = autocast_for(device, prec)
        layout = torch.contiguous_format if prec == "fp32" else torch.channels_last
        net = net.to(memory_format=layout)
        x_in = x.contiguous(memory_format=layout)
        with torch.inference_mode(), autocast():
            f_ours = flops(lambda x_in=x_in: net.heatmaps(x_in)) / batch  # noqa: B023 (called at once)
        for compiled in (False, True) if args.compile else (False,):
            heatmaps_fn = torch.compile(net.heatmaps) if compiled else net.heatmaps

            @torch.inference_mode()
            def ours(heatmaps_fn=heatmaps_fn, autocast=autocast, x_in=x_in):
                with autocast():
                    return decode(heatmaps_fn(x_in), size)

            label = prec + (" +compile" if compiled else "")
            ours_times[label] = timed(ours, device, warmup + (2 if compiled else 0), iters)
            rows.append((f"inference (ours{', compiled' if compiled else ''})", label, batch,
                         batch / ours_times[label], f_ours, peaks[prec]))

    # Baseline: fp32 NCHW, full reconstruction + head, Python decoding.
    base = Fabrec(args.landmarks, size).to(device).eval()

    @torch.inference_mode()
    def baseline():
        z = base.Q(x)
        x1 = base.P.stage1(z)
        base.P(z)  # the reconstruction the reference computes and does not use for landmarks
        return baseline_decode(base.LMH(x1, base.P), size)

    t_base = timed(baseline, device, 1, max(3, iters // 4))
    with torch.inference_mode():
        f_base = flops(lambda: (base.P(base.Q(x)), base.LMH(base.P.stage1(base.Q(x)), base.P))) / batch
    rows.append(("inference (baseline)", "fp32", batch, batch / t_base, f_base, peaks["fp32"]))

    # Stage 1 and stage 2 training steps, channels-last, in each precision.
    xt = torch.randn(train_batch, 3, size, size, device=device).contiguous(memory_format=torch.channels_last)
    lms = torch.rand(train_batch, args.landmarks, 2, device=device) * (size - 1)
    for prec in precisions:
        autocast = autocast_for(device, prec)
        ae_net = Fabrec(args.landmarks, size).to(device).to(memory_format=torch.channels_last)
        ae = AutoencoderTrainer(ae_net, autocast=autocast)
        t_ae = timed(lambda ae=ae: ae.step(xt), device, warmup, iters)
        f_ae = flops(lambda ae=ae: ae.step(xt)) / train_batch
        rows.append(("stage 1 training step", prec, train_batch, train_batch / t_ae, f_ae, peaks[prec]))
        lm_net = Fabrec(args.landmarks, size).to(device).to(memory_format=torch.channels_last)
        lm = LandmarkTrainer(lm_net, autocast=autocast)
        t_lm = timed(lambda lm=lm: lm.step(xt, lms), device, warmup, iters)
        f_lm = flops(lambda lm=lm: lm.step(xt, lms)) / train_batch
        rows.append(("stage 2 training step", prec, train_batch, train_batch / t_lm, f_lm, peaks[prec]))

    print(f"{'phase':<28}{'precision':<16}{'batch':>6}{'images/s':>11}{'GFLOP/img':>11}{'TFLOP/s':>9}{'of peak':>9}")
    for phase, precision, b, rate, f, peak in rows:
        achieved = rate * f
        print(f"{phase:<28}{precision:<16}{b:>6}{rate:>11.1f}{f / 1e9:>11.2f}{achieved / 1e12:>9.2f}"
              f"{100 * achieved / peak:>8.1f}%")
    for label, seconds in ours_times.items():
        print(f"landmark inference speed-up over the baseline ({label}): {t_base / seconds:.1f}x")


if __name__ == "__main__":
    main()
