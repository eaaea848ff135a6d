"""Instruments for looking inside the engine, attached through its one seam (``core/observers.py``).

    anomaly.py  detect_anomaly: stop at the first NaN or inf, naming the op and the line that made it
    trace.py    trace_backward: the backward pass node by node, with every gradient
    graph.py    to_dot / render_png: draw the recorded graph
"""

from tinygrad_vae.instruments.anomaly import AnomalyError, detect_anomaly
from tinygrad_vae.instruments.trace import BackwardStep, node_names, trace_backward

__all__ = ["AnomalyError", "BackwardStep", "detect_anomaly", "node_names", "trace_backward"]
