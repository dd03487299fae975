"""Synthetic faces with exact landmarks, written in the official dataset layouts (tests and the demo)."""
