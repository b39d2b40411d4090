"""Shim: ``python train.py experiment=square_to_rect`` runs :func:`e3lab.train.main`."""

from e3lab.train import main

if __name__ == "__main__":
    main()
