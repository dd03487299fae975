"""Inference speed of every landmark model, in one run on one machine.

    python benchmarks/models_speed.py [--device cpu|cuda] [--batch-size N] [--iters N] [--models a,b,...]

For each model it prints images/s and GFLOP per image (counted by torch.utils.flop_counter on one image) in fp32
and, where the CPU computes bf16 natively (AVX512-BF16 or AMX) or on a CUDA GPU with bf16, in bf16; then the
processor it ran on; then the training images/s of the models trained here by their own recipes (PIPNet-R18,
HRNetV2-W18: forward, loss, backward, optimiser step on a ready batch). The neural models (3FabRec, PIPNet-R18, PIPNet-R101, HRNetV2-W18, 2D-FAN-4 with the flip
test of face-alignment 1.5's default, STAR) are timed on ready 256-px crops already on the device, network and
decoding together, as each model's predict runs them (random weights: speed does not depend on them). dlib's ERT
is timed on 256-px face images with a box, mean-shape on boxes: both are what their predict does per face. Image
reading and cropping are not included (see benchmarks/crop_throughput.py).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from fabrec_bench.torch_helpers.precision import autocast_for, native_cpu_bf16, processor

SIZE = 256


def timed(fn, device: str, warmup: int, iters: int) -> float:
    """Median seconds per call."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(iters):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        start = time.perf_counter()
        fn()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def gflops(fn) -> float:
    with FlopCounterMode(display=False) as counter:
        fn()
    return counter.get_total_flops() / 1e9


def fabrec(device: str, precision: str):
    from fabrec_bench_plugins.models.fabrec.heatmaps import decode
    from fabrec_bench_plugins.models.fabrec.networks import Fabrec

    # as its predict runs: channels-last in mixed precision, NCHW in exact fp32
    layout = torch.contiguous_format if precision == "fp32" else torch.channels_last
    net = Fabrec(98, SIZE).to(device).eval().to(memory_format=layout)
    return lambda x: decode(net.heatmaps(x.contiguous(memory_format=layout)), SIZE)


def mean_face() -> np.ndarray:
    """A frontal face of the synthetic face model (98 points): neighbour tables like a real mean face's."""
    from fabrec_bench.synth.face import landmarks_3d, sample_face_params

    points = landmarks_3d(sample_face_params(np.random.default_rng(0), large_pose=False, exaggerated=False))[:, :2]
    return (points - points.min(0)) / np.ptp(points, axis=0)


def pipnet(backbone: str):
    def make(device: str, precision: str):
        from fabrec_bench_plugins.models.pipnet.decoding import decode, neighbours
        from fabrec_bench_plugins.models.pipnet.network import PipNet, Variant

        net = PipNet(Variant(backbone, 98, 10, 32)).to(device).eval()
        table = neighbours(mean_face(), 10)
        return lambda x: decode(net(x), SIZE, 32, table)
    return make


def hrnet(device: str, precision: str):
    from fabrec_bench_plugins.models.hrnet.decoding import heatmap_cells
    from fabrec_bench_plugins.models.hrnet.network import HRNetFace

    net = HRNetFace(98).to(device).eval()
    return lambda x: heatmap_cells(net(x).float().cpu())


def fan(device: str, precision: str):
    """2D-FAN-4 with the flip test of face-alignment 1.5's default (two passes), and its decoding."""
    from fabrec_bench_plugins.models.fan.decoding import heatmap_cells
    from fabrec_bench_plugins.models.fan.model import MIRROR_68
    from fabrec_bench_plugins.models.fan.network import FAN

    net = FAN().to(device).eval()
    return lambda x: heatmap_cells((net(x) + net(x.flip(3))[:, list(MIRROR_68)].flip(3)).float().cpu().numpy())


def star(device: str, precision: str):
    from fabrec_bench_plugins.models.star.network import StackedHourglass

    net = StackedHourglass(98, 9).to(device).eval()
    return lambda x: net(x).float().cpu()


NEURAL = {"3fabrec": fabrec, "pipnet-r18": pipnet("resnet18"), "pipnet-r101": pipnet("resnet101"),
          "hrnet-w18": hrnet, "fan": fan, "star": star}


def neural_row(name: str, make, device: str, precision: str, batch: int, iters: int) -> tuple[float, float]:
    run = make(device, precision)
    x = torch.randn(batch, 3, SIZE, SIZE, device=device)
    autocast = autocast_for(device, precision)

    def call(inputs=x):
        with torch.no_grad(), autocast():
            return run(inputs)
    seconds = timed(call, device, 1, iters)
    return batch / seconds, gflops(lambda: call(x[:1]))


