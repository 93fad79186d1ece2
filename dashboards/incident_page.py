"""The Incident page (事案): what happened (the timeline: who did what, when), the
evidence posts, volume and negativity over time, the drafts with their pre-post
check results, and the actions the signed-in person may take now. Pure HTML."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from dashboards import charts, i18n
from dashboards.actions import DRAFT_LANGS, PREAPPROVED, Offer, Offers, drafts_of
from dashboards.pages import (
    Frame, _e, ack_cell, awaiting_html, clock, csrf_field, layout, severity_badge, t, time_tag,
)
from dashboards.state import Post, actor_name, parse_time
from dashboards.views import row, subject
from vocabulary.records import Incident, TimelineEntry

#: Timeline entries about a delivery that failed, or may not have gone as meant: the failure colour.
TROUBLE = frozenset({"delivery_failed", "channel_failed", "delivery_gave_up", "effect_failed",
                     "delivery_possibly_sent"})
#: Entries nobody will follow up by themselves: a person must check (送信済みの可能性 — 要確認).
NEEDS_PERSON = frozenset({"delivery_possibly_sent"})
#: Actions that end or undo something: the script asks "really?" first.
CONFIRM = frozenset({"resolve", "mark_false_positive", "disaster_mode_off", "reject"})
PRIMARY = frozenset({"acknowledge", "approve", "verify"})


@dataclass(frozen=True)
class Flash:
    kind: str  # accepted | rejected | pending | error
    message: str
    command_id: str = ""


def _label(lang: str, group: str, value: object) -> str:
    return i18n.label(lang, group, value)


def who(lang: str, actor: Mapping[str, Any]) -> str:
    kind = actor.get("kind")
    if kind == "person":
        role = actor.get("role")
        name = actor_name(actor)
        if not role:
            return name
        role_name = _label(lang, "contact.role", role)
        return f"{name}（{role_name}）" if lang == "ja" else f"{name} ({role_name})"
    if kind in ("detector", "clock", "system"):
        return t(lang, f"actor.{kind}")
    if kind == "responder":
        return f"{t(lang, 'actor.responder')}: {_responder(lang, str(actor.get('name', '')))}"
    return actor_name(actor)


def _responder(lang: str, name: str) -> str:
    """A responder's channel in words: x:dry-run → X（ドライラン・未投稿）; board → 状況ボード; a roster
    channel (webhook:ops, email:…) as it is, the operator's own address."""
    platform, _, mode = name.partition(":")
    if mode == "dry-run":
        words = f"{_label(lang, 'platform', platform)}（{t(lang, 'actor.dry_run')}）"
        return words if lang == "ja" else words.replace("（", " (").replace("）", ")")
    return _label(lang, "responder", name)


