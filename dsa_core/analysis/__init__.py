"""One text through the model, turned into arrays for figures: the stages of its journey, in order.

  trace.py    run the model once; what each requested layer's attention step saw (LayerTrace), index
              scores of long texts read back by rows, progress of a run
  rank.py     every selection ranked once per text, so any budget k is a slice
  numbers.py  one layer at one k: picks, recall, overlap, counts, sparse attention; one query's numbers
  maps.py     the six aligned maps, pooled or zoomed from the picks (no T x T map per k)
  effects.py  what DSA changes downstream: the layer's output, the next-token distribution
No figures here (see viz/); readers of recorded results live with the pages (lessons/records.py).
"""
