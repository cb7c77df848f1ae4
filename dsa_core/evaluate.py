"""`python -m dsa_core.evaluate FILE... --k K [--json]`: the documented command (body: train/evaluate.py).

With `--member NAME[,NAME...]` it measures the DSA family instead (body: family/cli.py, measured by
family/measure.py); `--variant` is the same flag under its earlier name.
"""

import sys

from dsa_core.train.evaluate import main

FAMILY_FLAGS = ("--member", "--variant")


def family_help():
    """The lines `--help` adds about the family command: the flag and every member name."""
    from dsa_core.family.cli import HELP

    return (
        "\nThe DSA family instead: --member NAME[,NAME...] with NAME among " + HELP + ".\n"
        "Its own flags: python -m dsa_core.evaluate FILE --member token --help"
    )


if __name__ == "__main__":
    args = sys.argv[1:]
    if any(a.split("=")[0] in FAMILY_FLAGS for a in args):
        from dsa_core.family.cli import main as family_main

        family_main()
    elif any(a in ("-h", "--help") for a in args):
        try:
            main()  # prints the evaluation's help and exits
        finally:
            print(family_help())
    else:
        main()
