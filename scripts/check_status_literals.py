#!/usr/bin/env python3
"""Fail when a model status is written as a string outside the models (CI: make lint).

Statuses belong to their model: `Booking.Status.PAID`, a named set such as
`Payment.MONEY_ARRIVED`, a transition table. A bare "paid" elsewhere is a second place for
the rule, which drifts. This reads every `TextChoices` class whose name contains "Status"
in apps/*/models.py, collects its values, and then looks through every other module of
apps/ (models and migrations excepted) for a string equal to one of them used as a status:

- compared with ==, !=, in, not in against something named status (`booking.status`,
  `old_status`, `payment_status`);
- passed as a status to a call: `status="paid"`, `status__in=[...]`,
  `booking__status="paid"` (ORM filters, updates, creates);
- a set, list or tuple made only of status strings (two or more), outside a comparison.

Strings that are some other system's statuses (Stripe's, compared with what its API sent)
are compared with a value not named like ours, or go through a mapping, and are not
flagged. Prints file:line and what to write instead; exits 1 when anything is found.

Usage: python scripts/check_status_literals.py [root]   (root: the project, default cwd)
"""

import ast
import sys
from pathlib import Path


def status_values(models_files) -> dict[str, set[str]]:
    """{"paid": {"BookingStatus"}, ...}: every status value and the classes that define it."""
    values: dict[str, set[str]] = {}
    for path in models_files:
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ClassDef) or "Status" not in node.name:
                continue
            bases = {getattr(b, "attr", getattr(b, "id", "")) for b in node.bases}
            if "TextChoices" not in bases:
                continue
            owner = _owner_name(tree, node)
            for item in node.body:
                if isinstance(item, ast.Assign) and isinstance(item.value, ast.Tuple) \
                        and item.value.elts and isinstance(item.value.elts[0], ast.Constant) \
                        and isinstance(item.value.elts[0].value, str):
                    values.setdefault(item.value.elts[0].value, set()).add(owner)
                elif isinstance(item, ast.Assign) and isinstance(item.value, ast.Constant) \
                        and isinstance(item.value.value, str):
                    values.setdefault(item.value.value, set()).add(owner)
    return values


def _owner_name(tree, status_class) -> str:
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and status_class in node.body:
            return f"{node.name}.{status_class.name}"
    return status_class.name


def _named_status(node) -> bool:
    name = node.attr if isinstance(node, ast.Attribute) else \
        node.id if isinstance(node, ast.Name) else ""
    return name == "status" and isinstance(node, ast.Attribute) or name.endswith("_status")


def _status_keyword(name: str | None) -> bool:
    if not name:
        return False
    parts = name.split("__")
    if parts[-1] in {"in", "exact", "iexact"}:
        parts = parts[:-1]
    return bool(parts) and (parts[-1] == "status" or parts[-1].endswith("_status"))


def _strings(node) -> list[ast.Constant]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node]
    if isinstance(node, (ast.Set, ast.List, ast.Tuple)):
        return [e for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    return []


class Finder(ast.NodeVisitor):
    def __init__(self, values):
        self.values = values
        self.found: list[tuple[int, str, str]] = []
        self._in_compare: set[int] = set()

    def _flag(self, constant: ast.Constant, how: str) -> None:
        if constant.value in self.values:
            self.found.append((constant.lineno, constant.value, how))

    def visit_Compare(self, node):
        sides = [node.left, *node.comparators]
        for side in sides:
            self._in_compare.add(id(side))
        if any(_named_status(side) for side in sides):
            for side in sides:
                for constant in _strings(side):
                    self._flag(constant, "compared with a status")
        self.generic_visit(node)

    def visit_Call(self, node):
        for keyword in node.keywords:
            if _status_keyword(keyword.arg):
                for constant in _strings(keyword.value):
                    self._flag(constant, f"passed as {keyword.arg}=")
                self._in_compare.add(id(keyword.value))
        self.generic_visit(node)

    def _collection(self, node):
        if id(node) not in self._in_compare and len(node.elts) >= 2:
            strings = _strings(node)
            if len(strings) == len(node.elts) and all(s.value in self.values for s in strings):
                for constant in strings:
                    self._flag(constant, "in a set of statuses")
        self.generic_visit(node)

    visit_Set = visit_List = visit_Tuple = _collection


def check(root: Path) -> list[str]:
    apps = root / "apps"
    values = status_values(sorted(apps.glob("*/models.py")))
    problems = []
    for path in sorted(apps.rglob("*.py")):
        if path.name == "models.py" or "migrations" in path.parts:
            continue
        finder = Finder(values)
        finder.visit(ast.parse(path.read_text(), filename=str(path)))
        for line, value, how in sorted(finder.found):
            owners = ", ".join(sorted(values[value]))
            problems.append(
                f"{path.relative_to(root)}:{line}: the status {value!r} is written as a "
                f"string ({how}): use the model's choice ({owners}) or a named set on the "
                "model.")
    return problems


def main(argv: list[str]) -> int:
    root = Path(argv[1]) if len(argv) > 1 else Path.cwd()
    problems = check(root)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} status string(s) outside the models.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
