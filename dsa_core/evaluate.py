"""`python -m dsa_core.evaluate FILE... --k K [--json]`: the documented command (body: train/evaluate.py)."""

from dsa_core.train.evaluate import main

if __name__ == "__main__":
    main()
