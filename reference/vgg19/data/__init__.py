"""Data shipped with the reference VGG19: class names and the procedural sample images (see make_images)."""
