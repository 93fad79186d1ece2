"""様式 (templates): the documents Noroshi writes for people outside the city hall — the 報道提供
and the website notices — rendered from Jinja2 files that a city may replace with its own.

The shipped files are in `responders/templates/`. `NOROSHI_TEMPLATES_DIR` names a folder whose
files replace them by name, `DIR/<municipality id>/NAME` for one city before `DIR/NAME` for every
city: a 広報課 puts its 様式 in place without touching Python. HTML is escaped automatically, the
plain text is not, and a name the template uses but is not given is an error, never a blank.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

from jinja2 import (ChoiceLoader, Environment, FileSystemLoader, StrictUndefined, TemplateNotFound,
                    TemplateSyntaxError, UndefinedError)
from markupsafe import Markup, escape

from vocabulary.terms import JST

SHIPPED = Path(__file__).with_name("templates")
PAGE = "page.html.j2"  # the page skeleton (style sheet, <head>) the HTML documents extend
PRESS_TEXT = "press_release.txt.j2"
PRESS_HTML = "press_release.html.j2"
NOTICE = "notice.html.j2"
NOTICE_INDEX = "notice_index.html.j2"
#: Every template a city may replace. A city's own partials (`{% include %}`) start with `_`.
NAMES = (PAGE, PRESS_TEXT, PRESS_HTML, NOTICE, NOTICE_INDEX)
#: The documents rendered (the page skeleton only through them).
DOCUMENTS = (PRESS_TEXT, PRESS_HTML, NOTICE, NOTICE_INDEX)
WEEKDAYS = "月火水木金土日"


class TemplateProblem(ValueError):
    """A template that cannot be read or rendered: the file, the line, and what is wrong,
    in Japanese and then in English. Never answered by falling back to the shipped file."""

    def __init__(self, path: str, line: int | None, japanese: str, english: str) -> None:
        where_ja = f"{path} の {line} 行目" if line else path
        where_en = f"{path}, line {line}" if line else path
        super().__init__(f"様式（テンプレート）{where_ja}: {japanese} / template {where_en}: {english}")
        self.path, self.line = path, line


def japanese_datetime(when: datetime) -> str:
    """`when` in Japan time, as official documents write it: 2026年11月22日（日）10時00分."""
    when = when.astimezone(JST) if when.tzinfo else when
    return f"{when.year}年{when.month}月{when.day}日（{WEEKDAYS[when.weekday()]}）{when.hour}時{when.minute:02d}分"


def iso_jst(when: datetime) -> str:
    """`when` in Japan time as ISO 8601 (a `<time datetime>`); naive means Japan time already."""
    return (when.astimezone(JST) if when.tzinfo else when.replace(tzinfo=JST)).isoformat()


def paragraphs(text: str) -> Markup:
    """Escaped `<p>`s for text whose paragraphs are separated by blank lines (a single newline is `<br>`)."""
    blocks = re.split(r"\n\s*\n", str(text).replace("\r\n", "\n").strip())
    return Markup("\n").join(
        Markup("<p>") + Markup("<br>\n").join(escape(line) for line in block.splitlines()) + Markup("</p>")
        for block in blocks
        if block.strip()
    )


FILTERS: dict[str, Callable[..., Any]] = {"ja_datetime": japanese_datetime, "iso_jst": iso_jst,
                                          "paragraphs": paragraphs}


def _autoescape(name: str | None) -> bool:
    # Everything is HTML unless it says it is plain text: a new file is escaped by default.
    return not (name or "").endswith(".txt.j2")


@dataclass(frozen=True)
class Templates:
    """The shipped templates, each replaced by a file of the same name in `folder` when there is one.

    Files are read at every render (documents are rare), so a city's new 様式 counts from the
    next document on, without a restart.
    """

    folder: Path | None = None

    def search_path(self, municipality: str | None = None) -> list[Path]:
        """Where templates are looked for, first match wins: the city's folder, the shared one, ours."""
        path = []
        if self.folder is not None:
            if municipality and _is_folder_name(municipality):
                path.append(self.folder / municipality)
            path.append(self.folder)
        return [*path, SHIPPED]

    def environment(self, municipality: str | None = None) -> Environment:
        loader = ChoiceLoader([FileSystemLoader(str(p), encoding="utf-8") for p in self.search_path(municipality)])
        env = Environment(loader=loader, autoescape=_autoescape, undefined=StrictUndefined, cache_size=0,
                          trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
        env.filters.update(FILTERS)
        return env

    def render(self, name: str, context: Mapping[str, Any], *, municipality: str | None = None) -> str:
        """Template `name` filled with `context`; `TemplateProblem` naming the file and line if it cannot be."""
        try:
            return self.environment(municipality).get_template(name).render(context)
        except Exception as exc:  # whatever a city's file does wrong, it is reported as that file's problem
            raise problem(exc, name, sorted(context)) from None

    def overrides(self, municipality: str | None = None) -> dict[str, Path]:
        """The city's files used instead of the shipped ones (partials `_*.j2` included), by name."""
        found: dict[str, Path] = {}
        for folder in self.search_path(municipality)[:-1]:
            for file in sorted(folder.glob("*.j2")) if folder.is_dir() else ():
                found.setdefault(file.name, file)
        return found

    def check(self, municipality: str | None, samples: Mapping[str, list[dict[str, Any]]]) -> list[TemplateProblem]:
        """Every problem of the city's templates, found by rendering each document with `samples`
        (name → contexts as the senders build them); nothing when the city replaces none."""
        if self.folder is not None and not self.folder.is_dir():
            return [TemplateProblem(str(self.folder), None, "NOROSHI_TEMPLATES_DIR のフォルダがありません",
                                    "the NOROSHI_TEMPLATES_DIR folder does not exist")]
        overrides = self.overrides(municipality)
        problems = [TemplateProblem(str(path), None,
                                    f"この名前の様式はありません（使われません）。使える名前: {', '.join(NAMES)}",
                                    f"no template has this name, so it would never be used; the names are "
                                    f"{', '.join(NAMES)} (a partial's name starts with _)")
                    for name, path in overrides.items() if name not in NAMES and not name.startswith("_")]
        if not overrides:
            return problems
        seen: set[str] = set()
        for name in DOCUMENTS:
            for context in samples.get(name, ()):
                try:
                    self.render(name, context, municipality=municipality)
                except TemplateProblem as exc:
                    if str(exc) not in seen:
                        seen.add(str(exc))
                        problems.append(exc)
        return problems


def _is_folder_name(municipality: str) -> bool:
    return municipality not in (".", "..") and "/" not in municipality and "\\" not in municipality


def problem(exc: BaseException, name: str, available: list[str]) -> TemplateProblem:
    """`exc`, raised while rendering `name`, as the problem of the file and line at fault."""
    if isinstance(exc, TemplateProblem):
        return exc
    if isinstance(exc, TemplateSyntaxError):
        return TemplateProblem(exc.filename or exc.name or name, exc.lineno,
                               f"書き方に誤りがあります（{exc.message}）", f"syntax error: {exc.message}")
    path, line = _failing_line(exc.__traceback__) or (name, None)
    if isinstance(exc, TemplateNotFound):
        return TemplateProblem(path, line, f"読み込む様式 {exc.name} が見つかりません",
                               f"the template it uses, {exc.name}, does not exist")
    if isinstance(exc, UndefinedError):
        names = ", ".join(available)
        return TemplateProblem(path, line, f"この様式にない項目を使っています（{exc.message}）。使える項目: {names}",
                               f"it uses a name the template is not given ({exc.message}); the names are {names}")
    return TemplateProblem(path, line, f"文書を作れません（{type(exc).__name__}: {exc}）",
                           f"cannot be rendered ({type(exc).__name__}: {exc})")


def _failing_line(tb: TracebackType | None) -> tuple[str, int] | None:
    """The innermost template file and line in a traceback Jinja2 has rewritten to point into templates."""
    found = None
    while tb is not None:
        if "__jinja_exception__" in tb.tb_frame.f_globals:
            found = (tb.tb_frame.f_code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    return found


__all__ = ["DOCUMENTS", "NAMES", "NOTICE", "NOTICE_INDEX", "PAGE", "PRESS_HTML", "PRESS_TEXT", "SHIPPED",
           "TemplateProblem", "Templates", "iso_jst", "japanese_datetime", "paragraphs"]
