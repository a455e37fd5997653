// The text-to-image model families ZipAR was evaluated on besides LlamaGen: Emu3 and Chameleon (the base of
// Lumina-mGPT). Both are decoder-only transformers over one vocabulary of text and image tokens, with images
// laid out in raster order and an end-of-row token after each row. This target holds their forward pass,
// their Hugging Face checkpoint loading and their VQ image decoders; decoding policies stay in Decoding.
