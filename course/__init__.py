"""Self-checks for the classroom notebooks (`notebooks/NN_*.ipynb`), one module per notebook.

Each `check_*` takes the student's answer and returns a `Feedback`: it shows a one-line verdict in the
notebook and is truthy only when the answer is right. `None` (the placeholder in the student copy)
gives "not answered yet" and never raises, so the student notebooks run top to bottom in CI; the
instructor copies in `notebooks/solutions/` assert that every check passes.

    from course.checks import nb03 as ex
    ex.check_select_row(answer)          # -> ✗ row 3 selects position 5, which is in the future
"""

from course.feedback import Feedback, correct, not_answered, wrong
from course.notebook import setup_notebook

__all__ = ["Feedback", "correct", "not_answered", "wrong", "setup_notebook"]
