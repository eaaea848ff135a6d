"""Optimizers with PyTorch's update rules and parameter groups, gradient clipping, learning-rate schedulers.

    optimizer.py     Optimizer: param groups, per-parameter state, step loop, state dicts
    sgd.py           SGD (momentum, dampening, nesterov, weight decay, maximize)
    adam.py          Adam, AdamW (amsgrad)
    rmsprop.py       RMSprop (momentum, centered)
    adagrad.py       Adagrad (lr_decay, initial_accumulator_value)
    clip.py          clip_grad_norm_, clip_grad_value_
    lr_scheduler.py  StepLR, MultiStepLR, ExponentialLR, CosineAnnealingLR, LinearLR, LambdaLR, OneCycleLR,
                     ReduceLROnPlateau
"""

from tinygrad_vae.optim import lr_scheduler
from tinygrad_vae.optim.adagrad import Adagrad
from tinygrad_vae.optim.adam import Adam, AdamW
from tinygrad_vae.optim.clip import clip_grad_norm_, clip_grad_value_
from tinygrad_vae.optim.optimizer import Optimizer
from tinygrad_vae.optim.rmsprop import RMSprop
from tinygrad_vae.optim.sgd import SGD

__all__ = ["SGD", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "clip_grad_norm_", "clip_grad_value_",
           "lr_scheduler"]
