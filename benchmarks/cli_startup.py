"""How long `fabrec-bench` takes to start, against a bare Python, and what heavy modules it imports on the way.

    python benchmarks/cli_startup.py [--runs 7] [COMMAND ...]

Runs `fabrec-bench --help` (or the given command) and `python -c pass` alternately in fresh processes, prints
each median wall time and their ratio (measured in this one run, so the machine's speed divides out), and
which of NumPy, torch, OpenCV, pandas, matplotlib and rich.progress the command imported (none, for any
--help).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

HEAVY = ("numpy", "torch", "cv2", "pandas", "matplotlib", "rich.progress")
PROBE = f"""
import sys
from fabrec_bench_runners.cli import cli
try:
    cli(sys.argv[1:], prog_name="fabrec-bench")
except SystemExit:
    pass
finally:
    print("IMPORTED", *[m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr)
"""


def timed(argv: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(argv, capture_output=True, text=True)
    return time.perf_counter() - start, result.stderr


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("command", nargs="*", default=["--help"])
    args = parser.parse_args()
    ours, bare, stderr = [], [], ""
    for _ in range(args.runs):
        seconds, stderr = timed([sys.executable, "-c", PROBE, *args.command])
        ours.append(seconds)
        bare.append(timed([sys.executable, "-c", "pass"])[0])
    line = next((ln for ln in stderr.splitlines() if ln.startswith("IMPORTED")), "IMPORTED ?")
    heavy = line.split()[1:]
    median, base = statistics.median(ours), statistics.median(bare)
    print(f"fabrec-bench {' '.join(args.command)}: median {median:.3f} s over {args.runs} runs (min {min(ours):.3f} s); "
          f"python -c pass: {base:.3f} s; {median / base:.1f} x a bare `python -c pass`")
    print(f"imported {', '.join(heavy)}" if heavy else f"imported none of {', '.join(HEAVY)}")


if __name__ == "__main__":
    main()
