"""docker-compose.yml, read as text (the test environment has no YAML parser): every service says
how it is checked, the sources service exists, and every NOROSHI_* variable it sets is one the
settings read, so that a misspelt variable fails here instead of being ignored in production."""

import re
from pathlib import Path

from vocabulary.settings import DOCUMENTED

COMPOSE = (Path(__file__).resolve().parents[2] / "docker-compose.yml").read_text(encoding="utf-8")
MEANINGS = {name: meaning for name, _default, meaning in DOCUMENTED}


def top_level(name: str) -> str:
    """The text of a top-level key, up to the next one."""
    match = re.search(rf"^{name}:\n(.*?)(?=^\S|\Z)", COMPOSE, re.M | re.S)
    assert match, f"docker-compose.yml has no top-level `{name}:`"
    return match.group(1)


def blocks(section: str) -> dict[str, str]:
    """The two-space-indented keys of a section and their text."""
    parts = re.split(r"^  ([A-Za-z0-9_-]+):[ \t]*\n", section, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


SERVICES = blocks(top_level("services"))


def test_the_stack_has_its_services_sources_included() -> None:
    assert {"kafka", "topics", "worker", "board", "archive", "sources"} <= set(SERVICES)


def test_every_service_has_a_healthcheck() -> None:
    missing = [name for name, text in SERVICES.items() if not re.search(r"^    healthcheck:", text, re.M)]
    assert not missing, f"services without a healthcheck: {missing}"


def test_the_long_running_services_check_their_readiness_not_only_that_they_answer() -> None:
    for name, port in (("worker", "NOROSHI_WORKER_HTTP_PORT"), ("board", "NOROSHI_BOARD_PORT"),
                       ("sources", "NOROSHI_SOURCES_HTTP_PORT")):
        text = SERVICES[name]
        assert "/readyz" in text and port in text, name
        assert "urllib.request" in text, f"{name}: the slim image has no curl"
    assert '"archive", "--status"' in SERVICES["archive"]


def test_the_sources_service_runs_noroshi_sources_with_its_own_state_and_the_profiles() -> None:
    text = SERVICES["sources"]
    assert 'command: ["sources"]' in text
    assert "NOROSHI_SOURCES: ${NOROSHI_SOURCES:-}" in text  # empty by default: no source
    assert 'profiles: ["sources"]' in text  # so that an empty NOROSHI_SOURCES starts nothing
    assert "- ./deploy/profiles:/etc/noroshi/profiles:ro" in text
    assert "- noroshi-sources:/var/lib/noroshi" in text and "NOROSHI_DATA_DIR: /var/lib/noroshi" in text


def test_the_worker_and_sources_serve_metrics_to_the_network_but_publish_no_port() -> None:
    for name in ("worker", "sources"):
        assert "NOROSHI_HTTP_HOST: 0.0.0.0" in SERVICES[name], name
    assert not re.search(r"^    ports:", SERVICES["worker"], re.M)
    published = re.findall(r'^      - "(.*)"$', SERVICES["sources"].split("    ports:\n", 1)[1], re.M)
    assert published == ["${HOOKS_PUBLISH:-127.0.0.1:8090}:8090"]  # the webhook receiver, on loopback
    assert '"${BOARD_PUBLISH:-127.0.0.1:8080}:8080"' in SERVICES["board"]
    assert not re.search(r"^      - \"?(0\.0\.0\.0:)?\d+:\d+", COMPOSE, re.M), "a port published on every address"


def test_every_noroshi_variable_set_is_one_the_settings_read() -> None:
    unknown = []
    for name in sorted(set(re.findall(r"\bNOROSHI_[A-Z0-9_]+", COMPOSE))):
        if name in MEANINGS:
            continue
        base = name.removesuffix("_FILE")
        # A …_FILE variable only counts for the secrets that are read that way.
        if name.endswith("_FILE") and "_FILE" in MEANINGS.get(base, ""):
            continue
        unknown.append(name)
    assert not unknown, f"not in vocabulary/settings.py DOCUMENTED: {unknown}"


def test_every_named_volume_and_secret_a_service_uses_is_declared() -> None:
    volumes, secrets = set(blocks(top_level("volumes"))), set(blocks(top_level("secrets")))
    for name, text in SERVICES.items():
        for source in re.findall(r"^      - ([A-Za-z0-9_-]+):/", text, re.M):
            assert source in volumes, f"{name} mounts undeclared volume {source}"
        used = re.search(r"^    secrets:\n((?:      - .*\n)+)", text, re.M)
        for secret in re.findall(r"- (\S+)", used.group(1)) if used else ():
            assert secret in secrets, f"{name} uses undeclared secret {secret}"
    assert "noroshi-sources" in volumes and "hooks_secret" in secrets
