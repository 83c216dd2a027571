"""Speed, engine and memory benchmarks (bench/README.md lists them)."""
