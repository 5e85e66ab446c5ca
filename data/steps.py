"""Solution text: steps and the final answer.

The paper splits solutions into steps with "a simple newline splitting procedure": every
non-empty line is a step (MATH solutions often separate steps with blank lines). The answer is
the content of the last `\\boxed{...}` (or `\\fbox{...}`), braces matched so that
`\\boxed{\\frac{1}{2}}` gives `\\frac{1}{2}`. The same code serves MATH and the toy world.
"""

from __future__ import annotations

import re

# `\boxed{`, `\fbox{`, or the rarer `\boxed 5` that a few MATH solutions use.
_BOXED = re.compile(r"\\(?:boxed|fbox)\b(\s*)")


def split_steps(text: str) -> list[str]:
    """Non-empty lines, trailing whitespace stripped (`\\r` included)."""
    return [line.rstrip() for line in text.split("\n") if line.strip()]


def extract_answer(text: str) -> str | None:
    """Content of the last `\\boxed{}`/`\\fbox{}`; None if there is none or it is unclosed."""
    matches = list(_BOXED.finditer(text))
    if not matches:
        return None
    last = matches[-1]
    start = last.end()
    if text.startswith("{", start):
        return _braced(text, start)
    if last.group(1):  # `\boxed 5`: the answer runs to the next space or `$`
        bare = re.match(r"[^\s$]+", text[start:])
        return bare.group(0) if bare else None
    return None


def _braced(text: str, open_at: int) -> str | None:
    """Content of the group opened at `open_at`; escaped `\\{`, `\\}` do not count."""
    depth, i = 0, open_at
    while i < len(text):
        char = text[i]
        if char == "\\":
            i += 2
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return text[open_at + 1 : i]
        i += 1
    return None
