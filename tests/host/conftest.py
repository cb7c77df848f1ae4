import pathlib
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).parent))  # tests/host/tiny.py


@pytest.fixture(scope="session")
def smollm():
    """The embedded SmolLM2 (converted once into the user cache, then ~0.3 s per session)."""
    from dsa_core.host.load import load_model

    return load_model()