def describe(lang: str, entry: TimelineEntry) -> str:
    """One line on what an entry means; the whole detail is in the CSV export."""
    d, a = entry.detail, entry.action
    reason = d.get(f"reason_{'ja' if lang == 'ja' else 'en'}")
    if a == "state_changed":
        return f"{_label(lang, 'state', d.get('from'))} → {_label(lang, 'state', d.get('to'))}"
    if a == "command_rejected":
        return f"{_label(lang, 'action', d.get('command'))}: {reason or ''}"
    if a == "incident_opened":
        return f"{_label(lang, 'severity', d.get('severity'))} · {d.get('summary', '')}"
    if a == "delivery_possibly_sent":  # the responder's and the playbook's words, for a person to act on
        message = d.get("message_ja" if lang == "ja" else "message_en") or d.get("message_ja") or ""
        return " · ".join(p for p in (_label(lang, "effect", d.get("kind")) if d.get("kind") else "",
                                      str(message)) if p)
    if a in ("effect_requested", "effect_carried_out", "effect_failed", "delivered", "delivery_failed",
             "delivery_skipped", "delivery_resumed", "notified_on_board", "replies_held", "hold_released"):
        parts = [_label(lang, "effect", d.get("kind"))]
        to = d.get("to")
        if isinstance(to, Mapping):
            parts.append(str(to.get("name", "")))
        elif isinstance(to, str):
            parts.append(to)
        account = d.get("account")
        if isinstance(account, Mapping) and account.get("handle"):
            parts.append(f"@{account['handle']}")
        elif isinstance(account, str):
            parts.append(account)
        if d.get("via"):
            parts.append(str(d["via"]))
        if d.get("code"):  # what kind of trouble, in the reader's language; the technical reason after it
            parts.append(_label(lang, "failure", d["code"]))
        if d.get("error"):
            parts.append(str(d["error"]))
        return " · ".join(p for p in parts if p)
    if a in ("deadline_scheduled", "deadline_stopped", "deadline_passed", "deadline_not_applicable"):
        due = f" {clock(d['due_at'])}" if d.get("due_at") else ""
        return f"{_label(lang, 'deadline', d.get('name'))}{due}" + (f" · {reason}" if reason else "")
    if a in ("escalated", "week_long_flame"):
        return f"{t(lang, 'incident.level')} {d.get('from')} → {d.get('to')}"
    if a == "severity_raised":
        return f"{_label(lang, 'severity', d.get('from'))} → {_label(lang, 'severity', d.get('to'))}"
    if a.startswith("draft_") or a == "warnings_overridden":
        parts = [_label(lang, "draft.kind", d["kind"]) if d.get("kind") else "",
                 str(d.get("draft_id", "")).rsplit(":", 1)[-1].replace("draft", "#"),
                 _label(lang, "draft.status", d["status"]) if d.get("status") else "",
                 str(d.get("reason") or ""), ", ".join(d.get("codes") or ())]
        return " · ".join(p for p in parts if p)
    if a == "post_queued":
        return clock(d.get("until"))
    if a == "fact_checked":
        return str(d.get("source_url", ""))
    if a in ("verified", "account_gone"):
        return f"@{d.get('handle', '')}"
    if a == "acknowledged":
        return f"{t(lang, 'incident.level')} {d.get('level')}"
    if a == "rescue_request_queued":
        return f"{d.get('place') or ''} · {d.get('text') or ''}"
    if a == "rescue_handled":
        return str(d.get("request_id", ""))
    if a == "evidence_added":
        return f"#{d.get('seq')}"
    return _generic(lang, d)


def _generic(lang: str, d: Mapping[str, Any]) -> str:
    """An entry with no line of its own: its kind, 訓練, on/off in words, then two more values under their
    names in the reader's language where known (the whole detail is in the CSV export)."""
    parts = [_label(lang, "effect", d["kind"])] if isinstance(d.get("kind"), str) else []
    if d.get("drill") is True:
        parts.append(t(lang, "now.drill"))
    if isinstance(d.get("on"), bool):
        parts.append(t(lang, "detail.on" if d["on"] else "detail.off"))
    rest = [(k, v) for k, v in d.items() if isinstance(v, str | int | float) and not isinstance(v, bool)
            and k not in ("command_id", "effect_id", "kind", "drill", "on")]
    parts += [f"{_label(lang, 'detail', k)}: {v}" for k, v in rest[:2]]
    return " · ".join(parts)


def _flash(lang: str, flash: Flash | None) -> str:
    if flash is None:
        return ""
    role = "alert" if flash.kind in ("rejected", "error") else "status"
    return (f'<p id="flash" class="flash flash-{_e(flash.kind)}" role="{role}" '
            f'data-command="{_e(flash.command_id)}">{_e(flash.message)}</p>')


def _hidden(name: str, value: object) -> str:
    return f'<input type="hidden" name="{_e(name)}" value="{_e(value)}">'


def _form(frame: Frame, incident: Incident, action: str, inner: str = "", *, label: str | None = None,
          css: str = "", disabled: bool = False) -> str:
    lang = frame.lang
    words = label or _label(lang, "action", action)
    button_css = "primary" if action in PRIMARY else ("danger" if action in CONFIRM else "")
    confirm = f' data-confirm="{_e(t(lang, "confirm." + action))}"' if action in CONFIRM else ""
    return (f'<form method="post" action="/incidents/{_e(incident.incident_id)}/actions" class="action {css}"{confirm}>'
            f"{csrf_field(frame.csrf)}{_hidden('action', action)}{inner}"
            f'<button type="submit" class="{button_css}" name="do" value="{_e(action)}"'
            f'{" disabled" if disabled else ""}>{_e(words)}</button></form>')


