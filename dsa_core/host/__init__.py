"""The real language model that DSA plugs into, and everything needed to run it offline.

Nothing here is DSA-specific except the plug-in point in `model.py` (`Attention.forward` asks a
`select` function which keys each query may see). Loaders: the embedded GGUF (`gguf.py`, converted
once by `load.py`), a local Hugging Face folder (`hf.py`); the tokenizer read from the GGUF
(`tokenizer.py`); user text checked once (`text.py`); the shipped trained indexers (`indexers.py`).
"""
