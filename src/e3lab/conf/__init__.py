"""Hydra configs shipped with e3lab (``config_path="conf"`` of e3lab.train / e3lab.eval)."""
