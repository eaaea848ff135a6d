"""Compile a training step: trace it once, replay it as straight-line NumPy."""
