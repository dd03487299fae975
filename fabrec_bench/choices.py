"""Fixed choices that command-line options offer, kept apart from the modules that use them so that drawing a
command's --help imports nothing heavy (NumPy, torch)."""

from __future__ import annotations

TRAIN_SELECTIONS = ("random", "first")  # which N training faces: drawn at random with the seed, or the first N
LEADERBOARD_FORMATS = ("table", "markdown", "csv", "json", "latex", "html")
