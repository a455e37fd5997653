"""Evaluation: quality tables (docs/quality*.md), the Fashion-MNIST judge, quick checks and the model cards."""
