"""Local stand-ins for `make dev` and the tests. Never deployed (see .vercelignore)."""
