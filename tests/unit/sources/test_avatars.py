"""Avatar hashes on real small pictures drawn in the test: a copy a fake account makes of the city's
avatar (recoloured, resized, recompressed) stays within the impersonation detector's match distance,
another picture does not; `noroshi avatar-hash` gives the profile the same hash discovery computes."""

from __future__ import annotations

import sys
from pathlib import Path

import aiohttp
import imagehash
import orjson
import pytest
from PIL import Image, ImageDraw
from structlog.testing import capture_logs

from noroshi.cli import main
from sources.avatars import AvatarConfig, AvatarHashes, AvatarRefused, load_hasher, phash_of_image
from streams.detectors.impersonation import ImpersonationConfig
from streams.detectors.impersonation_text import phash_distance
from tests.images import city_avatar, encoded, portrait, recoloured, repainted, resized, stripes
from tests.unit.test_cli import clean_environment  # noqa: F401 - the fixture, for main()

MATCH = ImpersonationConfig().avatar_max_distance
OFFICIAL = phash_of_image(encoded(city_avatar()))


def distance(a: str, b: str) -> int:
    d = phash_distance(a, b)
    assert d is not None
    return d


def test_the_hash_is_imagehash_phash_of_64_bits_in_16_lowercase_hex_digits() -> None:
    picture = city_avatar()
    assert len(OFFICIAL) == 16 and OFFICIAL == OFFICIAL.lower() and int(OFFICIAL, 16) >= 0
    assert OFFICIAL == str(imagehash.phash(picture, hash_size=8))


@pytest.mark.parametrize("copy", [
    pytest.param(lambda: encoded(recoloured(city_avatar())), id="recoloured (channels swapped)"),
    pytest.param(lambda: encoded(repainted()), id="repainted in another palette"),
    pytest.param(lambda: encoded(resized(city_avatar(), 48)), id="resized to 48x48"),
    pytest.param(lambda: encoded(resized(city_avatar(), 1000)), id="resized to 1000x1000"),
    pytest.param(lambda: encoded(city_avatar(), "JPEG", quality=50), id="recompressed as JPEG"),
    pytest.param(lambda: encoded(resized(recoloured(city_avatar()), 96), "WEBP"), id="recoloured, resized, WebP"),
])
def test_a_copy_of_the_citys_avatar_is_within_the_detectors_match_distance(copy) -> None:  # type: ignore[no-untyped-def]
    assert distance(phash_of_image(copy()), OFFICIAL) <= MATCH


@pytest.mark.parametrize("other", [stripes, portrait], ids=["stripes", "portrait"])
def test_a_different_picture_is_well_beyond_the_match_distance(other) -> None:  # type: ignore[no-untyped-def]
    assert distance(phash_of_image(encoded(other())), OFFICIAL) > 2 * MATCH


def test_transparent_areas_are_laid_on_white_as_the_platforms_show_them() -> None:
    on_white = city_avatar(bg=(255, 255, 255))
    round_badge = Image.new("L", on_white.size, 0)
    ImageDraw.Draw(round_badge).ellipse([60, 60, 340, 340], fill=255)
    badge = Image.new("RGBA", on_white.size, (0, 0, 0, 0))  # transparent black around the badge
    badge.paste(on_white, mask=round_badge)
    assert phash_of_image(encoded(badge)) == phash_of_image(encoded(on_white))
    assert phash_of_image(encoded(badge.convert("RGB"))) != phash_of_image(encoded(on_white))  # black, not white


def test_what_is_not_a_readable_picture_is_refused_for_good() -> None:
    with pytest.raises(AvatarRefused, match="画像として読めません") as refused:
        phash_of_image(b"<html>not found</html>")
    assert refused.value.lasting
    with pytest.raises(AvatarRefused, match="画像として読めません"):
        phash_of_image(encoded(city_avatar(), "PNG")[:200])  # cut short


