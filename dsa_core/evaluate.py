"""`python -m dsa_core.evaluate FILE... --k K [--json]`: the documented command (body: train/evaluate.py).

With `--variant NAME[,NAME...]` it measures the DSA family instead (body: train/variants_cli.py,
measured by train/variants.py).
"""

import sys

from dsa_core.train.evaluate import main

if __name__ == "__main__":
    if any(a.split("=")[0] == "--variant" for a in sys.argv[1:]):
        from dsa_core.train.variants_cli import main
    main()
