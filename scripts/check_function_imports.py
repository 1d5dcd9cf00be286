"""Fail on an import inside a function or method in apps/ that has no comment saying why.

Imports belong at the top of a module; the layer contract (pyproject.toml,
[tool.importlinter]) sees function-level imports too, so hiding an import in a function
never dodges a cycle. The few that stay (an optional heavy dependency loaded only when
used, Django's app registry during migrations) carry a comment on the import's line or
the line above it.

Usage: python scripts/check_function_imports.py [paths...]   (default: apps)
Exit 1 with one line per offending import; 0 when every function-level import explains
itself.
"""

import ast
import sys
from pathlib import Path


def _function_imports(tree: ast.AST):
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for child in ast.walk(node):
                if isinstance(child, (ast.Import, ast.ImportFrom)):
                    yield child


def _has_reason(lines: list[str], lineno: int) -> bool:
    """A comment on the import's line, or above it (one comment covers the block of
    imports that follows it)."""
    if "#" in lines[lineno - 1]:
        return True
    index = lineno - 2
    while index >= 0:
        above = lines[index].strip()
        if above.startswith("#"):
            return True
        if not (above == "" or above.startswith(("from ", "import "))):
            return False
        index -= 1
    return False


def check(paths: list[Path]) -> list[str]:
    problems = []
    for root in paths:
        files = [root] if root.is_file() else sorted(root.rglob("*.py"))
        for path in files:
            if "migrations" in path.parts:
                continue  # Django's migration framework loads models through its registry
            source = path.read_text()
            lines = source.splitlines()
            seen = set()
            for node in _function_imports(ast.parse(source, filename=str(path))):
                if node.lineno in seen:
                    continue
                seen.add(node.lineno)
                if not _has_reason(lines, node.lineno):
                    statement = lines[node.lineno - 1].strip()
                    problems.append(
                        f"{path}:{node.lineno}: an import inside a function without a comment "
                        f"saying why; move it to the top of the module: {statement}")
    return problems


def main(argv: list[str]) -> int:
    paths = [Path(arg) for arg in argv] or [Path("apps")]
    problems = check(paths)
    for problem in problems:
        print(problem)
    if problems:
        print(f"{len(problems)} function-level import(s) without a reason.")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
