"""A Lambda-like process for the handler tests: imports ``cloudshelf.aws_lambda`` once (the cold
start) and serves events read one JSON line at a time from stdin, as the Lambda runtime hands
events to one process in turn. Each answer is one JSON line on the original stdout; anything the
app prints (EMF lines, logs) goes to stderr, so it cannot mix with the answers.

Line in: ``{"handler": "handler", "event": {...}}``; line out: ``{"response": ...}`` or
``{"error": "<type>: <message>"}`` (what Lambda would record as a failed invocation).
"""

from __future__ import annotations

import json
import os
import sys


def main() -> None:
    answers = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # the app's stdout (EMF metric lines) joins its stderr
    sys.stdout = sys.stderr
    import cloudshelf.aws_lambda as entry_points

    answers.write(json.dumps({"ready": True}) + "\n")
    for line in sys.stdin:
        request = json.loads(line)
        try:
            response = getattr(entry_points, request["handler"])(request["event"], None)
        except Exception as error:  # noqa: BLE001  (reported to the test, as Lambda reports it)
            answers.write(json.dumps({"error": f"{type(error).__name__}: {error}"}) + "\n")
        else:
            answers.write(json.dumps({"response": response}) + "\n")


if __name__ == "__main__":
    main()
