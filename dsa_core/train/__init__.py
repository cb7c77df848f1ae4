"""Teaching the lightning indexer, and measuring how well it learned.

`losses.py` (the two KL losses), `stage1.py` (dense warm-up: only the indexer learns), `stage2.py`
(sparse training: DSA in every layer), `evaluate.py` (recall per layer, perplexity per mode; the
command is `python -m dsa_core.evaluate`). Nothing here is app- or notebook-specific.
"""
