"""e3lab: an experiment framework for E(3)-equivariant neural networks.

The equivariant core (:mod:`e3lab.o3`, :mod:`e3lab.math`, :mod:`e3lab.nn`) follows e3nn's names,
conventions and numbers; :mod:`e3lab.graph` and :mod:`e3lab.signal` build geometric graphs and
spherical signals; :mod:`e3lab.data`, :mod:`e3lab.models` and :mod:`e3lab.callbacks` are the
Lightning pieces that Hydra configs in ``conf/`` assemble.
"""

__version__ = "0.1.0"