def _texts_fields(lang: str, texts: Mapping[str, str] | None = None) -> str:
    texts = texts or {}
    fields = []
    for code in DRAFT_LANGS:
        required = " required" if code == "ja" else ""
        fields.append(f'<label>{_e(t(lang, "form.text_" + code))}'
                      f'<textarea name="text_{code}" rows="{4 if code == "ja" else 3}"{required}>'
                      f'{_e(texts.get(code, ""))}</textarea></label>')
    return "".join(fields)


def _incident_actions(frame: Frame, incident: Incident, offers: Sequence[Offer]) -> str:
    lang = frame.lang
    if frame.user.role == "viewer":
        return f'<p class="muted">{_e(t(lang, "actions.viewer"))}</p>'
    parts = []
    for offer in offers:
        if offer.action == "fact_check":
            inner = (f'<label>{_e(t(lang, "form.source_url"))}<input type="url" name="source_url" required '
                     f'placeholder="https://"></label>')
            parts.append(_form(frame, incident, "fact_check", inner, css="wide"))
        elif offer.action == "draft":
            kinds = "".join(f'<option value="{_e(k)}">{_e(_label(lang, "draft.kind", k))}</option>' for k in offer.kinds)
            categories = f'<option value="">{_e(t(lang, "form.category.none"))}</option>' + "".join(
                f'<option value="{c}">{_e(_label(lang, "category", c))}</option>' for c in PREAPPROVED)
            inner = (f'<label>{_e(t(lang, "form.kind"))}<select name="kind">{kinds}</select></label>'
                     + _texts_fields(lang)
                     + f'<label>{_e(t(lang, "form.category"))}<select name="category">{categories}</select></label>')
            parts.append(f'<details class="new-draft"><summary>{_e(t(lang, "sec.new_draft"))}</summary>'
                         + _form(frame, incident, "draft", inner, css="wide") + "</details>")
        else:
            parts.append(_form(frame, incident, offer.action))
    if not parts:
        return f'<p class="muted">{_e(t(lang, "actions.none"))}</p>'
    return '<div class="actions">' + "".join(parts) + "</div>"


#: Statuses of a draft that will not be posted as it is.
SET_ASIDE = frozenset({"blocked", "rejected"})


def _draft_cards(frame: Frame, incident: Incident, offers: Offers) -> str:
    """The drafts, newest first, each numbered in the order it was made (第2案 · 版 1). One that will not be
    posted (stopped by the pre-post check, sent back) or that a newer draft of its kind replaced is folded
    away under 以前の文案, so that the current one is the one in sight."""
    lang = frame.lang
    drafts = list(drafts_of(incident))
    out = []
    for n, draft in reversed(list(enumerate(drafts, 1))):
        card = _draft_card(frame, incident, draft, offers.drafts.get(str(draft.get("draft_id")), []), n)
        status = str(draft.get("status"))
        replaced = status not in ("approved", "posted") and any(
            later.get("kind") == draft.get("kind") for later in drafts[n:])
        if status in SET_ASIDE or replaced:
            why = t(lang, "draft.replaced") if replaced else _label(lang, "draft.status", status)
            card = (f'<details class="old-draft"><summary>{_e(t(lang, "draft.earlier", n=n, why=why))}'
                    f'</summary>{card}</details>')
        out.append(card)
    return "".join(out)


