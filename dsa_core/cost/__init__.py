"""What DSA saves: pure arithmetic, except the files whose names say timing.

`flops.py` (the one token-pair, FLOP and byte model), `paper.py` (the paper's Figure 3, fitted),
`prices.py` (the API price calculator), `timing.py` (measure on this machine:
`python -m dsa_core.cost.timing`), `report.py` (measured next to predicted).
"""
