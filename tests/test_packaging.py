"""Installing for an accelerator follows JAX's own extras, and the code never names a platform."""

from __future__ import annotations

import configparser
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_accelerator_extras_are_jax_extras_of_the_same_name():
    cfg = configparser.ConfigParser()
    cfg.read(ROOT / "setup.cfg")
    extras = cfg["options.extras_require"]
    base = next(r.strip() for r in cfg["options"]["install_requires"].splitlines() if r.strip().startswith("jax>="))
    for name in ("cuda12", "tpu"):
        (req,) = [r.strip() for r in extras[name].splitlines() if r.strip()]
        assert req == base.replace("jax", f"jax[{name}]", 1), req  # the same lower bound as the plain install
    readme = (ROOT / "README.md").read_text()
    assert 'pip install -e ".[cuda12]"' in readme and 'pip install -e ".[tpu]"' in readme


def test_no_platform_is_named_in_the_package():
    """Devices come from JAX; a platform string may only guard CPU-only settings (compiler flags, hints)."""
    pattern = re.compile(r"""["'](gpu|tpu|cuda|rocm)["']""", re.IGNORECASE)
    hits = [f"{p.relative_to(ROOT)}:{i}" for p in sorted((ROOT / "a2v_jax").rglob("*.py"))
            for i, line in enumerate(p.read_text().splitlines(), 1) if pattern.search(line)]
    assert hits == []
