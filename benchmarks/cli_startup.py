"""How long `fabrec-bench` takes to start, and what it imports on the way.

    python benchmarks/cli_startup.py [--runs 7] [COMMAND ...]

Runs `fabrec-bench --help` (or the given command) in fresh processes and prints the median wall time, and
whether torch and OpenCV were imported (they should not be for --help, plugins, datasets, models,
leaderboard and score).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

PROBE = """
import sys
from fabrec_bench_runners.cli import cli
try:
    cli(sys.argv[1:], prog_name="fabrec-bench")
except SystemExit:
    pass
finally:
    print("IMPORTED", "torch" in sys.modules, "cv2" in sys.modules, file=sys.stderr)
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("command", nargs="*", default=["--help"])
    args = parser.parse_args()
    times = []
    for _ in range(args.runs):
        start = time.perf_counter()
        result = subprocess.run([sys.executable, "-c", PROBE, *args.command], capture_output=True, text=True)
        times.append(time.perf_counter() - start)
    line = next((ln for ln in result.stderr.splitlines() if ln.startswith("IMPORTED")), "IMPORTED ? ?")
    _, torch, cv2 = line.split()
    print(f"fabrec-bench {' '.join(args.command)}: median {statistics.median(times):.3f} s over {args.runs} runs "
          f"(min {min(times):.3f} s); imported torch: {torch}, OpenCV: {cv2}")


if __name__ == "__main__":
    main()
