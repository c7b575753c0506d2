"""Benchmarks: `python -m bench` (make bench) runs every `bench/<name>.py` that defines `main()`;
`python -m bench <name> ...` runs only those. Figures go to docs/benchmarks.md."""
