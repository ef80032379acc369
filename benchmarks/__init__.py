"""Benchmarks for tracker: a seeded SYNTHETIC workload generator, two competent peers, a runner.

Nothing here is imported by :mod:`tracker`.  See ``benchmarks/README.md``.
"""
