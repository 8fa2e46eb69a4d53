"""Benchmarks: peak allocator memory and step time (`python -m brats_rev.bench.memory|speed`)."""