def test_a_picture_too_large_a_side_is_refused_from_its_header() -> None:
    huge = encoded(Image.new("L", (5000, 10)), "PNG")
    with pytest.raises(AvatarRefused, match="画像が大きすぎます（5000×10 画素）") as refused:
        phash_of_image(huge)
    assert refused.value.lasting


async def test_without_the_extra_accounts_keep_a_null_hash_and_it_is_said_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "imagehash", None)  # as if noroshi[avatars] were not installed
    assert load_hasher() is None
    hashes = AvatarHashes(AvatarConfig())
    accounts = [{"id": f"x:u:{n}", "avatar_url": f"http://127.0.0.1:9/{n}.png", "avatar_phash": None}
                for n in range(3)]
    async with aiohttp.ClientSession() as session:
        with capture_logs() as logs:
            await hashes.fill(session, accounts[:2])
            await hashes.fill(session, accounts[2:])
    assert [a["avatar_phash"] for a in accounts] == [None, None, None]
    told = [e for e in logs if e["event"] == "avatars_not_hashed"]
    assert len(told) == 1 and "noroshi[avatars]" in told[0]["reason"]
    assert hashes.fetched == 0


# --- noroshi avatar-hash -----------------------------------------------------------------------


def test_avatar_hash_prints_the_hash_of_each_picture_file(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "city.png").write_bytes(encoded(city_avatar()))
    (tmp_path / "copy.jpg").write_bytes(encoded(resized(recoloured(city_avatar()), 200), "JPEG"))

    assert main(["avatar-hash", str(tmp_path / "city.png"), str(tmp_path / "copy.jpg")]) == 0

    lines = [line.split("\t") for line in capsys.readouterr().out.splitlines()]
    assert lines[0] == [OFFICIAL, str(tmp_path / "city.png")]
    assert distance(lines[1][0], OFFICIAL) <= MATCH


def test_avatar_hash_fills_one_account_of_the_profile_from_a_file(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    profile = {"municipality": {"id": "wako", "name": "和光市"},
               "accounts": [{"platform": "x", "handle": "wako_city_official", "name": "和光市役所", "department": "広報課"},
                            {"platform": "bluesky", "handle": "wako-city.bsky.social", "name": "和光市"}]}
    path = tmp_path / "wako.profile.json"
    path.write_bytes(orjson.dumps(profile))
    (tmp_path / "icon.png").write_bytes(encoded(city_avatar()))

    assert main(["avatar-hash", "--profile", str(path), "--account", "@wako_city_official",
                 str(tmp_path / "icon.png")]) == 0

    saved = orjson.loads(path.read_bytes())
    assert saved["accounts"][0] == {**profile["accounts"][0], "avatar_phash": OFFICIAL}
    assert saved["accounts"][1] == profile["accounts"][1]
    out = capsys.readouterr().out
    assert f"@wako_city_official: avatar_phash = {OFFICIAL}" in out and "保存しました" in out


def test_avatar_hash_of_a_picture_it_cannot_read_says_why_and_changes_nothing(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    profile = {"municipality": {"id": "wako", "name": "和光市"},
               "accounts": [{"platform": "x", "handle": "wako_city_official", "name": "和光市役所"}]}
    path = tmp_path / "wako.profile.json"
    path.write_bytes(orjson.dumps(profile))
    (tmp_path / "icon.png").write_text("not a picture")

    assert main(["avatar-hash", "--profile", str(path), "--account", "wako_city_official",
                 str(tmp_path / "icon.png")]) == 1

    assert orjson.loads(path.read_bytes()) == profile
    assert "ハッシュを計算できません / not hashed: 画像として読めません" in capsys.readouterr().err


def test_avatar_hash_without_the_extra_says_what_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setitem(sys.modules, "imagehash", None)
    (tmp_path / "city.png").write_bytes(encoded(city_avatar()))
    assert main(["avatar-hash", str(tmp_path / "city.png")]) == 2
    assert "pip install 'noroshi[avatars]'" in capsys.readouterr().err
