"""The real Vercel CLI, pinned, for running api/ under `vercel dev --local` beside the stack.

    .venv/bin/python -m dev.vercel_cli dev --local --listen 127.0.0.1:3000 --yes

installs `vercel@VERSION` (npm) and `uv` (pip; Vercel's Python builder installs
requirements.txt with it) into a cache outside the repo on first use, then runs the CLI with
this virtualenv's python3 (3.12) and uv first on PATH. The CLI is not in package.json: it is
about 250 MB of node_modules that `make setup` would install for everyone.

Learned by running it (58.9.5, Node 20): `--local` needs no login and no linked project; the
functions get the variables of `.env` in the project folder, not the shell's; each function is
built at its first request (~15 s: uv installs requirements.txt, from PyPI or a configured
mirror, so that step needs the network); crons do not run.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

VERSION = "58.9.5"
"""The newest that installed and ran here (64.0.2 from npm failed on a missing dependency)."""


def cache_dir() -> Path:
    base = os.environ.get("SOCKLESS_TOOLS_DIR") or Path.home() / ".cache" / "sockless"
    return Path(base) / f"vercel-{VERSION}"


def install(target: Path | None = None) -> Path:
    """The `vercel` executable, installed into `target` first if missing (needs npm + pip
    registries). Raises CalledProcessError / FileNotFoundError when that is impossible."""
    target = target or cache_dir()
    binary = target / "node_modules" / ".bin" / "vercel"
    if not binary.exists():
        target.mkdir(parents=True, exist_ok=True)
        npm = shutil.which("npm") or "npm"
        subprocess.run(
            [npm, "install", "--prefix", str(target), "--no-audit", "--no-fund",
             "--loglevel=error", f"vercel@{VERSION}"],
            check=True, timeout=600,
        )  # fmt: skip
    if not (target / "uv" / "bin" / "uv").exists():
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--quiet", "--target",
             str(target / "uv"), "uv"],
            check=True, timeout=600,
        )  # fmt: skip
    return binary


def environment(target: Path | None = None, base: dict[str, str] | None = None) -> dict[str, str]:
    """PATH with this interpreter's bin (python3 = 3.12, the runtime Vercel's bootstrap runs)
    and uv first; the CLI runs functions with whatever `python3` it finds."""
    target = target or cache_dir()
    env = dict(os.environ if base is None else base)
    first = [str(Path(sys.executable).parent), str(target / "uv" / "bin")]
    env["PATH"] = os.pathsep.join([*first, env.get("PATH", "/usr/bin:/bin")])
    env.pop("PYTHONPATH", None)  # the bootstrap sets its own
    env.setdefault("VERCEL_TELEMETRY_DISABLED", "1")
    return env


def main(argv: list[str]) -> int:
    binary = install()
    return subprocess.call([str(binary), *argv], env=environment())


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
