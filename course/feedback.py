"""The verdict every exercise checker returns: correct, wrong (with what is wrong) or not answered."""

import sys
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Feedback:
    """A checker's verdict. Truthy only when correct; shows as one line in a notebook."""

    status: str  # "correct" | "wrong" | "unanswered"
    message: str
    exercise: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "correct"

    def __bool__(self) -> bool:
        return self.ok

    def __repr__(self) -> str:
        mark = {"correct": "✓", "wrong": "✗", "unanswered": "…"}[self.status]
        head = f"{self.exercise}: " if self.exercise else ""
        return f"{mark} {head}{self.message}"

    __str__ = __repr__


def correct(exercise, message="correct."):
    return Feedback("correct", message, exercise)


def wrong(exercise, message):
    return Feedback("wrong", message, exercise)


def not_answered(exercise):
    return Feedback(
        "unanswered", "not answered yet: replace `None` with your answer and run again.", exercise
    )


def as_tensor(answer, dtype=torch.float32):
    """The answer as a tensor (accepts lists, numpy arrays and tensors); None if it cannot be read."""
    if isinstance(answer, (str, bytes)):
        return None
    try:
        if isinstance(answer, torch.Tensor):
            return answer.detach().to(dtype)
        return torch.as_tensor(answer, dtype=dtype)
    except (TypeError, ValueError, RuntimeError):
        return None


def as_number(answer):
    """The answer as a float (accepts ints, floats, 0-d tensors); None if it is not one number."""
    if isinstance(answer, (bool, str, bytes)):  # "500500" is text, not a number
        return None
    try:
        return float(answer.item() if isinstance(answer, torch.Tensor) else answer)
    except (TypeError, ValueError, RuntimeError):
        return None


def read_number(name, answer, expected="one number", hint=""):
    """(the answer as a float, None), or (None, the verdict to return): not answered, or not one number."""
    if answer is None:
        return None, not_answered(name)
    x = as_number(answer)
    if x is None:
        return None, wrong(name, f"expected {expected}, got {type(answer).__name__}{hint}.")
    return x, None


def read_pair(name, answer, names):
    """((a, b), None) for an answer of two numbers, else ((None, None), the verdict to return).
    names: the pair in words, 'a, b'."""
    if answer is None:
        return (None, None), not_answered(name)
    try:
        a, b = (as_number(x) for x in answer)
    except (TypeError, ValueError):
        return (None, None), wrong(name, f"expected a pair ({names}).")
    if a is None or b is None:
        return (None, None), wrong(name, f"expected a pair of two numbers ({names}).")
    return (a, b), None


def close(a, b, rel=1e-3):
    """True if two numbers agree to a relative tolerance."""
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-12)


def same_tensor(a, b, atol=1e-4, rtol=1e-4):
    """True if two tensors have the same shape and values (inf and -inf must match exactly)."""
    return a.shape == b.shape and torch.allclose(a, b, atol=atol, rtol=rtol, equal_nan=True)


def run_guarded(fn, args, forbidden):
    """Call fn(*args) and report which forbidden function, if any, ran inside it.

    `forbidden` maps a name to a Python function (its code object is watched), a builtin (watched
    through the profiler's c_call events) or a string: any builtin or tensor method of that name
    (e.g. "topk" catches both `torch.topk(x, k)` and `x.topk(k)`). Returns (result, name_or_None)."""
    codes = {f.__code__: n for n, f in forbidden.items() if hasattr(f, "__code__")}
    builtins = {
        id(f): n for n, f in forbidden.items() if not hasattr(f, "__code__") and not isinstance(f, str)
    }
    by_name = {f: n for n, f in forbidden.items() if isinstance(f, str)}  # any builtin of that name
    used = []

    def watch(frame, event, arg):
        if event == "call" and frame.f_code in codes:
            used.append(codes[frame.f_code])
        elif event == "c_call" and id(arg) in builtins:
            used.append(builtins[id(arg)])
        elif event == "c_call" and getattr(arg, "__name__", None) in by_name:
            used.append(by_name[arg.__name__])

    old = sys.getprofile()
    sys.setprofile(watch)
    try:
        out = fn(*args)
    finally:
        sys.setprofile(old)
    return out, (used[0] if used else None)


def tensor_shapes(fn, args):
    """Call fn(*args) and record the shape of every tensor that a torch function, a tensor method or
    an indexing returned inside it (through torch's function mode). Returns (result, [shapes])."""
    from torch.overrides import TorchFunctionMode

    shapes = []

    class _Shapes(TorchFunctionMode):
        def __torch_function__(self, func, types, args=(), kwargs=None):
            out = func(*args, **(kwargs or {}))
            for x in out if isinstance(out, (tuple, list)) else (out,):
                if isinstance(x, torch.Tensor):
                    shapes.append(tuple(x.shape))
            return out

    with _Shapes():
        out = fn(*args)
    return out, shapes


def _clone(a):
    return a.clone() if isinstance(a, torch.Tensor) else a


def check_function(name, fn, cases, forbidden, signature, done, atol=1e-4):
    """Run a student's function on the checker's own cases; name the first mistake it makes.

    Each case is a dict: `args` (a tuple), `right` (the expected tensor), `label` (the case in words)
    and `mistakes` ({message: the tensor that mistake gives}). The student's function may not call
    any function in `forbidden` (the library function the exercise asks them to write)."""
    if fn is None:
        return not_answered(name)
    if not callable(fn):
        return wrong(name, f"expected a function {signature}, got {type(fn).__name__}.")
    for case in cases:
        label = case["label"]
        try:
            out, used = run_guarded(fn, tuple(_clone(a) for a in case["args"]), forbidden)
        except Exception as e:  # the student's code: report it, never crash the notebook
            return wrong(name, f"your function raised {type(e).__name__}: {e} ({label}).")
        if used:
            return wrong(
                name,
                f"your function calls `{used}`, the very thing this exercise asks you to write: "
                "write the steps yourself (the check compares with it).",
            )
        x = as_tensor(out)
        right = case["right"]
        if x is None or tuple(x.shape) != tuple(right.shape):
            shape = None if x is None else tuple(x.shape)
            return wrong(name, f"{label}: it returned shape {shape}, expected {tuple(right.shape)}.")
        if same_tensor(x, right, atol=atol, rtol=atol):
            continue
        for message, variant in case["mistakes"].items():
            if same_tensor(x, variant.float(), atol=atol, rtol=atol):
                return wrong(name, f"{label}: {message}")
        if torch.isnan(x).any() and not torch.isnan(right).any():
            return wrong(
                name,
                f"{label}: your result holds NaN. " + case.get("nan", "Look for 0·log 0 or −inf − (−inf)."),
            )
        diff = (x - right).abs().nan_to_num(nan=float("inf"))
        diff[(x == right)] = 0  # equal infinities
        i = tuple(int(j) for j in torch.unravel_index(diff.argmax(), diff.shape))
        return wrong(
            name,
            f"{label}: largest difference at index {list(i)}: {float(x[i]):.4f} instead of "
            f"{float(right[i]):.4f}.",
        )
    return correct(name, done)
