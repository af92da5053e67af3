"""Plain-text helpers shared by every report (console, submission page, cohort page, CSV).

A diagnosis or message may hold several findings, one per line (harness.root_cause puts "this probably
follows from X ... fix that first" on a line of its own before the kind's own diagnosis). HTML collapses
the newline into a space and runs the two together, so readers split text into ``parts`` and show each
one separately. Long text is shortened at a word boundary with an ellipsis (``shorten``), never cut inside
a word, and the page keeps the full text reachable (a title attribute or the check's section).

Runs on Python 3.9 with the standard library only (the student kit carries harness/report).
"""
from __future__ import annotations

ELLIPSIS = "…"
SEPARATOR = " | "          # between parts where only one line fits (a CSV cell, a title attribute)


def parts(text) -> list:
    """The findings in ``text``, one per non-blank line, stripped; [] for None or blank text."""
    if not text:
        return []
    return [line.strip() for line in str(text).splitlines() if line.strip()]


def one_line(text, separator: str = SEPARATOR) -> str:
    """``text``'s parts on one line, with a visible separator between them."""
    return separator.join(parts(text))


def shorten(text, limit: int = 160) -> str:
    """``text`` on one line, at most ``limit`` characters: cut at the last space (or after the last
    punctuation) before the limit, with an ellipsis; a single word longer than the limit is cut inside
    it only when there is no boundary in its second half."""
    flat = one_line(text)
    if len(flat) <= limit:
        return flat
    room = max(limit - len(ELLIPSIS), 1)
    head = flat[:room + 1]                # one more: a space right after the limit is a boundary too
    cut = max(head.rfind(" "), head.rfind(","), head.rfind(";"))
    if cut < room // 2:                   # no boundary in sight (a long path, a hash): cut it
        cut = room
    return flat[:cut].rstrip(" ,;:|") + ELLIPSIS
