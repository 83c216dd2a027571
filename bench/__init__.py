"""Benchmarks and studies: bench/speed/ (speed, the engine, memory), bench/studies/ (the
research studies and run records), bench/common.py (what they share), bench/results/
(the committed result files); bench/README.md lists them."""
