"""The repository keeps the shape docs/ARCHITECTURE.md describes (issue 14): every file the
document names exists, the engine package imports no ORM model class, no model file grows past
~400 lines, and production code never asks whether it runs under a test."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADDONS = ROOT / "addons"
BASE = ADDONS / "mfg_integration_base"
MAX_MODEL_LINES = 400

# `path/to/file.py`, `pipeline/`, `transports/mqtt/` ... inside backticks; no placeholders.
PATH_RE = re.compile(r"`([A-Za-z0-9_./-]+(?:\.py|\.md|\.xml|\.json|/))`")


def _named_paths():
    text = (ROOT / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    return sorted(
        {m.group(1) for m in PATH_RE.finditer(text) if "/" in m.group(1) or m.group(1).endswith(".py")}
    )


def _exists(name):
    """A name is relative to the repository, to an addon, or to a folder of an addon."""
    name = name.rstrip("/")
    bases = [
        ROOT,
        ADDONS,
        *ADDONS.iterdir(),
        ROOT / "tests" / "addons",
        *(ROOT / "tests" / "addons").iterdir(),
    ]
    if any((base / name).exists() for base in bases if base.is_dir()):
        return True
    # a bare file name: somewhere in an addon (e.g. `mfg_backend_mqtt_tls.py` next to a package row)
    return "/" not in name and any(ADDONS.rglob(name))


def test_every_file_the_architecture_names_exists():
    names = _named_paths()
    assert len(names) > 30, f"the path pattern found too few names to mean anything: {names}"
    missing = [n for n in names if not _exists(n)]
    assert not missing, f"docs/ARCHITECTURE.md names files that do not exist: {missing}"


def test_the_engine_imports_no_orm_model_class():
    offenders = []
    for path in sorted((BASE / "pipeline").glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.ImportFrom)
                and node.module == "odoo"
                and any(a.name == "models" for a in node.names)
            ):
                offenders.append(f"{path.name}: from odoo import models")
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("odoo.models"):
                offenders.append(f"{path.name}: from {node.module} import ...")
            elif isinstance(node, ast.Import) and any(a.name.startswith("odoo.models") for a in node.names):
                offenders.append(f"{path.name}: import odoo.models")
            elif isinstance(node, ast.ClassDef) and any(
                isinstance(b, ast.Attribute) and b.attr in ("Model", "AbstractModel", "TransientModel")
                for b in node.bases
            ):
                offenders.append(f"{path.name}: class {node.name} is a model")
    assert len(list((BASE / "pipeline").glob("*.py"))) >= 6
    assert not offenders, offenders


def _model_files():
    """Python files of our addons (test addons included) that define an ORM model class."""
    for path in sorted([*ADDONS.rglob("*.py"), *(ROOT / "tests" / "addons").rglob("*.py")]):
        if "/tests/" in str(path.relative_to(ROOT)).replace("tests/addons/", "", 1):
            continue
        text = path.read_text(encoding="utf-8")
        if re.search(r"^class \w+\(models\.(Model|AbstractModel|TransientModel)\)", text, re.M):
            yield path, text.count("\n")


def test_no_model_file_above_400_lines():
    files = list(_model_files())
    assert len(files) > 20, "found too few model files to mean anything"
    too_long = {str(p.relative_to(ROOT)): n for p, n in files if n > MAX_MODEL_LINES}
    assert not too_long, f"model files above {MAX_MODEL_LINES} lines (split them by concern): {too_long}"


def test_production_code_never_asks_whether_it_runs_under_a_test():
    hits = [
        f"{p.relative_to(ROOT)}:{i}"
        for p in ADDONS.rglob("*.py")
        for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
        if "current_test" in line
    ]
    assert not hits, hits
