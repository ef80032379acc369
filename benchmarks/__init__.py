"""Benchmarks for tracker: a seeded SYNTHETIC workload generator, an analyst's baseline, a runner.

Nothing here is imported by :mod:`tracker`.  See ``benchmarks/README.md``.
"""
