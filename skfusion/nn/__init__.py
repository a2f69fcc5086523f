"""Torch modules only (no scikit-learn): encoders, fusion, the network."""
