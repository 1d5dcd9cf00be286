"""Operators configure the portal from .env.example: every environment variable that
config/settings.py reads must be listed there (with its meaning and default)."""

import ast
import re
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
READERS = {"env", "env_bool", "env_int", "env_list", "getenv", "get"}


def variables_read_by(path: Path) -> set[str]:
    """Names passed as a string literal to env()/env_*()/os.environ.get()/os.getenv(), used
    as os.environ[...] or tested with `"NAME" in os.environ`."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Call) and node.args:
            func = node.func
            name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
            first = node.args[0]
            if name in READERS and isinstance(first, ast.Constant) and isinstance(
                    first.value, str):
                if name != "get" or "environ" in ast.unparse(func):
                    found.add(first.value)
        elif isinstance(node, ast.Subscript) and "environ" in ast.unparse(node.value):
            if isinstance(node.slice, ast.Constant):
                found.add(node.slice.value)
        elif isinstance(node, ast.Compare) and any(
                "environ" in ast.unparse(c) for c in node.comparators):
            if isinstance(node.left, ast.Constant):
                found.add(node.left.value)
    return found


def documented() -> set[str]:
    names = set()
    for line in (BASE_DIR / ".env.example").read_text().splitlines():
        match = re.match(r"^#?\s?([A-Z][A-Z0-9_]*)=", line)
        if match:
            names.add(match.group(1))
    return names


def test_the_reader_finds_every_kind_of_read(tmp_path):
    sample = tmp_path / "sample.py"
    sample.write_text('import os\nA = env("ONE")\nB = env_int(\n    "TWO", 3)\n'
                      'C = os.environ.get("THREE")\nD = os.environ["FOUR"]\n'
                      'E = "FIVE" not in os.environ\nF = {}.get("NOT_ENV")\n')
    assert variables_read_by(sample) == {"ONE", "TWO", "THREE", "FOUR", "FIVE"}


def test_every_variable_settings_read_is_in_env_example():
    read = variables_read_by(BASE_DIR / "config" / "settings.py")
    assert len(read) > 40  # sanity: the parser sees the settings' reads
    missing = sorted(read - documented())
    assert not missing, f"add to .env.example (meaning and safe default): {missing}"


def test_env_example_lists_nothing_settings_or_compose_do_not_read():
    read = variables_read_by(BASE_DIR / "config" / "settings.py")
    compose_only = set(re.findall(r"\$\{([A-Z_0-9]+)", (BASE_DIR / "compose.yaml").read_text()))
    stale = sorted(documented() - read - compose_only)
    assert not stale, f"not read anywhere, remove from .env.example: {stale}"


def test_env_example_carries_no_real_secret_and_no_fake_stripe():
    values = dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$",
                             (BASE_DIR / ".env.example").read_text(), re.MULTILINE))
    for secret in ("SECRET_KEY", "POSTGRES_PASSWORD", "STRIPE_SECRET_KEY",
                   "STRIPE_WEBHOOK_SECRET"):
        assert values[secret] == "", f"{secret} must be left for the operator to fill in"
    assert "STRIPE_API_BASE" not in values  # real Stripe unless the operator says otherwise
