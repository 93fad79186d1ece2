"""The domain's small words are defined once, in `vocabulary.terms`, and everyone uses that one.

The last tests read the product's source with `ast` and fail when a copy of a term reappears
outside the vocabulary: a literal list of the severities or incident types, a severity rank, a
set of the terminal states, another UTC+9, 【訓練】 written out, another `ALL = "*"`.
"""

from __future__ import annotations

import ast
import random
import re
from datetime import datetime
from pathlib import Path

from vocabulary import contract, records, terms
from vocabulary.waits import Backoff, retry_after_seconds

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("vocabulary", "playbooks", "responders", "streams", "sources", "dashboards", "tools", "noroshi")
HOME = Path("vocabulary/terms.py")

#: Not copies, though they look alike: what residents post in the generated scenarios
#: (a city's own 【訓練】 announcement on the disaster hashtag) is test data, not our label.
#: ("path prefix", "what"): tools/scenarios.py or the package it becomes.
NOT_COPIES: frozenset[tuple[str, str]] = frozenset({("tools/scenarios", "【訓練】")})


def test_severities_go_from_least_to_most_severe_and_their_rank_is_that_order() -> None:
    assert terms.SEVERITIES == ("low", "medium", "high", "critical")
    assert terms.SEVERITY_RANK == {"low": 0, "medium": 1, "high": 2, "critical": 3}
    assert sorted(terms.SEVERITIES, key=terms.SEVERITY_RANK.__getitem__) == list(terms.SEVERITIES)


def test_incident_types_terminal_states_and_the_wildcard() -> None:
    assert terms.INCIDENT_TYPES == ("flame", "impersonation", "misinformation", "disaster")
    assert terms.TERMINAL_STATES == (terms.RESOLVED, terms.CLOSED) == ("resolved", "closed")
    assert terms.ALL == "*"


def test_japan_time_is_utc_plus_nine_all_year() -> None:
    assert datetime(2027, 1, 15, 8, 0, tzinfo=terms.JST).isoformat() == "2027-01-15T08:00:00+09:00"
    assert datetime(2027, 7, 15, 8, 0, tzinfo=terms.JST).utcoffset().total_seconds() == 9 * 3600
    assert terms.JST.tzname(None) == "JST"


def test_the_drill_label_is_the_japanese_word_in_brackets() -> None:
    assert terms.DRILL_LABEL == "【訓練】"
    assert terms.DRILL_WORDS == {"ja": "訓練", "en": "Drill"}


def test_the_contract_and_the_records_name_the_same_objects() -> None:
    assert contract.SEVERITIES is terms.SEVERITIES
    assert contract.INCIDENT_TYPES is terms.INCIDENT_TYPES
    assert records.JST is terms.JST


def test_the_board_lists_the_most_severe_first_and_an_unknown_severity_last() -> None:
    from dashboards.views import now_list
    from vocabulary.records import Incident

    def incident(severity: str) -> Incident:
        return Incident(incident_id=severity, municipality="wako", type="flame", target="t",
                        opened_at="2027-01-15T08:00:00+09:00", severity=severity, evidence_ids=[], summary="",
                        state="open", change="opened", updated_at="2027-01-15T08:00:00+09:00", version=1)

    shuffled = [incident(s) for s in ("medium", "oops", "critical", "low", "high")]
    assert [i.severity for i in now_list(shuffled)] == ["critical", "high", "medium", "low", "oops"]


# --- one backoff, one Retry-After reader ---------------------------------------------------------


def test_backoff_doubles_up_to_its_cap_with_jitter_and_starts_over_after_reset() -> None:
    backoff = Backoff(base_s=1.0, cap_s=8.0, rng=random.Random(5))
    delays = [backoff.next_delay() for _ in range(6)]
    assert all(0.5 * min(8, 2 ** n) <= d <= min(8, 2 ** n) for n, d in enumerate(delays))
    backoff.reset()
    assert backoff.next_delay() <= 1.0
    assert backoff.next_delay(at_least=30.0) == 30.0  # a server's own wait comes first


def test_backoff_for_a_count_the_caller_keeps_draws_from_the_callers_random() -> None:
    policy = Backoff(1, 2, 8)
    assert [policy.delay(n, random.Random(3)) for n in (1, 4, 9)] == [
        random.Random(3).uniform(0.5, 1.0) * ceiling for ceiling in (1, 8, 8)]
    assert policy.failures == 0  # `delay` keeps no count