def _draft_card(frame: Frame, incident: Incident, draft: Mapping[str, Any], offers: Sequence[Offer],
                number: int = 1) -> str:
    lang = frame.lang
    status = str(draft.get("status"))
    texts = draft.get("texts") if isinstance(draft.get("texts"), Mapping) else {}
    body = "".join(
        f'<div class="text"><span class="lang-tag">{_e(_label(lang, "lang", code))}</span>'
        f'<p class="post-text">{_e(text)}</p></div>'
        for code, text in texts.items())
    findings = [f for f in draft.get("findings") or () if isinstance(f, Mapping)]
    overridden = set(draft.get("overridden") or ())
    if findings:
        items = []
        for f in findings:
            excerpt = f" 「{_e(f['excerpt'])}」" if f.get("excerpt") else ""
            confirmed = " · ✓" if f.get("code") in overridden else ""
            message = f.get("message_ja" if lang == "ja" else "message_en")
            items.append(f'<li class="finding finding-{_e(f.get("level"))}">'
                         f'<strong>{_e(_label(lang, "finding", f.get("level")))}</strong> {_e(message)}{excerpt}'
                         f' <small>({_e(_label(lang, "lang", f.get("lang")))}{confirmed})</small></li>')
        checks = f'<ul class="findings">{"".join(items)}</ul>'
    else:
        checks = f'<p class="ok">{_e(t(lang, "draft.checks_ok"))}</p>'
    drafter = draft.get("drafter") if isinstance(draft.get("drafter"), Mapping) else {}
    approval = draft.get("approval") if isinstance(draft.get("approval"), Mapping) else None
    meta = [f'{_e(t(lang, "draft.by"))}: {_e(frame.names(str(drafter.get("name", ""))))} {time_tag(draft.get("at"))}',
            f'{_e(t(lang, "draft.number", n=number))} · {_e(t(lang, "draft.revision"))} {_e(draft.get("revision", 1))}']
    if approval and approval.get("approver"):
        meta.append(f'{_e(t(lang, "draft.approved_by"))}: {_e(frame.names(str(approval.get("approver"))))} '
                    f'{time_tag(approval.get("at"))}')
    if draft.get("category"):
        meta.append(_e(_label(lang, "category", draft.get("category"))))
    if draft.get("reason"):
        meta.append(f'{_e(t(lang, "draft.reason"))}: {_e(draft.get("reason"))}')
    forms = []
    draft_fields = _hidden("draft_id", draft.get("draft_id"))
    for offer in offers:
        if offer.action == "approve":
            if offer.note == "own":
                forms.append(f'<p class="muted">{_e(t(lang, "draft.own"))}</p>')
            else:
                label = t(lang, "action.publish_preapproved") if offer.note == "preapproved" else None
                forms.append(_form(frame, incident, "approve", draft_fields + _hidden("draft_hash", draft.get("hash")),
                                   label=label))
        elif offer.action == "override_warning":
            boxes = "".join(
                f'<label class="check"><input type="checkbox" name="code" value="{_e(f.get("code"))}" checked> '
                f'{_e(f.get("message_ja" if lang == "ja" else "message_en"))}</label>'
                for f in findings if f.get("level") != "block" and f.get("code") not in overridden)
            forms.append(_form(frame, incident, "override_warning", draft_fields
                               + f'<fieldset><legend>{_e(t(lang, "form.codes"))}</legend>{boxes}</fieldset>', css="wide"))
        elif offer.action == "reject":
            inner = draft_fields + (f'<label>{_e(t(lang, "form.reason"))}'
                                    f'<textarea name="reason" rows="2" required></textarea></label>')
            forms.append(f'<details><summary>{_e(_label(lang, "action", "reject"))}</summary>'
                         + _form(frame, incident, "reject", inner, css="wide") + "</details>")
        elif offer.action == "edit_draft":
            forms.append(f'<details><summary>{_e(_label(lang, "action", "edit_draft"))}</summary>'
                         + _form(frame, incident, "edit_draft", draft_fields + _texts_fields(lang, texts), css="wide")
                         + "</details>")
    return f"""<article class="draft draft-{_e(status)}" id="draft-{_e(str(draft.get("draft_id", "")).rsplit(":", 1)[-1])}">
<h3>{_e(_label(lang, "draft.kind", draft.get("kind")))} <span class="status status-{_e(status)}">{_e(_label(lang, "draft.status", status))}</span></h3>
<p class="meta">{" · ".join(meta)}</p>
{body}
<h4>{_e(t(lang, "draft.checks"))}</h4>
{checks}
{'<div class="actions">' + "".join(forms) + "</div>" if forms else ""}
</article>"""


def _row_class(action: str) -> str:
    return " ".join(c for c, on in ((f"tl-{action}", True), ("trouble", action in TROUBLE),
                                    ("needs-person", action in NEEDS_PERSON)) if on)


