"""Benchmarks: peak allocator memory, step times, input and inference throughput, the
non-learned baselines (`python -m brats_rev.bench.<tool>`; README.md lists them)."""
