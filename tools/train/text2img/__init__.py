"""The text-to-image model models/fashion-text-16 (Emu3 architecture): captions, tokenizer, training, export,
sampling. README.md in this folder describes the pipeline."""
