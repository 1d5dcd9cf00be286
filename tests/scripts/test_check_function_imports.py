"""scripts/check_function_imports.py: an import inside a function must say why (the layer
contract sees those imports too, so they never dodge a cycle); the project passes."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "check_function_imports.py"


def run(*paths) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, paths)], cwd=ROOT,
                          capture_output=True, text=True)


def test_an_unexplained_import_inside_a_function_fails_with_its_place(tmp_path):
    module = tmp_path / "services.py"
    module.write_text("def pay():\n    from apps.refunds.services import refund_create\n"
                      "    return refund_create\n")
    result = run(tmp_path)
    assert result.returncode == 1
    assert f"{module}:2:" in result.stdout
    assert "1 function-level import(s) without a reason." in result.stdout


def test_a_comment_on_the_line_or_above_the_block_explains_it(tmp_path):
    (tmp_path / "pdf.py").write_text(
        "import json\n\n"
        "def render():\n"
        "    # the PDF library is heavy: loaded only when a PDF is asked for\n"
        "    import weasyprint\n"
        "    from weasyprint import HTML\n"
        "    import segno  # QR codes only on certificates\n"
        "    return weasyprint, HTML, segno, json\n")
    result = run(tmp_path)
    assert result.returncode == 0, result.stdout


def test_migrations_are_not_checked(tmp_path):
    migrations = tmp_path / "migrations"
    migrations.mkdir()
    (migrations / "0002_data.py").write_text("def forwards(apps, schema_editor):\n"
                                             "    from apps.users.roles import ensure\n")
    assert run(tmp_path).returncode == 0


def test_the_project_explains_every_function_level_import():
    result = run(ROOT / "apps")
    assert result.returncode == 0, result.stdout
