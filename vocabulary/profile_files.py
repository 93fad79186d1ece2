"""Profile files: reading a municipality's profile, or a folder of them, from disk.

The contract's profile (`vocabulary.contract.Profile`) comes from a file here. A file that is
broken is refused naming the file and the reason (Japanese, then English), and the others load.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from vocabulary.contract import ContractError, Profile, profile_from_dict


def load_profile(path: str | bytes | Any) -> Profile:
    """One profile file, or `ContractError` naming the file and the reason (Japanese, then English)."""
    problem, profile = _read_profile(Path(path))
    if profile is None:
        raise ContractError(str(problem))
    return profile


@dataclass(frozen=True, slots=True)
class RefusedProfile:
    """A profile file (or a folder, or a path) that was not loaded, and why: Japanese first, then English."""

    path: Path
    ja: str
    en: str

    @property
    def reason(self) -> str:
        return f"{self.ja} / {self.en}"

    def __str__(self) -> str:
        return f"profile {self.path}: {self.reason}"


@dataclass(frozen=True)
class LoadedProfiles:
    """What `read_profiles` found: the profiles that loaded, by municipality id, the file each came
    from, and every file refused with its reason."""

    profiles: dict[str, Profile]
    files: dict[str, Path]
    refused: tuple[RefusedProfile, ...]


def _read_profile(p: Path) -> tuple[RefusedProfile | None, Profile | None]:
    try:
        obj = orjson.loads(p.read_bytes())
    except OSError as exc:
        return RefusedProfile(p, f"ファイルを読めません（{exc.strerror}）", f"cannot read: {exc.strerror}"), None
    except orjson.JSONDecodeError as exc:
        return RefusedProfile(p, f"JSON として正しくありません（{exc.lineno} 行目）", f"not valid JSON: {exc}"), None
    try:
        return None, profile_from_dict(obj, where="profile")
    except ContractError as exc:
        reason = str(exc).removeprefix("profile: ")
        return RefusedProfile(p, f"必須の項目がないか、形式が違います（{reason}）",
                              f"does not follow the profile contract: {reason}"), None


def _profile_files(paths: Iterable[Any]) -> tuple[list[Path], list[RefusedProfile]]:
    """Each `*.profile.json` of the folders and each file named, once, in order; the paths that gave none."""
    files: dict[Path, Path] = {}  # resolved → as named: a file named twice is read once
    missing = []
    for path in paths:
        p = Path(path)
        if p.is_dir():
            found = sorted(p.glob("*.profile.json"))
            if not found:
                missing.append(RefusedProfile(p, "このフォルダに自治体プロファイル（*.profile.json）がありません",
                                              "no municipality profile (*.profile.json) in this folder"))
        elif p.exists():
            found = [p]
        else:
            missing.append(RefusedProfile(p, "ファイルもフォルダもありません", "no such file or folder"))
            found = []
        for f in found:
            files.setdefault(f.resolve(), f)
    return list(files.values()), missing


def read_profiles(paths: Iterable[Any]) -> LoadedProfiles:
    """Profiles by municipality id from files and folders of `*.profile.json`, never failing on
    one file: a file that cannot be read, is not JSON or breaks the contract is refused with its
    reason and the others load. A municipality id found in two files is refused in both: which one
    is right is for a person to say, and the answer must not depend on file names or their order."""
    files, refused = _profile_files(paths)
    by_id: dict[str, list[tuple[Path, Profile]]] = {}
    for f in files:
        problem, profile = _read_profile(f)
        if profile is None:
            refused.append(problem)  # type: ignore[arg-type]
        else:
            by_id.setdefault(profile.id, []).append((f, profile))
    profiles: dict[str, Profile] = {}
    sources: dict[str, Path] = {}
    for muni, found in by_id.items():
        if len(found) == 1:
            sources[muni], profiles[muni] = found[0]
            continue
        for f, _ in found:
            others = ", ".join(str(g) for g, _ in found if g != f)
            refused.append(RefusedProfile(
                f, f"自治体ID {muni!r} が別のファイル（{others}）にもあるため、どちらも読み込みません",
                f"municipality id {muni!r} is defined twice (also in {others}); neither file is loaded"))
    order = {f: i for i, f in enumerate(files)}
    refused.sort(key=lambda r: order.get(r.path, -1))
    return LoadedProfiles(profiles, sources, tuple(refused))


def load_profiles(paths: Any) -> dict[str, Profile]:
    """Profiles by municipality id, from files and folders of `*.profile.json`, all or nothing:
    `ContractError` naming every file refused (see `read_profiles` for the lenient reader)."""
    paths = list(paths)
    loaded = read_profiles(paths)
    if loaded.refused:
        raise ContractError("\n".join(map(str, loaded.refused)))
    if not loaded.profiles:
        raise ContractError(f"no municipality profile (*.profile.json) found in {', '.join(map(str, paths))}")
    return loaded.profiles
