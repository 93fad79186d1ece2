"""The README's settings table stays in step with the settings the code reads."""

from pathlib import Path

from vocabulary.settings import DOCUMENTED

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def test_every_setting_is_in_the_readme_table_with_its_default() -> None:
    for name, default, _meaning in DOCUMENTED:
        assert f"| `{name}` | {default} |" in README, f"{name} is missing from the README's table"


def test_the_readme_names_the_two_setup_commands() -> None:
    assert "make run" in README and "make test" in README