def _timeline(lang: str, entries: Sequence[TimelineEntry], trimmed: bool) -> str:
    if not entries:
        return f'<p class="empty">{_e(t(lang, "timeline.empty"))}</p>'
    rows = "".join(
        f'<tr data-entry="{_e(e.entry_id)}" class="{_e(_row_class(e.action))}">'
        f'<td data-label="{_e(t(lang, "timeline.when"))}">{time_tag(e.at, seconds=True)}</td>'
        f'<td data-label="{_e(t(lang, "timeline.who"))}">{_e(who(lang, e.actor))}</td>'
        f'<td data-label="{_e(t(lang, "timeline.what"))}">{_e(_label(lang, "tl", e.action))}</td>'
        f'<td data-label="{_e(t(lang, "timeline.detail"))}" class="detail">{_e(describe(lang, e))}</td></tr>'
        for e in reversed(entries))
    note = f'<p class="muted">{_e(t(lang, "timeline.trimmed"))}</p>' if trimmed else ""
    head = "".join(f'<th scope="col">{_e(t(lang, "timeline." + c))}</th>' for c in ("when", "who", "what", "detail"))
    return f'<table class="timeline"><thead><tr>{head}</tr></thead><tbody id="timeline">{rows}</tbody></table>{note}'


#: Evidence posts a page shows, newest first; `?evidence=N` pages back.
EVIDENCE_PAGE = 20


def evidence_page(evidence_ids: Sequence[str], page: int) -> list[str]:
    """The ids page `page` shows (0: the newest EVIDENCE_PAGE), newest first."""
    newest_first = list(reversed(evidence_ids))
    return newest_first[page * EVIDENCE_PAGE:(page + 1) * EVIDENCE_PAGE]


def _evidence(lang: str, posts: Sequence[Post], total: int, page: int = 0) -> str:
    if not posts:
        return f'<p class="empty">{_e(t(lang, "evidence.empty", n=total))}</p>'
    items = "".join(
        f'<li class="post"><p class="post-head"><strong>{_e(p.author_name or p.author)}</strong> '
        f'<span class="muted">@{_e(p.author)} · {_e(p.platform)} · {time_tag(p.at)}</span></p>'
        f'<p class="post-text">{_e(p.text)}</p></li>'
        for p in posts)
    first = page * EVIDENCE_PAGE + 1
    last = min(total, (page + 1) * EVIDENCE_PAGE)
    links = []
    if page > 0:
        links.append(f'<a href="?evidence={page - 1}#evidence" rel="prev">{_e(t(lang, "evidence.newer"))}</a>')
    if last < total:
        links.append(f'<a href="?evidence={page + 1}#evidence" rel="next">{_e(t(lang, "evidence.older"))}</a>')
    pager = (f'<nav class="pager" aria-label="{_e(t(lang, "sec.evidence"))}">'
             f'<span>{_e(t(lang, "evidence.range", first=first, last=last, n=total))}</span> {" ".join(links)}</nav>'
             if total > EVIDENCE_PAGE else "")
    return f'<ul class="posts">{items}</ul>{pager}'


def _charts(lang: str, volume: Sequence[tuple[float, float]], negativity: Sequence[tuple[float, float]]) -> str:
    """The charts that apply: none while no post has been counted (an impersonation's volume stays at 0,
    and a share of no posts means nothing); no empty box is drawn instead."""
    if not any(v > 0 for _, v in volume):
        return ""
    shown = [f'<h3>{_e(t(lang, key))}</h3>{charts.line_chart(series, title=t(lang, key), empty="", percent=percent)}'
             for key, series, percent in (("chart.volume", volume, False), ("chart.negativity", negativity, True))
             if series]
    return f'<section id="charts"><h2>{_e(t(lang, "sec.charts"))}</h2>{"".join(shown)}</section>' if shown else ""


