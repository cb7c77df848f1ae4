"""The verdict every exercise checker returns: correct, wrong (with what is wrong) or not answered."""

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
    try:
        if isinstance(answer, torch.Tensor):
            return answer.detach().to(dtype)
        return torch.as_tensor(answer, dtype=dtype)
    except (TypeError, ValueError, RuntimeError):
        return None


def as_number(answer):
    """The answer as a float (accepts ints, floats, 0-d tensors); None if it is not one number."""
    if isinstance(answer, bool):
        return None
    try:
        return float(answer.item() if isinstance(answer, torch.Tensor) else answer)
    except (TypeError, ValueError, RuntimeError):
        return None


def close(a, b, rel=1e-3):
    """True if two numbers agree to a relative tolerance."""
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-12)


def same_tensor(a, b, atol=1e-4, rtol=1e-4):
    """True if two tensors have the same shape and values (inf and -inf must match exactly)."""
    return a.shape == b.shape and torch.allclose(a, b, atol=atol, rtol=rtol, equal_nan=True)
