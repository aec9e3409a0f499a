"""One folder per domain; each ends in a `definitions.py` whose `@dg.definitions` function reads settings at load."""
