"""Fixtures of the AppTest suite (helpers live in apphelp.py, importable by name from the tests)."""

import pytest
from apphelp import make_app


@pytest.fixture
def app():
    return make_app()
