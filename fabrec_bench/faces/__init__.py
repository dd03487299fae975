"""Faces as models see them: the crop rules and their matrices (crops), images and the crop cache (facedata),
training augmentation (augment) and where a face's box comes from (boxes)."""
