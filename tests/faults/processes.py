"""Small process helpers for the fault tests (Linux /proc, no extra dependency)."""

from pathlib import Path


def child_pids(parent_pid: int) -> list[int]:
    """Pids whose parent is `parent_pid` (a worker's pool children, gunicorn's workers)."""
    children = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid ...": comm may contain spaces, so split after the last ')'.
        if int(stat.rsplit(")", 1)[1].split()[1]) == parent_pid:
            children.append(int(entry.name))
    return sorted(children)
