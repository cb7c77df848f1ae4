"""What DSA saves: pure arithmetic, except the files whose names say timing.

`shapes.py` (the numbers that decide attention cost, and the presets), `flops.py` (the one token-pair,
FLOP and byte model, with the crossovers), `paper.py` (the paper's Figure 3, fitted), `prices.py` (the
API price calculator); the DSA family's members in the same model are in dsa_core/family/cost.py;
measured on this machine: `timing.py` (`python -m dsa_core.cost.timing`) with its `stopwatch.py`, then
`predict.py` (measured next to predicted) and `report.py` (the result's JSON file and its table).
"""
