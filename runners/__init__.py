"""The `fabrec-bench` command line; installed as `fabrec_bench_runners`. One module per command."""
