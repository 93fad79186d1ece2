// The board's live parts, from its server-sent events, on every signed-in page: the Now page's rows
// are inserted, updated and removed; the other pages (事案, 発信, 災害モード, 当番, 月次報告) are
// redrawn in place when what they show changes — fetched again, their <main> swapped, focus, scroll,
// open sections and anything being typed kept (a swap waits while someone types in a form); new
// incidents and disaster mode are announced to screen readers; the acknowledgement deadlines count down; the disaster banner follows disaster mode; the
// 最新ではありません banner shows while the board's feed is not live or the stream is lost; the
// header's 監視 indicator keeps the age of the last heartbeat ticking on every page and turns red
// when it is late (the stream's `heartbeat` events move it on the live pages); the システム状態 page
// redraws its sections from /api/system every few seconds.
// Record text only ever goes in via textContent (never parsed as HTML).
"use strict";

(() => {
  // Forms that end or undo something ask first (data-confirm: no inline script allowed).
  // Once a form is on its way, the page never reloads itself: that would swallow the action.
  let submitting = false;
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (form instanceof HTMLFormElement && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
      return;
    }
    submitting = true;
  });

  // --- 監視: the pipeline's heartbeat (every signed-in page) -----------------------------
  // Its words and data come with the element: pages without the live script's labels tick too.
  const watchEl = document.getElementById("watch");
  const watchBeats = new Map(); // partition -> {at: ms, m: municipality or ""}
  function watchFill(template, values) {
    return String(template || "").replace(/\{(\w+)\}/g, (_, k) => String(values[k]));
  }
  function showWatch() {
    if (!watchEl) return;
    const words = JSON.parse(watchEl.dataset.words || "{}");
    const lateAfter = Number(watchEl.dataset.lateAfter || 180);
    const now = Date.now();
    const ages = new Map(); // partition -> [seconds, municipality]
    for (const [p, beat] of watchBeats) ages.set(p, [Math.max(0, (now - beat.at) / 1000), beat.m]);
    const since = Date.parse(watchEl.dataset.since || "");
    for (const missing of JSON.parse(watchEl.dataset.missing || "[]")) {
      if (!ages.has(missing.p) && !Number.isNaN(since)) ages.set(missing.p, [Math.max(0, (now - since) / 1000), missing.m]);
    }
    const ageText = (seconds) => {
      const s = Math.floor(seconds);
      if (s < 60) return watchFill(words["watch.s"], { n: s });
      if (s < 3600) return watchFill(words["watch.m"], { n: Math.floor(s / 60) });
      return watchFill(words["watch.h"], { n: Math.floor(s / 3600) });
    };
    const late = [...ages.entries()].filter(([, [age]]) => age > lateAfter).sort((a, b) => a[0] - b[0]);
    let state = "waiting";
    let text = words["watch.waiting"];
    if (watchBeats.size || late.length) {
      state = late.length ? "late" : "ok";
      const oldest = watchBeats.size ? Math.max(...[...watchBeats.keys()].map((p) => ages.get(p)[0])) : null;
      text = oldest === null ? words["watch.late_never"] : watchFill(words[`watch.${state}`], { age: ageText(oldest) });
      if (late.length) {
        const parts = late.map(([p, [, m]]) => watchFill(words[m ? "watch.part" : "watch.part_only"], { p, m }));
        text += watchFill(words["watch.missing"], { parts: parts.join(words["watch.sep"]) });
      }
    }
    watchEl.dataset.state = state;
    watchEl.textContent = text;
  }
  function noteHeartbeat(partition, sentAt) {
    const at = Date.parse(sentAt);
    if (Number.isNaN(at)) return;
    const kept = watchBeats.get(partition);
    if (kept && kept.at >= at) return;
    watchBeats.set(partition, { at, m: kept ? kept.m : "" });
    showWatch();
  }
  if (watchEl) {
    for (const beat of JSON.parse(watchEl.dataset.beats || "[]")) {
      const at = Date.parse(beat.at);
      if (!Number.isNaN(at)) watchBeats.set(beat.p, { at, m: beat.m });
    }
    setInterval(showWatch, 1000);
  }

  const main = document.querySelector("main[data-labels]");
  if (!main) return; // the sign-in page

  const labels = JSON.parse(main.dataset.labels);
  const page = document.body.dataset.page;
  const connection = document.getElementById("connection");
  const banner = document.getElementById("disaster-banner");
  const staleBanner = document.getElementById("stale-banner");
  const RANK = { critical: 0, high: 1, medium: 2, low: 3 };
  const ENDED = new Set(["resolved", "closed"]);
  const announcer = document.getElementById("announce");
  const urgent = document.getElementById("announce-urgent");
  const SVG = "http://www.w3.org/2000/svg";

  const label = (group, value) => labels[`${group}.${value}`] ?? String(value);
  const fill = (template, values) => template.replace(/\{(\w+)\}/g, (_, k) => String(values[k]));

  function elapsed(openedAt) {
    const opened = Date.parse(openedAt);
    if (Number.isNaN(opened)) return "";
    const minutes = Math.max(0, Math.floor((Date.now() - opened) / 60000));
    const d = Math.floor(minutes / 1440);
    const h = Math.floor((minutes % 1440) / 60);
    const m = minutes % 60;
    if (d) return fill(labels["elapsed.dh"], { d, h });
    if (h) return fill(labels["elapsed.hm"], { h, m });
    return fill(labels["elapsed.m"], { m });
  }

  function countdown(seconds) {
    const s = Math.abs(Math.trunc(seconds));
    const h = Math.floor(s / 3600);
    if (h) return fill(labels["countdown.hm"], { h, m: Math.floor((s % 3600) / 60) });
    return fill(labels["countdown.ms"], { m: Math.floor(s / 60), s: s % 60 });
  }

  // The acknowledgement deadline: "あと12分30秒", "3分0秒超過", or who acknowledged.
  function ackText(el) {
    if (el.dataset.ackBy) return { text: fill(labels["ack.done"], { name: el.dataset.ackBy }), over: false };
    const due = Date.parse(el.dataset.ackDue || "");
    if (Number.isNaN(due)) return { text: labels["ack.none"], over: false };
    const left = (due - Date.now()) / 1000;
    return { text: fill(labels[left >= 0 ? "ack.left" : "ack.over"], { t: countdown(left) }), over: left < 0 };
  }

  function tick() {
    for (const row of document.querySelectorAll("#incidents tr")) {
      const { text, over } = ackText(row);
      const cell = row.querySelector(".ack");
      if (cell) {
        cell.textContent = text;
        cell.classList.toggle("overdue", over);
      }
    }
    for (const el of document.querySelectorAll("span.ack[data-ack-due]")) {
      const { text, over } = ackText(el);
      el.textContent = text;
      el.classList.toggle("overdue", over);
    }
  }

  function setConnection(state) {
    if (!connection) return;
    connection.dataset.state = state;
    connection.textContent = labels[`conn.${state}`];
  }

  // --- 最新ではありません ------------------------------------------------------------------
  // The page is live only while its stream is up and the stream says the feed is live.
  let feedLive = staleBanner ? staleBanner.hidden : true; // as the server drew the page
  let lastFetch = null;
  let streamUp = null; // null: not connected yet; false: lost
  const jst = new Intl.DateTimeFormat("ja-JP", {
    timeZone: "Asia/Tokyo", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23",
  });
  function showLiveness() {
    if (streamUp) setConnection(feedLive ? "live" : "stale");
    else if (streamUp === false) setConnection("retrying");
    if (!staleBanner) return;
    const lost = streamUp === false;
    staleBanner.hidden = feedLive && !lost;
    const detail = staleBanner.querySelector(".detail");
    if (detail) detail.textContent = labels[lost ? "stale.stream" : "stale.feed"];
    const since = staleBanner.querySelector(".since");
    if (since && lastFetch) {
      const at = Date.parse(lastFetch);
      if (!Number.isNaN(at)) since.textContent = fill(labels["stale.since"], { t: jst.format(at) });
    }
  }

  // --- said to screen readers ----------------------------------------------------------
  // A short sentence in a live region: polite for a new incident, at once for disaster mode. Only
  // what is news: not the page as drawn, nor every change of an incident already known.
  function announce(text, atOnce = false) {
    const region = atOnce ? urgent : announcer;
    if (!region || !text) return;
    if (region.textContent === text) region.textContent = ""; // the same words again are news again
    setTimeout(() => { region.textContent = text; }, 50); // a moment later, so a cleared region speaks again
  }
  const known = new Set(); // incident ids this page has heard of (the snapshot's, then the stream's)
  function noteNew(row) {
    const fresh = !known.has(row.incident_id);
    known.add(row.incident_id);
    if (!fresh || ENDED.has(row.state) || row.type === "disaster") return; // disaster mode says itself
    announce(fill(labels["announce.new"], {
      type: label("type", row.type), target: row.target, severity: label("severity", row.severity),
    }));
  }

  // --- the disaster banner -------------------------------------------------------------
  const disasters = new Map(); // incident_id -> {target, drill}, while its disaster mode is on
  function noteDisaster(row, news = false) {
    if (row.type !== "disaster") return;
    const was = disasters.has(row.incident_id);
    if (row.disaster_mode && !ENDED.has(row.state)) {
      disasters.set(row.incident_id, { target: row.target, drill: Boolean(row.drill) });
    } else disasters.delete(row.incident_id);
    if (!news || was === disasters.has(row.incident_id)) return;
    if (was) announce(labels["announce.disaster_off"]);
    else announce(fill(labels["announce.disaster_on"], { tags: `#${row.target}` + (row.drill ? `（${label("banner", "drill")}）` : "") }), true);
  }
  function showBanner() {
    if (!banner) return;
    banner.hidden = disasters.size === 0;
    const shown = Array.from(disasters.values());
    const drillWord = label("banner", "drill");
    const tags = banner.querySelector(".tags");
    if (tags) tags.textContent = shown.map((d) => `#${d.target}` + (d.drill ? `（${drillWord}）` : "")).join("、");
    const drill = banner.querySelector(".drill"); // 訓練 when every disaster shown is a drill
    if (drill) drill.hidden = !(shown.length > 0 && shown.every((d) => d.drill));
  }

  // --- the Now page --------------------------------------------------------------------
  const tbody = document.getElementById("incidents");
  const empty = document.getElementById("empty");
  const multi = document.querySelector("table.incidents")?.dataset.multi === "true";
  const versions = new Map(); // incident_id -> highest version seen, ended ones included

  function sortKey(row) {
    const rank = RANK[row.dataset.severity] ?? 4;
    const opened = Date.parse(row.dataset.opened);
    return [rank, Number.isNaN(opened) ? Infinity : opened];
  }

  function before(a, b) {
    const [ra, oa] = sortKey(a);
    const [rb, ob] = sortKey(b);
    return ra !== rb ? ra < rb : oa < ob;
  }

  function cell(column, className) {
    const td = document.createElement("td");
    td.dataset.label = labels[`col.${column}`];
    if (className) td.className = className;
    return td;
  }

  // The same line as the server's charts.sparkline.
  function sparkline(values) {
    const width = 96, height = 24, pad = 2;
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("class", "spark");
    svg.setAttribute("viewBox", `0 0 ${width} ${height}`);
    svg.setAttribute("width", String(width));
    svg.setAttribute("height", String(height));
    svg.setAttribute("role", "img");
    svg.setAttribute("aria-label", values.length
      ? `${labels["col.volume"]}: ${values.map((v) => String(Math.round(v * 10) / 10)).join(", ")}` : labels["col.volume"]);
    if (!values.length) return svg;
    const low = Math.min(...values), high = Math.max(...values);
    const span = high - low || 1;
    const step = (width - 2 * pad) / Math.max(1, values.length - 1);
    const y = (v) => (height - pad - ((v - low) / span) * (height - 2 * pad)).toFixed(1);
    const points = values.map((v, i) => `${(pad + i * step).toFixed(1)},${y(v)}`);
    if (values.length === 1) points.push(`${(width - pad).toFixed(1)},${y(values[0])}`);
    const line = document.createElementNS(SVG, "polyline");
    line.setAttribute("points", points.join(" "));
    svg.append(line);
    return svg;
  }

  function renderRow(incident) {
    const tr = document.createElement("tr");
    tr.dataset.id = incident.incident_id;
    tr.dataset.version = String(incident.version);
    tr.dataset.severity = incident.severity;
    tr.dataset.opened = incident.opened_at;
    tr.dataset.ackDue = incident.ack_due || "";
    tr.dataset.ackBy = incident.acknowledged_by || "";

    const severity = cell("severity", "sev-cell");
    const badge = document.createElement("span");
    badge.className = `sev sev-${incident.severity in RANK ? incident.severity : "unknown"}`;
    badge.textContent = label("severity", incident.severity);
    severity.append(badge);

    const type = cell("type", "type");
    const link = document.createElement("a");
    link.className = "open";
    link.href = `/incidents/${encodeURIComponent(incident.incident_id)}`;
    link.textContent = label("type", incident.type);
    type.append(link);
    if (incident.drill) {
      const drill = document.createElement("span");
      drill.className = "drill";
      drill.textContent = labels["now.drill"];
      type.append(" ", drill);
    }

    const target = cell("target", "target");
    if (multi) {
      const muni = document.createElement("small");
      muni.className = "muni";
      muni.textContent = incident.municipality;
      target.append(muni, " ");
    }
    target.append(incident.target);

    const state = cell("state", "state");
    state.textContent = label("state", incident.state);
    const awaiting = cell("awaiting", "awaiting");
    awaiting.textContent = incident.awaiting ? label("action", incident.awaiting) : labels["awaiting.none"];
    if (incident.awaiting && incident.awaiting_role) {  // who must take the step now (pages.awaiting_html)
      const role = label("contact.role", incident.awaiting_role);
      const people = incident.awaiting_people || [];
      const who = document.createElement("small");
      who.className = "who";
      who.textContent = people.length
        ? fill(labels["awaiting.who"], { role, people: people.join(labels["list.sep"]) })
        : fill(labels["awaiting.nobody"], { role });
      const box = document.createElement("span");  // one box in a phone's card (pages.awaiting_html)
      box.append(awaiting.textContent, document.createElement("br"), who);
      awaiting.replaceChildren(box);
    }
    const since = cell("elapsed", "elapsed");
    since.textContent = elapsed(incident.opened_at);
    const ack = cell("ack_due", "ack");
    const { text, over } = ackText(tr);
    ack.textContent = text;
    ack.classList.toggle("overdue", over);
    const volume = cell("volume", "volume");
    volume.append(sparkline(incident.volume || []));
    const summary = cell("summary", "summary");
    summary.textContent = incident.summary;

    tr.append(severity, type, target, state, awaiting, since, ack, volume, summary);
    return tr;
  }

  function rowFor(id) {
    for (const row of tbody.rows) if (row.dataset.id === id) return row;
    return null;
  }

  function show(incident) {
    const known = versions.get(incident.incident_id);
    if (known !== undefined && known >= incident.version) return; // a redelivery
    versions.set(incident.incident_id, incident.version);
    rowFor(incident.incident_id)?.remove();
    if (!ENDED.has(incident.state)) {
      const row = renderRow(incident);
      const next = Array.from(tbody.rows).find((other) => before(row, other));
      tbody.insertBefore(row, next ?? null);
    }
    empty.hidden = tbody.rows.length > 0;
  }

  // --- redrawn in place: every page but Now and システム状態 --------------------------------
  // What the page shows changed: fetch it again and swap its <main>. Never a reload: a screen reader
  // keeps its place, focus stays where it was (the same link, button or field in the new content),
  // so do the scroll position and the sections someone opened. While someone is typing in one of the
  // page's forms, the swap waits (a note says there is news) until they leave it or ask for it.
  const incidentId = main.dataset.incident;
  let shownVersion = Number(main.dataset.version || 0);
  const note = document.getElementById("update-note");
  const FOLLOWS = { // which changes each page redraws for
    incident: (row) => row.incident_id === incidentId && row.version > shownVersion,
    disaster: (row) => row.type === "disaster",
    outbound: () => true,
    oncall: () => true,
    report: () => true,
  };
  let refreshTimer = null;
  let fetching = false;
  let wanted = false;
  let held = null; // a newer <main>, waiting for someone to finish typing
  let redraws = 0;

  function changed(field) {
    if (field.type === "checkbox" || field.type === "radio") return field.checked !== field.defaultChecked;
    if (field.tagName === "SELECT") { // drawn with no option marked: the first one is the default
      const marked = Array.from(field.options).findIndex((o) => o.defaultSelected);
      return field.selectedIndex !== Math.max(0, marked);
    }
    return field.value !== field.defaultValue;
  }
  const fields = (root) => Array.from(root.querySelectorAll("textarea, select, input:not([type=hidden])"));
  function editing() {
    return fields(main).some(changed) || document.activeElement?.closest?.("main form") != null;
  }

  // Names an element by what it is, so that its twin in the new content can be found.
  function formKey(form) {
    const value = (name) => form.querySelector(`input[type=hidden][name=${name}]`)?.value ?? "";
    return `${form.getAttribute("action")}|${value("action")}|${value("draft_id")}|${value("request_id")}`;
  }
  function keyOf(el) {
    if (el.id) return `#${el.id}`;
    const form = el.closest("form");
    const words = ["A", "BUTTON", "SUMMARY"].includes(el.tagName) ? el.textContent.trim() : "";
    const details = el.closest("details")?.querySelector("summary")?.textContent.trim() ?? "";
    return [el.tagName, el.getAttribute("href"), el.getAttribute("name"), el.getAttribute("value"),
      form ? formKey(form) : "", details, words].join("|");
  }
  function twin(key) {
    for (const el of main.querySelectorAll("a, button, input, select, textarea, summary, [tabindex]")) {
      if (keyOf(el) === key) return el;
    }
    return null;
  }

  function apply(keepTyping = false) {
    if (!held || submitting) return;
    if (!keepTyping && editing()) {
      if (note) note.hidden = false;
      return;
    }
    const fresh = held;
    held = null;
    const active = main.contains(document.activeElement) && document.activeElement !== main
      ? keyOf(document.activeElement) : null;
    const opened = new Set(Array.from(main.querySelectorAll("details[open]"), (d) => keyOf(d.querySelector("summary") ?? d)));
    const typed = fields(main).filter(changed).map((f) => [keyOf(f), f.type === "checkbox" || f.type === "radio" ? f.checked : f.value]);
    const y = window.scrollY;
    main.replaceChildren(...Array.from(fresh.childNodes)); // a copy: moving them empties the live list
    for (const [name, value] of Object.entries(fresh.dataset)) main.dataset[name] = value;
    for (const d of main.querySelectorAll("details")) if (opened.has(keyOf(d.querySelector("summary") ?? d))) d.open = true;
    let first = null;
    for (const [key, value] of typed) {
      const field = twin(key);
      if (!field) continue;
      if (typeof value === "boolean") field.checked = value;
      else field.value = value;
      field.closest("details")?.setAttribute("open", "");
      first ??= field;
    }
    window.scrollTo(window.scrollX, y);
    const focus = (keepTyping ? first : null) ?? (active ? twin(active) : null);
    if (focus) focus.focus({ preventScroll: true });
    else if (active || keepTyping) main.focus({ preventScroll: true });
    if (note) note.hidden = true;
    shownVersion = Number(main.dataset.version || 0);
    redraws += 1;
    main.dataset.redraws = String(redraws); // for people and tests: how often it was redrawn
    tick();
    if (page === "incident") announce(labels["announce.updated"]);
    awaitAnswer();
  }

  async function pull() {
    refreshTimer = null;
    if (fetching || submitting) {
      wanted = true;
      return;
    }
    fetching = true;
    wanted = false;
    try {
      const response = await fetch(window.location.href, { credentials: "same-origin", headers: { Accept: "text/html" } });
      if (new URL(response.url).pathname === "/login") {
        window.location.assign("/login"); // the session ended
        return;
      }
      const doc = new DOMParser().parseFromString(await response.text(), "text/html");
      const fresh = doc.querySelector("main");
      if (fresh && fresh.id === main.id) {
        held = fresh;
        apply();
      }
    } catch (_) {
      // the board is unreachable: the connection indicator says so, and the next change asks again
    } finally {
      fetching = false;
      if (wanted) refresh();
    }
  }

  // The month's figures are read from the archive on the server: in a busy disaster, incidents
  // change many times a second, and the report needs them every few seconds at most.
  const DELAY_MS = { report: 5000 };

  function refresh() {
    if (!(page in FOLLOWS)) return;
    if (!refreshTimer) refreshTimer = setTimeout(pull, DELAY_MS[page] ?? 300);
  }

  // Someone left the form, or asked for the news: show it.
  main.addEventListener("focusout", () => setTimeout(() => { if (held && !editing()) apply(); }, 0));
  document.getElementById("update-apply")?.addEventListener("click", () => apply(true));

  // An action still waiting for the playbook's answer: look again shortly, in case the answer
  // came between this page's rendering and its stream connecting (a bounded number of times).
  let waits = 0;
  function awaitAnswer() {
    if (!document.querySelector("main #flash.flash-pending[data-command]") || waits >= 20) return;
    waits += 1;
    setTimeout(refresh, 1500);
  }
  awaitAnswer();

  // --- the stream ----------------------------------------------------------------------
  let snapshots = 0;
  function connect() {
    // The Incident page says which revision it shows: the board answers "stale" if it has moved on.
    const source = new EventSource(incidentId
      ? `/events?incident=${encodeURIComponent(incidentId)}&rev=${encodeURIComponent(main.dataset.rev || "")}`
      : "/events");
    source.addEventListener("open", () => {
      streamUp = true;
      showLiveness();
    });
    source.addEventListener("feed", (event) => {
      const status = JSON.parse(event.data);
      feedLive = status.live === true;
      lastFetch = status.last_fetch || lastFetch;
      showLiveness();
    });
    source.addEventListener("heartbeat", (event) => {
      const beat = JSON.parse(event.data);
      noteHeartbeat(beat.partition, beat.sent_at);
    });
    source.addEventListener("snapshot", (event) => {
      const rows = JSON.parse(event.data);
      feedLive = true; // the board says "feed" right after the snapshot when it is not live
      showLiveness();
      const before = new Set(disasters.keys());
      disasters.clear();
      for (const row of rows) {
        noteDisaster(row);
        if (snapshots > 0 && !before.has(row.incident_id)) {
          disasters.delete(row.incident_id); // started while the stream was down: news
          noteDisaster(row, true);
        }
        if (snapshots > 0) noteNew(row);
        else known.add(row.incident_id);
      }
      showBanner();
      if (page === "now") {
        // The snapshot is the whole truth after a (re)connect: start over from it.
        tbody.replaceChildren();
        versions.clear();
        for (const row of rows) show(row);
        empty.hidden = tbody.rows.length > 0;
      } else if (snapshots > 0) {
        refresh(); // reconnected: something may have happened meanwhile
      }
      snapshots += 1;
    });
    source.addEventListener("incident", (event) => {
      const row = JSON.parse(event.data);
      noteDisaster(row, true);
      showBanner();
      noteNew(row);
      if (page === "now") show(row);
      else if (FOLLOWS[page]?.(row)) refresh();
    });
    source.addEventListener("stale", () => {
      if (page === "incident") refresh();
    });
    source.addEventListener("timeline", (event) => {
      const entry = JSON.parse(event.data);
      if (page === "incident" && entry.incident_id === incidentId) refresh();
    });
    source.addEventListener("error", () => {
      streamUp = false;
      showLiveness();
      if (source.readyState !== EventSource.CLOSED) return; // the browser retries by itself
      // Refused outright (e.g. the session expired): find out why, then retry or sign in.
      setTimeout(async () => {
        try {
          const response = await fetch("/api/incidents", { credentials: "same-origin" });
          if (response.status === 401) {
            window.location.assign("/login");
            return;
          }
        } catch (_) {
          // the board is unreachable; keep trying
        }
        connect();
      }, 5000);
    });
  }

  // --- システム状態: asks /api/system again every few seconds ------------------------------
  // The server sends each section already in the page's language; only text goes in.
  function showSystem(view) {
    const updated = document.getElementById("system-updated");
    if (updated) updated.textContent = view.updated;
    const alerts = document.getElementById("system-alerts");
    if (alerts) {
      alerts.replaceChildren(...view.alerts.map((text) => {
        const li = document.createElement("li");
        li.textContent = text;
        return li;
      }));
      alerts.hidden = view.alerts.length === 0;
    }
    for (const section of view.sections) {
      const el = document.getElementById(`sys-${section.id}`);
      if (!el) continue;
      const note = el.querySelector(".note");
      if (note) {
        note.textContent = section.note;
        note.hidden = !section.note;
      }
      const body = el.querySelector("tbody");
      if (body) {
        body.replaceChildren(...section.rows.map((row) => {
          const tr = document.createElement("tr");
          tr.className = row.css;
          row.cells.forEach((cell, i) => {
            const td = document.createElement("td");
            td.dataset.label = section.columns[i] ?? "";
            td.className = cell.css;
            td.textContent = cell.text;
            tr.append(td);
          });
          return tr;
        }));
      }
      const table = el.querySelector("table");
      if (table) table.hidden = section.rows.length === 0;
      const empty = el.querySelector(".empty");
      if (empty) {
        empty.textContent = section.empty;
        empty.hidden = section.rows.length > 0;
      }
    }
  }
  if (page === "system") {
    const every = Math.max(1, Number(main.dataset.refresh || 5)) * 1000;
    let asking = false;
    setInterval(async () => {
      if (asking) return; // the last question is still out (each process has ~2 s to answer)
      asking = true;
      try {
        const response = await fetch(`/api/system?lang=${encodeURIComponent(main.dataset.lang || "ja")}`,
          { credentials: "same-origin" });
        if (response.status === 401 || response.status === 403) {
          window.location.assign("/login");
          return;
        }
        if (response.ok) showSystem(await response.json());
      } catch (_) {
        // the board is unreachable: the stream's indicator and the 最新ではありません banner say so
      } finally {
        asking = false;
      }
    }, every);
  }

  if (page === "now") {
    for (const row of tbody.rows) versions.set(row.dataset.id, Number(row.dataset.version));
    setInterval(() => {
      for (const row of tbody.rows) row.querySelector(".elapsed").textContent = elapsed(row.dataset.opened);
    }, 15000);
  }
  setInterval(tick, 1000);
  connect();
})();
