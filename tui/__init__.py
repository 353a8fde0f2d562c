"""svdlens's user interfaces: the Textual app (app.py) and the command line (cli.py)."""
