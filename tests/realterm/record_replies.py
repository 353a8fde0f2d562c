"""Record a terminal's raw answers to svdlens's probe (tui.terminal_probe.query) into a file.

Run inside the terminal to record, e.g. `xterm -e python -m tests.realterm.record_replies out.txt`;
the file holds repr() of the bytes that came back, ready to paste into tests/tui/test_terminal_probe.py.
"""

from __future__ import annotations

import os
import sys

from textual_image._terminal import capture_until_primary_da  # reads until the DA reply, like the app

from tui.terminal_probe import query

def main() -> None:
    out = sys.argv[1]
    try:
        with capture_until_primary_da(3.0) as response:
            sys.stdout.write(query(tmux=bool(os.environ.get("TMUX"))))
            sys.stdout.flush()
        text = response.sequence
    except TimeoutError:
        text = "<timeout>"
    with open(out, "w") as f:
        f.write(repr(text) + "\n")
        f.write(f"TERM={os.environ.get('TERM')} TERM_PROGRAM={os.environ.get('TERM_PROGRAM')}\n")


if __name__ == "__main__":
    main()
