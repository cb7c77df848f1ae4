"""The DSA family: other ways to choose the k keys, each a score function and a pick function.

One folder, one word ("member") for each way:
  selectors.py  the members' score and pick functions for pipeline.select_keys, and the layer overlap
  in_model.py   each member as the host model's `select` plug-in (`Member`, `member_select`)
  measure.py    recall, perplexity and indexer FLOPs of each member on held-out text
  cli.py        `python -m dsa_core.evaluate FILE... --member NAME[,NAME...]` and its table
  cost.py       each member in the one cost model (`member_cost`)
  on_text.py    one text through every member, for the Family page and notebook 08
  figures.py    the family's figures (arrays in, Plotly out; no torch)
  train.py      stage 1 for a member's own indexer (pooled keys, window and sink, MSA blocks, shared sources)
  presets.py    the real systems' configurations next to ours, and the weights their members use
A new member is a score function and a pick function in selectors.py and a name in in_model.py.
Sources and measurements: docs/family.md.
"""
