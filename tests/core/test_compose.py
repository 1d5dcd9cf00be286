"""compose.yaml is the production deployment: real Stripe unless the demo profile is
chosen, every setting from .env, migrations once, one beat, health-checked services."""

from pathlib import Path

import yaml

BASE_DIR = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((BASE_DIR / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
APP = ("migrate", "web", "worker", "beat")


def production_services():
    return {name: s for name, s in SERVICES.items() if "demo" not in s.get("profiles", [])}


def test_no_fake_stripe_or_console_email_outside_the_demo_profile():
    text = yaml.safe_dump(production_services())
    for fake in ("fakestripe", "sk_test_local", "pk_test_local", "whsec_local",
                 "console://", "8420", "STRIPE_API_BASE", "STRIPE_JS_URL"):
        assert fake not in text, fake
    for name in APP:
        env = SERVICES[name]["environment"]
        for key in ("STRIPE_SECRET_KEY", "STRIPE_PUBLISHABLE_KEY", "STRIPE_WEBHOOK_SECRET",
                    "SECRET_KEY"):
            assert ":?" in env[key], f"{name}.{key} must be required, with no default"
    assert SERVICES["fakestripe"]["profiles"] == ["demo"]


def test_every_app_container_gets_the_whole_env_file():
    for name in APP:
        assert SERVICES[name]["env_file"] == "${PORTAL_ENV_FILE:-.env}"


def test_migrations_run_once_before_web_and_never_inside_web():
    assert SERVICES["migrate"]["command"] == ["migrate"]
    assert SERVICES["migrate"]["restart"] == "no"
    for name in ("web", "worker", "beat"):
        assert SERVICES[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"}
        assert "migrate" not in SERVICES[name]["command"]


def test_exactly_one_beat_with_a_writable_schedule():
    beat = SERVICES["beat"]
    assert beat["command"] == ["beat"]
    assert "deploy" not in beat and "scale" not in beat
    assert "beat-state:/var/lib/portal" in beat["volumes"]
    assert sum(1 for s in SERVICES.values() if s.get("command") == ["beat"]) == 1


def test_databases_are_health_checked_and_kept_in_volumes():
    for name, volume in (("postgres", "pgdata"), ("redis", "redisdata")):
        assert SERVICES[name]["healthcheck"]["test"]
        assert any(v.startswith(f"{volume}:") for v in SERVICES[name]["volumes"])
    for name in ("web", "worker", "beat"):
        deps = SERVICES[name]["depends_on"]
        assert deps["postgres"]["condition"] == deps["redis"]["condition"] == "service_healthy"


def test_only_the_proxy_is_published_and_everything_restarts():
    for name, service in production_services().items():
        if name != "proxy":
            assert "ports" not in service, f"{name} must not be reachable from outside"
        if name != "migrate":
            assert service["restart"] == "unless-stopped"
    assert SERVICES["proxy"]["ports"] == ["80:80", "443:443"]
    assert SERVICES["proxy"]["environment"]["PROXY_UPSTREAMS"] == "web:8000"
    assert SERVICES["web"]["environment"]["TRUSTED_PROXY_COUNT"] == "${TRUSTED_PROXY_COUNT:-1}"
