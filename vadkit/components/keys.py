"""Names shared by the contracts and the torch-free runtime."""

from __future__ import annotations

#: Key of the score stream of a task that does not use an error measure (e.g. PRP's probability).
SCORE_KEY = "score"
