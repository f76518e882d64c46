"""Performance benchmarks: ratios against baselines measured in the same run (never pass/fail)."""
