"""Research studies and the records of protocol runs (bench/README.md lists them)."""
