"""``python -m e3lab.symmetry experiment=square_to_rect``: print the symmetry report of an experiment's task.

A shim: the command composes Hydra configs, so it lives with the mains in :mod:`e3lab.analyze`.
"""

import sys

from e3lab.analyze import main

if __name__ == "__main__":
    sys.exit(main())