def incident_page(frame: Frame, incident: Incident, *, entries: Sequence[TimelineEntry], trimmed: bool,
                  points: Sequence[tuple[float, float | None, float | None, int]], evidence: Sequence[Post],
                  offers: Offers, flash: Flash | None = None, rev: int = 0, evidence_at: int = 0) -> str:
    lang, m = frame.lang, incident.metrics
    view = row(incident, [], frame.names, frame.who)
    opened = parse_time(incident.opened_at)
    since = i18n.elapsed(lang, frame.now - opened) if opened is not None else ""
    facts = [
        (t(lang, "col.state"), _e(_label(lang, "state", incident.state))),
        (t(lang, "col.awaiting"), awaiting_html(lang, view)),
        (t(lang, "incident.opened"), f"{time_tag(incident.opened_at)} ({_e(since)})"),
        (t(lang, "col.ack_due"), f'<span class="ack" data-ack-due="{_e(view["ack_due"] or "")}" '
                                 f'data-ack-by="{_e(view["acknowledged_by"] or "")}">{_e(ack_cell(lang, view, frame.now))}</span>'),
        (t(lang, "incident.level"), _e(m.get("level") or 1)),
        (t(lang, "incident.updated"), time_tag(incident.updated_at)),
    ]
    if incident.drill:  # one clock: the drill is played onto the real clock (sources/drill.py)
        facts.append((t(lang, "incident.clock"), _e(t(lang, "incident.clock.drill"))))
    if m.get("hold"):
        facts.append((t(lang, "incident.hold"), f"@{_e(incident.target)}"))
    if m.get("source_url"):
        facts.append((t(lang, "incident.source_url"), _e(m["source_url"])))
    restamped = m.get("restamped")
    if isinstance(restamped, dict) and restamped:  # evidence stamped far ahead (streams/detectors/event_time.py)
        first = min(str(r.get("ts_original", "")) for r in restamped.values() if isinstance(r, dict)) \
            if any(isinstance(r, dict) for r in restamped.values()) else ""
        facts.append((t(lang, "incident.restamped"),
                      _e(t(lang, "incident.restamped.value", n=len(restamped), first=first))))
    for key, related in (("incident.previous", incident.previous_incident_id),
                         ("incident.next", incident.next_incident_id)):
        if related:  # the same episode before / after staff resolved it
            facts.append((t(lang, key), f'<a href="/incidents/{quote(related, safe="")}">{_e(related)}</a>'))
    facts_html = "".join(f"<div><dt>{_e(k)}</dt><dd>{v}</dd></div>" for k, v in facts)
    drill = f' <span class="drill">{_e(t(lang, "now.drill"))}</span>' if incident.drill else ""
    volume = [(ts, v) for ts, v, _, _ in points if v is not None]
    negativity = [(ts, n) for ts, _, n, _ in points if n is not None]
    cards = _draft_cards(frame, incident, offers)
    main = f"""<p class="crumb"><a href="/">← {_e(t(lang, "incident.back"))}</a></p>
<h1>{severity_badge(lang, incident.severity)} {_e(_label(lang, "type", incident.type))}{drill} <span class="target">{_e(subject(incident))}</span></h1>
<p class="summary">{_e(incident.summary)}</p>
{_flash(lang, flash)}
<dl class="facts">{facts_html}</dl>
<div class="columns">
<div class="col-main">
<section id="actions"><h2>{_e(t(lang, "sec.actions"))}</h2>
{_incident_actions(frame, incident, offers.incident)}
</section>
<section id="drafts"><h2>{_e(t(lang, "sec.drafts"))}</h2>
{cards or f'<p class="empty">{_e(t(lang, "draft.none"))}</p>'}
</section>
<section id="timeline-section"><h2>{_e(t(lang, "sec.timeline"))}</h2>
{_timeline(lang, entries, trimmed)}
</section>
</div>
<div class="col-side">
{_charts(lang, volume, negativity)}
<section id="evidence"><h2>{_e(t(lang, "sec.evidence"))} <span class="count">{len(incident.evidence_ids)}</span></h2>
{_evidence(lang, evidence, len(incident.evidence_ids), evidence_at)}
</section>
</div>
</div>"""
    title = f"{_label(lang, 'type', incident.type)} {subject(incident)}"
    # The script needs to know which incident this is, to redraw it in place when it changes.
    return layout(frame, title, main, page="incident", live=True, labels=True,
                  attrs={"data-incident": incident.incident_id, "data-version": str(incident.version),
                         "data-rev": str(rev)})
