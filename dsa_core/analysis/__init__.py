"""One text through the model, turned into arrays for figures.

This folder routes tensors between `dsa_core` functions for the app and notebooks: `trace.py` runs a
text once and keeps what each layer's attention step saw; `views.py`, `ranked.py` and
`walkthrough.py` turn those records into the numbers a page draws. No figures here (see `viz/`).
"""
