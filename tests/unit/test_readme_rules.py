"""Every test the README's guidelines table names exists, so the table cannot rot."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_test_named_in_the_guidelines_table_exists() -> None:
    table = README.split("## The guidelines, enforced", 1)[1].split("\n## ", 1)[0]
    named = re.findall(r"`(?:(test_\w+)(?:\.py)?)?::(test_\w+)`|`(test_\w+)\.py`", table)
    assert len(named) > 20
    current = None
    for module, test, whole_module in named:
        if whole_module:
            assert (ROOT / "tests" / "unit" / f"{whole_module}.py").exists(), whole_module
            continue
        current = module or current
        source = (ROOT / "tests" / "unit" / f"{current}.py").read_text(encoding="utf-8")
        assert f"def {test}(" in source, f"{current}::{test} is named in the README but does not exist"
