"""Avatar hashes (アイコンのハッシュ) for なりすまし: an account's picture, fetched within a size cap
and a timeout, as the perceptual hash the impersonation detector compares with the official accounts'.

The hash (the contract's `avatar_phash`) is `imagehash.phash(image, hash_size=8)`: the picture in
grey (transparent areas laid on white), shrunk to 32×32, its 8×8 lowest DCT frequencies compared
with their median — 64 bits, written as 16 lowercase hex digits (`str()` of the ImageHash, e.g.
"c3a1e0f0b0d09878"). The detector calls two pictures the same at a Hamming distance ≤ 10
(`ImpersonationConfig.avatar_max_distance`): a copy that is resized, recompressed or recoloured
stays within it, another picture does not. Hashing needs the optional extra `noroshi[avatars]`
(imagehash and Pillow); without it `load_hasher()` is None and accounts travel with
`avatar_phash: null`.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import structlog

from sources.base import USER_AGENT, BoundedMap

log = structlog.get_logger(__name__)

HASH_SIZE = 8  # imagehash.phash's hash_size: 8×8 = 64 bits, 16 hex digits
MAX_AVATAR_BYTES = 2 * 1024 * 1024  # platform avatars are tens of KiB (X) to a few hundred (Bluesky)
MAX_AVATAR_SIDE = 4096  # pixels; refused from the header, before any decoding (decompression bombs)
AVATAR_TIMEOUT_S = 10.0
CACHE_CAP = 10_000  # hashes remembered per avatar URL (~1 MB at most)
CONCURRENT_FETCHES = 4
FETCHES_PER_ROUND = 200  # new pictures fetched per platform in a discovery round; the rest wait
FAILURES_PER_ROUND = 5  # pictures that did not come (timeout, unreachable) before a round stops asking

Hasher = Callable[[bytes], str]
INSTALLED: Any = object()  # AvatarHashes' default: the hasher of the installed extra, if any
LATER: Any = object()  # a picture that may still come: tried again in the next round


class AvatarRefused(Exception):
    """A picture that gives no hash: `str()` says why (Japanese first, for the operator);
    `lasting` when the same URL would be refused again (too big, not an image), so the refusal is
    remembered; a timeout or an unreachable host is tried again when the account is next published."""

    def __init__(self, reason: str, *, lasting: bool) -> None:
        super().__init__(reason)
        self.lasting = lasting


class AvatarsUnavailable(RuntimeError):
    """The optional extra `noroshi[avatars]` (imagehash, Pillow) is not installed."""

    def __init__(self) -> None:
        super().__init__("アイコンのハッシュには追加パッケージが必要です: pip install 'noroshi[avatars]' "
                         "/ avatar hashes need the extra noroshi[avatars] (imagehash, Pillow)")


def load_hasher() -> Hasher | None:
    """`phash_of_image`, or None when imagehash or Pillow is not installed."""
    try:
        import imagehash  # noqa: F401
        from PIL import Image  # noqa: F401
    except ImportError:
        return None
    return phash_of_image


def phash_of_image(data: bytes) -> str:
    """The contract's `avatar_phash` of one picture (PNG, JPEG, GIF, WebP …), or `AvatarRefused`."""
    try:
        import imagehash
        from PIL import Image, UnidentifiedImageError
    except ImportError:
        raise AvatarsUnavailable() from None
    try:
        with Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if max(width, height) > MAX_AVATAR_SIDE:
                raise AvatarRefused(f"画像が大きすぎます（{width}×{height} 画素） / image too large "
                                    f"({width}×{height} px, at most {MAX_AVATAR_SIDE} a side)", lasting=True)
            # JPEG decodes at 1/2…1/8 scale when asked: the hash looks at 32×32 anyway.
            image.draft("RGB", (128, 128))
            return str(imagehash.phash(_on_white(image), hash_size=HASH_SIZE))
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise AvatarRefused(f"画像として読めません / not a readable image: {type(exc).__name__}",
                            lasting=True) from None


def _on_white(image: Any) -> Any:
    """The picture with its transparent areas on white, as a platform shows it."""
    from PIL import Image

    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(white, rgba).convert("RGB")
    return image.convert("RGB")


