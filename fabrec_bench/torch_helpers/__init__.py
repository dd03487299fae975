"""torch helpers for models that train with torch: face-crop datasets and loaders (torchdata) and
multi-process training under torchrun (distributed)."""
