"""The course's models. All take a batch (B, T) or (B, T, 1) and return logits (B, C)."""

from ecg_course.models.lstm import LSTMClassifier, LSTMFromScratch, copy_lstm_weights
from ecg_course.models.lstm_fcn import LSTMFCN

__all__ = ["LSTMFCN", "LSTMClassifier", "LSTMFromScratch", "copy_lstm_weights"]
