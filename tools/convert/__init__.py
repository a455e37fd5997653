"""Weight conversion and export: official LlamaGen checkpoints and our training checkpoints -> bundles."""
