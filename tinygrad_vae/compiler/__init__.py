"""Compile a training step: trace it once, replay it as straight-line NumPy (``tinygrad_vae.compile``)."""

from tinygrad_vae.compiler.compiled import Compiled, compile
from tinygrad_vae.compiler.tracer import TraceError

__all__ = ["Compiled", "TraceError", "compile"]
