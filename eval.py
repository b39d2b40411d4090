"""Shim: ``python eval.py ckpt_path=...`` runs :func:`e3lab.eval.main`."""

from e3lab.eval import main

if __name__ == "__main__":
    main()
