"""Benchmarks against PyTorch (our reference code and the official LlamaGen / ZipAR code) and their reports."""
