"""How strong a 気象庁 alert is for the disaster detector: a warning, an emergency (特別警報),
or the report of a small quake (震度4 or less) that raises the bars instead.
"""

from __future__ import annotations

import re

from vocabulary.contract import Alert
from streams.detectors.text import canonical

# --- alerts -----------------------------------------------------------------

WARNING, EMERGENCY = 1, 2
_EMERGENCY_SEVERITIES = frozenset({"emergency", "特別警報", "extreme", "critical"})
_WARNING_SEVERITIES = frozenset({"warning", "警報", "severe", "high"})
#: 震度5弱: from here the 気象庁 scale speaks of damage; below it a quake is felt, not a disaster.
DAMAGING_INTENSITY = 5.0
_INTENSITY = re.compile(r"震度\s*([0-7])\s*([弱強])?")


def seismic_intensity(alert: Alert) -> float | None:
    """The largest 震度 a 震度速報 or 震源・震度に関する情報 names (5弱 = 5.0, 5強 = 5.5), else None.

    None too for a report that is, or comes with, a warning or a tsunami advisory
    (緊急地震速報（警報）, 津波警報・注意報): those keep their own level.
    """
    title = canonical(alert.title)
    if "震度" not in title and "震源" not in title:
        return None
    text = title + " " + canonical(alert.text or "")
    if "警報" in title or "津波警報" in text or "津波注意報" in text:
        return None
    found = [int(d) + (0.5 if mod == "強" else 0.0) for d, mod in _INTENSITY.findall(text)]
    return max(found) if found else None


def small_quake(alert: Alert) -> bool:
    """An earthquake report whose largest intensity is below 震度5弱: felt, not damaging."""
    intensity = seismic_intensity(alert)
    return intensity is not None and intensity < DAMAGING_INTENSITY


def alert_level(alert: Alert) -> int:
    """0 for advisories, information, small-quake reports and cancellations (解除); WARNING;
    EMERGENCY (特別警報)."""
    sev = canonical(alert.severity).strip().lower()
    title = canonical(alert.title)
    if "解除" in title:
        return 0
    if sev in _EMERGENCY_SEVERITIES or "特別警報" in title or "緊急安全確保" in title:
        return EMERGENCY
    if small_quake(alert):
        return 0  # 「震度3を観測」 is news of a felt quake, whatever severity the feed gave it
    if sev in _WARNING_SEVERITIES or any(w in title for w in ("警報", "避難指示", "警戒情報")):
        return WARNING
    return 0
