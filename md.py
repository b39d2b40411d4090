"""Shim: ``python md.py ckpt_path=...`` runs :func:`e3lab.md.main`."""

from e3lab.md import main

if __name__ == "__main__":
    main()
