"""Built-in plugins of fabrec-bench; installed as `fabrec_bench_plugins`."""