def test_retry_after_reads_seconds_or_an_http_date_and_nothing_else() -> None:
    now = datetime.fromisoformat("2027-01-15T08:00:00+00:00").timestamp()
    assert retry_after_seconds("7", now) == 7.0
    assert retry_after_seconds(" 2.5 ", now) == 2.5
    assert retry_after_seconds("-3", now) == 0.0
    assert retry_after_seconds("Fri, 15 Jan 2027 08:00:10 GMT", now) == 10.0
    assert retry_after_seconds("Fri, 15 Jan 2027 08:00:10 -0000", now) == 10.0  # no zone: UTC
    assert retry_after_seconds("Fri, 15 Jan 2027 07:00:00 GMT", now) == 0.0  # already past
    assert retry_after_seconds("soon", now) is None
    assert retry_after_seconds("", now) is None
    assert retry_after_seconds(None, now) is None


# --- no copies ----------------------------------------------------------------------------------


def _strings(node: ast.AST) -> set[str]:
    elements = node.keys if isinstance(node, ast.Dict) else getattr(node, "elts", [])
    return {e.value for e in elements if isinstance(e, ast.Constant) and isinstance(e.value, str)}


def _docstrings(tree: ast.AST) -> set[int]:
    return {id(node.value) for node in ast.walk(tree)
            if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)}


def copies_in(path: Path, root: Path = ROOT) -> list[str]:
    """The copies of a term in one source file, as "path:line: what"."""
    source = path.read_text(encoding="utf-8")
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    where = str(path.relative_to(root))
    found = []
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            words = _strings(node)
            if set(terms.SEVERITIES) <= words:
                found.append(f"{where}:{line}: the severities")
            if set(terms.INCIDENT_TYPES) <= words:
                found.append(f"{where}:{line}: the incident types")
            if words == set(terms.TERMINAL_STATES):
                found.append(f"{where}:{line}: the terminal states")
        elif isinstance(node, ast.Dict) and set(terms.SEVERITIES) <= _strings(node) and all(
                isinstance(v, ast.Constant) and isinstance(v.value, int) for v in node.values):
            found.append(f"{where}:{line}: a severity rank")
        elif (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
              and terms.DRILL_LABEL in node.value):
            found.append(f"{where}:{line}: 【訓練】")
        elif (isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant) and node.value.value == terms.ALL
              and any(isinstance(t, ast.Name) and t.id == "ALL" for t in node.targets)):
            found.append(f"{where}:{line}: ALL")
    for match in re.finditer(r"timedelta\(\s*hours\s*=\s*9\s*\)", source):
        found.append(f"{where}:{source.count(chr(10), 0, match.start()) + 1}: UTC+9")
    return found


def test_the_copy_finder_finds_each_kind_of_copy(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text('SEVERITIES = ("low", "medium", "high", "critical")\n'
                      'RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}\n'
                      'TYPES = ["flame", "impersonation", "misinformation", "disaster"]\n'
                      'ENDED = frozenset({"resolved", "closed"})\n'
                      'JST = timezone(timedelta(hours=9))\n'
                      'def f():\n    """Starts with 【訓練】."""\n    return "【訓練】" + "x"\n'
                      'ALL = "*"\n', encoding="utf-8")
    found = [line.split(": ", 1)[1] for line in copies_in(sample, tmp_path)]
    assert sorted(found) == sorted(["the severities", "a severity rank", "the incident types",
                                    "the terminal states", "UTC+9", "【訓練】", "ALL"])


def _allowed(path: str, what: str) -> bool:
    return any(path.startswith(prefix) and what == kind for prefix, kind in NOT_COPIES)


def test_no_package_copies_a_term_of_the_vocabulary() -> None:
    found = [copy for package in PRODUCT for path in sorted((ROOT / package).rglob("*.py"))
             if path.relative_to(ROOT) != HOME for copy in copies_in(path)]
    new = [copy for copy in found if not _allowed(copy.split(":", 1)[0], copy.rsplit(": ", 1)[1])]
    assert not new, "use vocabulary.terms instead of a copy:\n" + "\n".join(new)
