"""AppTest helpers: start the app with short texts, read back the Plotly figures' data.

The model is loaded once per pytest process (st.cache_resource is process-wide), so only the first
test pays for it. Texts are kept short (<= 128 tokens) to stay within the suite's time budget.
"""

import base64
import json
import pathlib

import numpy as np
from streamlit.testing.v1 import AppTest

ROOT = pathlib.Path(__file__).resolve().parents[2]
APP = str(ROOT / "app.py")
SHORT = (
    "User: My cat is called Miso and she likes tuna.\nAssistant: Miso sounds lovely! Cats often "
    "like fish.\nUser: What is my cat called, and what does she like?\nAssistant: Your cat is called"
)


def make_app(text=SHORT, max_tokens=128, k=16, page=None, **state):
    at = AppTest.from_file(APP, default_timeout=120)
    at.session_state["sample"] = "Your text"
    at.session_state["text"] = text
    at.session_state["max_tokens"] = max_tokens
    at.session_state["k"] = k
    for key, value in state.items():
        at.session_state[key] = value
    if page:
        at.switch_page(page)  # start on that page: the Explore page (and its model run) is skipped
    return at.run()


def decode(v):
    """A Plotly data field as numpy (plotly >= 6 sends numpy arrays as {'dtype','bdata','shape'})."""
    if isinstance(v, dict) and "bdata" in v:
        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=v["dtype"])
        return a.reshape([int(s) for s in str(v["shape"]).split(",")]) if "shape" in v else a
    return np.asarray(v)


def figures(at):
    """Every Plotly chart on the page as its figure JSON (dict with 'data' and 'layout')."""
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def figure_with(at, title_part=None, meta_key=None):
    for f in figures(at):
        lay = f["layout"]
        if meta_key and meta_key in (lay.get("meta") or {}):
            return f
        texts = [a.get("text", "") for a in lay.get("annotations", [])] + [
            str((lay.get("title") or {}).get("text"))
        ]
        if title_part and any(title_part in t for t in texts):
            return f
    raise AssertionError(f"no figure with {title_part or meta_key}")


def no_errors(at):
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def tiny_hf_folder(folder, n_layers=2, n_heads=4):
    """A random Llama-family model saved as a Hugging Face folder (config.json, model.safetensors,
    tokenizer.json), written without transformers: a non-SmolLM2 model for the sidebar's folder option."""
    import sys

    import torch
    from safetensors.torch import save_file

    from dsa_core.host.model import ModelConfig, Transformer

    sys.path.insert(0, str(ROOT / "tests" / "host"))
    import tiny

    tok = tiny.tiny_tokenizer()
    V = tok.get_vocab_size()
    torch.manual_seed(0)
    model = Transformer(
        ModelConfig(
            vocab_size=V,
            dim=64,
            n_layers=n_layers,
            n_heads=n_heads,
            n_kv_heads=2,
            head_dim=16,
            hidden_dim=96,
            max_seq_len=256,
            tie_embeddings=False,
        )
    )
    folder.mkdir(parents=True, exist_ok=True)
    save_file(
        {f"model.{k}" if k != "lm_head.weight" else k: v.contiguous() for k, v in model.state_dict().items()},
        str(folder / "model.safetensors"),
    )
    (folder / "config.json").write_text(
        json.dumps(
            {
                "architectures": ["LlamaForCausalLM"],
                "vocab_size": V,
                "hidden_size": 64,
                "num_hidden_layers": n_layers,
                "num_attention_heads": n_heads,
                "num_key_value_heads": 2,
                "intermediate_size": 96,
                "max_position_embeddings": 256,
                "rms_norm_eps": 1e-6,
                "rope_theta": 10000.0,
                "tie_word_embeddings": False,
            }
        )
    )
    tok.save(str(folder / "tokenizer.json"))
    return folder
