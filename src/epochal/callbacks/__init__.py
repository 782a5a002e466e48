"""`keras.callbacks`: hooks into fit/evaluate/predict."""
from epochal.callbacks.callback import Callback, CallbackList
from epochal.callbacks.history import History
from epochal.callbacks.progbar_logger import ProgbarLogger

__all__ = ["Callback", "CallbackList", "History", "ProgbarLogger"]
