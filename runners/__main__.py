"""`python -m fabrec_bench_runners` runs the CLI (same as the `fabrec-bench` script)."""

from fabrec_bench_runners.cli import main

main()