def training_row(name: str, device: str, precision: str, batch: int, iters: int) -> float:
    """Training images/s of a model trained by its own recipe: forward, the recipe's loss, backward and its
    optimiser's step on a ready batch (augmentation and targets excluded: benchmarks/crop_throughput.py's kind)."""
    if name == "pipnet-r18":
        from fabrec_bench_plugins.models.pipnet import recipe
        from fabrec_bench_plugins.models.pipnet.network import PipNet, Variant

        net = PipNet(Variant("resnet18", 98, 10, 32)).to(device)
        optimizer, _ = recipe.optimiser(net, pretrained=False)
        grid = SIZE // 32
        targets = (torch.zeros(batch, 98, grid, grid), torch.rand(batch, 98, grid, grid),
                   torch.rand(batch, 98, grid, grid), torch.rand(batch, 980, grid, grid),
                   torch.rand(batch, 980, grid, grid))
        targets[0][:, :, 3, 4] = 1
        targets = tuple(t.to(device) for t in targets)

        def loss(outputs):
            return recipe.loss(outputs, targets, 10)[0]
    else:
        from fabrec_bench_plugins.models.hrnet import recipe
        from fabrec_bench_plugins.models.hrnet.network import HRNetFace

        net = HRNetFace(98).to(device)
        optimizer = recipe.optimiser(net)
        heatmaps = torch.rand(batch, 98, 64, 64, device=device)

        def loss(outputs):
            return recipe.loss(outputs, heatmaps)[0]
    net.train()
    x = torch.randn(batch, 3, SIZE, SIZE, device=device)
    autocast = autocast_for(device, precision)

    def step():
        with autocast():
            outputs = net(x)
        value = loss(tuple(o.float() for o in outputs) if isinstance(outputs, tuple) else outputs.float())
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
    return batch / timed(step, device, 1, iters)


TRAINED = ("pipnet-r18", "hrnet-w18")  # trained here by their own recipes


def dlib_row(iters: int) -> float:
    """Faces per second of dlib's bundled 68-point predictor on 256-px grey face images."""
    import dlib

    from fabrec_bench_plugins.models.dlib_ert import bundled_predictor

    predictor = dlib.shape_predictor(str(bundled_predictor()))
    image = np.random.default_rng(0).integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)
    rect = dlib.rectangle(32, 32, 224, 224)
    faces = 64
    seconds = timed(lambda: [predictor(image, rect) for _ in range(faces)], "cpu", 1, iters)
    return faces / seconds


def mean_shape_row(iters: int) -> float:
    from fabrec_bench_plugins.models.mean_shape import from_box_frame

    shape = np.random.default_rng(0).uniform(0, 1, (98, 2))
    boxes = np.tile([10.0, 20.0, 200.0, 230.0], (1024, 1))
    return len(boxes) / timed(lambda: from_box_frame(shape, boxes), "cpu", 1, iters)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batch-size", type=int, default=None, help="default 64 on CUDA, 8 on CPU")
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--models", default=",".join([*NEURAL, "dlib-ert", "mean-shape"]))
    args = parser.parse_args()
    device = args.device
    batch = args.batch_size or (64 if device.startswith("cuda") else 8)
    torch.manual_seed(0)
    if device.startswith("cuda"):
        bf16 = torch.cuda.is_bf16_supported()
        where = torch.cuda.get_device_name(torch.device(device))
    else:
        bf16, _ = native_cpu_bf16()
        where = processor()
    precisions = ["fp32", "bf16"] if bf16 else ["fp32"]
    print(f"device: {device} ({where}); torch {torch.__version__}, {torch.get_num_threads()} threads; "
          f"bf16 {'native: timed' if bf16 else 'not native here: not timed'}; batch {batch}")
    header = f"{'model':12s} {'GFLOP/img':>9s} " + " ".join(f"{p + ' img/s':>11s}" for p in precisions)
    print(header)
    print("-" * len(header))
    for name in args.models.split(","):
        if name in NEURAL:
            rates, work = [], 0.0
            for precision in precisions:
                rate, work = neural_row(name, NEURAL[name], device, precision, batch, args.iters)
                rates.append(rate)
            print(f"{name:12s} {work:9.2f} " + " ".join(f"{r:11.1f}" for r in rates))
        elif name == "dlib-ert":
            try:
                rate = dlib_row(args.iters)
            except Exception as e:  # dlib is an optional extra
                print(f"{name:12s} not timed: {type(e).__name__}: {str(e).splitlines()[0]}")
                continue
            print(f"{name:12s} {'–':>9s} {rate:11.1f}  (CPU, regression trees: fp32 only)")
        elif name == "mean-shape":
            print(f"{name:12s} {0.0:9.2f} {mean_shape_row(args.iters):11.0f}  (reads no pixels)")
        else:
            raise SystemExit(f"unknown model {name!r}; choose from {args.models}")
    trained = [n for n in args.models.split(",") if n in TRAINED]
    if trained:
        print(f"training (its recipe's loss and optimiser, batch {batch}): " + " ".join(
            f"{p + ' img/s':>11s}" for p in precisions))
        for name in trained:
            rates = [training_row(name, device, p, batch, args.iters) for p in precisions]
            print(f"{name + ' train':18s} " + " ".join(f"{r:11.1f}" for r in rates))


if __name__ == "__main__":
    main()
