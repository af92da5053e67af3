"""Tokenise submissions' source for the similarity report: the program harness.batch.similarity runs in a bounded
subprocess (harness.bounded), never in the grader's process.

    stdin   {"copydetect": "/site-packages/copydetect", "documents": ["<source text>", ...]}
    stdout  {"documents": [{"filtered": "<normalised code>", "offsets": [i0, o0, i1, o1, ...]}, ...]}

Pygments' lexer, through copydetect's ``filter_code``: names become V, F and O, strings S, comments and
whitespace go, and ``offsets`` maps the normalised text back to the source (copydetect's (N, 2) array,
flattened). Lexing is what a hostile source can make slow or large (16 MB of ordinary-looking Python took
90 s and 2.6 GB): here it costs this process, which the kernel stops at its limits. Hashing and comparing the
normalised text are linear and stay in the report's process (their hashes are Python's, salted per process).

copydetect's package ``__init__`` imports its report machinery (matplotlib, tqdm): only its ``utils`` module
is loaded, under a package object of its own. Nothing of the submission is executed.
"""
from __future__ import annotations

import json
import sys
import types


def main() -> None:
    request = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    package = types.ModuleType("copydetect")
    package.__path__ = [request["copydetect"]]
    sys.modules["copydetect"] = package
    from copydetect.utils import filter_code
    import logging
    logging.disable(logging.CRITICAL)          # "not tokenized" warnings: the answer says it by its offsets
    documents = []
    for text in request["documents"]:
        filtered, offsets = filter_code(text, "submission.py", "python")
        documents.append({"filtered": filtered, "offsets": [int(value) for value in offsets.ravel()]})
    sys.stdout.write(json.dumps({"documents": documents}))


if __name__ == "__main__":
    main()
