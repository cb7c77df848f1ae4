"""The tiny random host model and its helpers, shared with the training tests (tests/train/conftest.py):
the family's measurement runs on the same model as the indexer's training."""

import importlib.util
import pathlib

_path = pathlib.Path(__file__).resolve().parents[1] / "train" / "conftest.py"
_spec = importlib.util.spec_from_file_location("train_conftest", _path)
_train = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_train)

tiny_model, tiny_cfg, one_thread, as_loaded = (
    _train.tiny_model,
    _train.tiny_cfg,
    _train.one_thread,
    _train.as_loaded,
)