async def fetch_avatar(session: aiohttp.ClientSession, url: str, *, max_bytes: int = MAX_AVATAR_BYTES,
                       timeout_s: float = AVATAR_TIMEOUT_S) -> bytes:
    """The picture at an http(s) URL, at most `max_bytes` (a larger one is refused without reading it
    all) within `timeout_s` for the whole request, or `AvatarRefused`."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise AvatarRefused(f"http(s) の URL ではありません / not an http(s) URL: {url[:80]}", lasting=True)
    too_big = AvatarRefused(f"画像が上限 {max_bytes} バイトを超えています / image larger than the cap of "
                            f"{max_bytes} bytes", lasting=True)
    try:
        async with session.get(url, headers={"User-Agent": USER_AGENT},
                               timeout=aiohttp.ClientTimeout(total=timeout_s)) as resp:
            if resp.status != 200:
                raise AvatarRefused(f"HTTP {resp.status}", lasting=resp.status in (404, 410))
            if resp.content_length is not None and resp.content_length > max_bytes:
                raise too_big
            body = bytearray()
            async for chunk in resp.content.iter_chunked(64 * 1024):
                body += chunk
                if len(body) > max_bytes:
                    raise too_big
            return bytes(body)
    except TimeoutError:  # before OSError, of which it is a kind
        raise AvatarRefused(f"{timeout_s:g} 秒以内に届きません / timed out after {timeout_s:g} s",
                            lasting=False) from None
    except (aiohttp.ClientError, OSError) as exc:
        raise AvatarRefused(f"取得できません / unreachable: {type(exc).__name__}", lasting=False) from None


def read_avatar(source: str, *, max_bytes: int = MAX_AVATAR_BYTES) -> bytes:
    """A local picture file, within the same size cap as a fetched one."""
    with open(source, "rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise AvatarRefused(f"画像が上限 {max_bytes} バイトを超えています / image larger than the cap of "
                            f"{max_bytes} bytes", lasting=True)
    return data


@dataclass(frozen=True)
class AvatarConfig:
    enabled: bool = True
    max_bytes: int = MAX_AVATAR_BYTES
    timeout_s: float = AVATAR_TIMEOUT_S
    cache_cap: int = CACHE_CAP
    concurrency: int = CONCURRENT_FETCHES
    fetches_per_round: int = FETCHES_PER_ROUND
    failures_per_round: int = FAILURES_PER_ROUND


class AvatarHashes:
    """The hashes of the avatars discovery sees, remembered per URL (a new picture gets a new URL
    on every platform here), so that a round fetches only pictures it has not hashed or refused.
    A round is bounded: per platform, at most `fetches_per_round` new pictures, and none after
    `failures_per_round` did not come; the accounts whose picture was not tried, or did not come,
    are returned by `fill` so that discovery tries them again in its next round."""

    def __init__(self, config: AvatarConfig = AvatarConfig(), hasher: Hasher | None = INSTALLED) -> None:
        self.config = config
        self.hasher: Hasher | None = load_hasher() if hasher is INSTALLED else hasher
        self._known: BoundedMap = BoundedMap(max(config.cache_cap, 1))  # url → hash, or None when refused
        self._limit = asyncio.Semaphore(max(config.concurrency, 1))
        self._told_unavailable = False
        self._fetches = self._failures = 0  # in this round
        self.fetched = 0

    def cached(self) -> int:
        return len(self._known)

    async def fill(self, session: aiohttp.ClientSession, accounts: Iterable[dict[str, Any]]) -> set[str]:
        """Set `avatar_phash` of each account that has an `avatar_url` and no hash yet; an avatar that
        gives no hash leaves it null (the account is published all the same). The ids of the accounts
        whose picture may still come (not tried this round, timed out, unreachable) are returned."""
        wanting = [a for a in accounts if a.get("avatar_url") and not a.get("avatar_phash")]
        if not wanting or not self.config.enabled:
            return set()
        if self.hasher is None:
            if not self._told_unavailable:
                self._told_unavailable = True
                log.warning("avatars_not_hashed", reason=str(AvatarsUnavailable()))
            return set()
        self._fetches = self._failures = 0
        hashes = await asyncio.gather(*(self.phash(session, a["avatar_url"]) for a in wanting))
        later = set()
        for account, phash in zip(wanting, hashes, strict=True):
            if phash is LATER:
                later.add(account["id"])
            else:
                account["avatar_phash"] = phash
        if later:
            log.info("avatars_tried_next_round", accounts=len(later), fetched=self._fetches,
                     failed=self._failures)
        return later

    async def phash(self, session: aiohttp.ClientSession, url: str) -> Any:
        """The picture's hash; None when it gives none (remembered); `LATER` when it may still come."""
        if url in self._known:
            self._known.move_to_end(url)
            return self._known[url]
        assert self.hasher is not None
        cfg = self.config
        try:
            async with self._limit:
                if url in self._known:  # the same picture, asked twice in one round
                    return self._known[url]
                if self._fetches >= cfg.fetches_per_round or self._failures >= cfg.failures_per_round:
                    return LATER
                self._fetches += 1
                self.fetched += 1
                data = await fetch_avatar(session, url, max_bytes=cfg.max_bytes, timeout_s=cfg.timeout_s)
            # Off the event loop: a large PNG takes tens of milliseconds.
            phash = await asyncio.to_thread(self.hasher, data)
        except AvatarRefused as exc:
            log.warning("avatar_not_hashed", url=url[:200], reason=str(exc), remembered=exc.lasting)
            if exc.lasting:
                self._known.put(url, None)
                return None
            self._failures += 1
            return LATER
        self._known.put(url, phash)
        return phash


async def hash_avatar(session: aiohttp.ClientSession, source: str, hasher: Hasher, *,
                      max_bytes: int = MAX_AVATAR_BYTES, timeout_s: float = AVATAR_TIMEOUT_S) -> str:
    """The `avatar_phash` of a picture given as an http(s) URL or a file, the same way discovery
    computes it (for the profile's official accounts), or `AvatarRefused`."""
    if urlsplit(source).scheme in ("http", "https"):
        data = await fetch_avatar(session, source, max_bytes=max_bytes, timeout_s=timeout_s)
    else:
        try:
            data = read_avatar(source, max_bytes=max_bytes)
        except OSError as exc:
            raise AvatarRefused(f"ファイルを読めません / cannot read the file: {exc.strerror}", lasting=True) from None
    return hasher(data)
