"""Python tools of ZipAR-serve: training, weight conversion, reference fixtures, evaluation, benchmarks.

A package run from the repository root, e.g. `python3 -m tools.fixtures.make_fixtures`; tools/README.md lists
every script. Subpackages by purpose: convert, fixtures, train (with train/text2img), eval, bench. Shared
modules: llamagen (the PyTorch reference model), vq_random, official_ref (reference repositories), images
(PNG writing), paths (where checkpoints, caches, fixtures and models live).
"""
