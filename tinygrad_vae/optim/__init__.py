"""Optimizers with PyTorch's update rules and parameter groups, gradient clipping, learning-rate schedulers.

    optimizer.py     Optimizer: param groups, per-parameter state, step loop, state dicts
    sgd.py           SGD (momentum, dampening, nesterov, weight decay, maximize)
    adam.py          Adam, AdamW (amsgrad)
    clip.py          clip_grad_norm_, clip_grad_value_
"""

from tinygrad_vae.optim.adam import Adam, AdamW
from tinygrad_vae.optim.clip import clip_grad_norm_, clip_grad_value_
from tinygrad_vae.optim.optimizer import Optimizer
from tinygrad_vae.optim.sgd import SGD

__all__ = ["SGD", "Adam", "AdamW", "Optimizer", "clip_grad_norm_", "clip_grad_value_"]
