"""Training: the class-conditional fashion-16 model (train_fashion) and the text-to-image model (text2img)."""
