"""scripts/check_status_literals.py on a tiny project: it flags status strings used as a
status outside the models, and accepts the model's choices."""

import importlib.util
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "check_status_literals.py"

spec = importlib.util.spec_from_file_location("check_status_literals", SCRIPT)
checker = importlib.util.module_from_spec(spec)
spec.loader.exec_module(checker)

MODELS = '''
from django.db import models

class BookingStatus(models.TextChoices):
    PENDING = "pending", "Pending payment"
    PAID = "paid", "Paid"

class Booking(models.Model):
    Status = BookingStatus
    status = models.CharField(max_length=12, choices=BookingStatus.choices)
    OPEN = frozenset({BookingStatus.PENDING, "paid"})  # in the models: allowed
'''


def project(tmp_path, code: str) -> Path:
    app = tmp_path / "apps" / "shop"
    (app / "migrations").mkdir(parents=True)
    (app / "models.py").write_text(MODELS)
    (app / "migrations" / "0001_initial.py").write_text('X = ["pending", "paid"]\n')
    (app / "services.py").write_text(code)
    return tmp_path


def test_flags_a_status_passed_as_a_string(tmp_path):
    root = project(tmp_path, 'def f(qs):\n    return qs.filter(status="paid")\n')
    problems = checker.check(root)
    assert len(problems) == 1
    assert problems[0].startswith("apps/shop/services.py:2: the status 'paid'")
    assert "BookingStatus" in problems[0]


def test_accepts_the_models_choices(tmp_path):
    root = project(tmp_path, "from .models import Booking, BookingStatus\n"
                             "def f(qs, booking):\n"
                             "    qs.filter(status=BookingStatus.PAID)\n"
                             "    qs.filter(status__in=Booking.OPEN)\n"
                             "    return booking.status == Booking.Status.PAID\n")
    assert checker.check(root) == []


def test_flags_comparisons_filters_and_sets_of_statuses(tmp_path):
    root = project(tmp_path, "def f(qs, booking, intent):\n"
                             "    a = booking.status == 'paid'\n"
                             "    b = qs.filter(booking__status__in=['pending', 'paid'])\n"
                             "    c = {'pending', 'paid'}\n"
                             "    d = intent.get('status') == 'paid'  # another system's\n"
                             "    e = {'paid', 'Paid in full'}  # not only statuses\n"
                             "    return a, b, c, d, e\n")
    lines = sorted({int(p.split(":")[1]) for p in checker.check(root)})
    assert lines == [2, 3, 4]


def test_the_command_exits_1_with_file_and_line(tmp_path):
    root = project(tmp_path, 'def f(qs):\n    return qs.filter(status="paid")\n')
    run = subprocess.run([sys.executable, str(SCRIPT), str(root)], capture_output=True,
                         text=True, check=False)
    assert run.returncode == 1
    assert "apps/shop/services.py:2:" in run.stdout
    clean = project(tmp_path / "clean", "def f(qs):\n    return qs\n")
    assert subprocess.run([sys.executable, str(SCRIPT), str(clean)],
                          check=False).returncode == 0


def test_the_project_itself_is_clean():
    assert checker.check(ROOT) == []
