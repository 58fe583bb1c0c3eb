"""Training: a small loop with clipping, evaluation, callbacks and NaN detection."""

from sparsernn.train.loop import TrainingDiverged, evaluate, fit, make_optimizer, train_epoch

__all__ = ["TrainingDiverged", "evaluate", "fit", "make_optimizer", "train_epoch"]
