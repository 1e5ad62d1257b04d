"""pylts benchmarks: `python3 tasks.py bench` (full) or `python3 tasks.py bench --quick`."""
