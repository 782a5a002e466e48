"""The fit/evaluate/predict engine: data preparation, the step functions and the epoch loops."""
