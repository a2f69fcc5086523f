"""Rules that keep the package changeable (docs/ARCHITECTURE.md)."""

import ast
from pathlib import Path

import skorch

PACKAGE = Path(__file__).resolve().parents[1] / "skfusion"
SOURCES = sorted(PACKAGE.rglob("*.py"))


def test_no_module_is_over_600_lines():
    long = {
        str(path.relative_to(PACKAGE)): n
        for path in SOURCES
        if (n := len(path.read_text(encoding="utf-8").splitlines())) > 600
    }
    assert not long


def _skorch_names(tree):
    """Names imported from skorch, and attributes read off skorch objects'
    private API (a leading underscore on a name skorch defines)."""
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(
            "skorch"
        ):
            imported |= {alias.name for alias in node.names}
    return imported


def _private_skorch_attributes():
    """Every underscore name that skorch's NeuralNet defines itself."""
    return {
        name
        for name in vars(skorch.NeuralNet)
        if name.startswith("_") and not name.startswith("__")
    }


def test_no_private_skorch_name_is_used():
    private = _private_skorch_attributes()
    assert "_set_training" in private  # the check sees skorch's privates
    used = {}
    for path in SOURCES:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        names = {n for n in _skorch_names(tree) if n.startswith("_")}
        names |= {"TeeGenerator"} & _skorch_names(tree)
        names |= {
            node.attr
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr in private
        }
        if names:
            used[str(path.relative_to(PACKAGE))] = sorted(names)
    assert not used
