"""The axe-core accessibility audit (npm package pinned in package.json, installed by
`make install` through `npm ci`), run inside a Playwright page.

The site's CSP allows only its own scripts, so the page must come from a context opened
with bypass_csp=True for axe to be injected: only the audit's contexts do that."""

from pathlib import Path

AXE_JS = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
# What blocks or seriously hinders someone using a screen reader, a keyboard or low vision.
BLOCKING_IMPACTS = ("serious", "critical")
# WCAG 2.2 A and AA plus axe's best practices (landmarks, one h1, heading order…).
RULE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]


def axe_violations(page) -> list[dict]:
    """Run axe on what the page shows now; return its serious and critical violations."""
    if not AXE_JS.exists():
        raise AssertionError(f"{AXE_JS} is missing: run `npm ci` (make install does it)")
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE_JS))
    results = page.evaluate(
        """tags => axe.run(document, {runOnly: {type: 'tag', values: tags},
                                      resultTypes: ['violations']})""",
        RULE_TAGS,
    )
    return [v for v in results["violations"] if v["impact"] in BLOCKING_IMPACTS]


def describe(violations: list[dict]) -> str:
    """One line per violation and the elements it was found on."""
    lines = []
    for v in violations:
        targets = ", ".join(" ".join(map(str, node["target"])) for node in v["nodes"][:5])
        more = f" (+{len(v['nodes']) - 5} more)" if len(v["nodes"]) > 5 else ""
        lines.append(f"  [{v['impact']}] {v['id']}: {v['help']} — {targets}{more}")
    return "\n".join(lines)


def wider_than_viewport(page) -> list[str]:
    """Elements that stick out past the right edge of the screen (on a phone, the page
    would scroll sideways to show them)."""
    return page.evaluate("""() => {
      const edge = document.documentElement.clientWidth + 1;
      return [...document.querySelectorAll('body *')]
        .filter(el => el.getBoundingClientRect().right > edge)
        .map(el => el.tagName.toLowerCase() + (el.id ? '#' + el.id : ''));
    }""")
