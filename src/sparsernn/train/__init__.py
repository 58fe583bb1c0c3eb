"""Training: a small loop with clipping, evaluation, callbacks and NaN detection."""

from sparsernn.train.callbacks import checkpoint, early_stopping, log_to
from sparsernn.train.loop import Callback, TrainingDiverged, evaluate, fit, make_optimizer, train_epoch

__all__ = [
    "Callback",
    "TrainingDiverged",
    "checkpoint",
    "early_stopping",
    "evaluate",
    "fit",
    "log_to",
    "make_optimizer",
    "train_epoch",
]
