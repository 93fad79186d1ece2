// The Now page's live updates: rows are inserted, updated and removed from the
// board's server-sent events. Incident text only ever goes in via textContent.
"use strict";

(() => {
  const main = document.getElementById("now");
  if (!main) return; // the sign-in page loads this file too

  const labels = JSON.parse(main.dataset.labels);
  const tbody = document.getElementById("incidents");
  const empty = document.getElementById("empty");
  const connection = document.getElementById("connection");
  const RANK = { critical: 0, high: 1, medium: 2, low: 3 };
  const COLUMNS = ["type", "target", "severity", "state", "opened_at", "elapsed", "summary"];
  // Japan time, to the minute, like the server's rendering.
  const clockFormat = new Intl.DateTimeFormat("ja-JP", {
    timeZone: "Asia/Tokyo", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", hour12: false,
  });
  const versions = new Map(); // incident_id -> highest version seen, resolved ones included

  const label = (group, value) => labels[`${group}.${value}`] ?? value;
  const fill = (template, values) => template.replace(/\{(\w)\}/g, (_, k) => String(values[k]));

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

  function clock(openedAt) {
    const opened = Date.parse(openedAt);
    return Number.isNaN(opened) ? openedAt : clockFormat.format(opened);
  }

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

  function cell(column, text, className) {
    const td = document.createElement("td");
    td.dataset.label = labels[`col.${column}`];
    if (className) td.className = className;
    td.textContent = text;
    return td;
  }

  function renderRow(incident) {
    const tr = document.createElement("tr");
    tr.dataset.id = incident.incident_id;
    tr.dataset.version = String(incident.version);
    tr.dataset.severity = incident.severity;
    tr.dataset.opened = incident.opened_at;

    const type = cell("type", label("type", incident.type));
    if (incident.drill) {
      const drill = document.createElement("span");
      drill.className = "drill";
      drill.textContent = labels["now.drill"];
      type.append(" ", drill);
    }
    const severity = cell("severity", "");
    const badge = document.createElement("span");
    badge.className = `sev sev-${incident.severity in RANK ? incident.severity : "unknown"}`;
    badge.textContent = label("severity", incident.severity);
    severity.append(badge);
    const opened = cell("opened_at", "");
    const time = document.createElement("time");
    time.dateTime = incident.opened_at;
    time.textContent = clock(incident.opened_at);
    opened.append(time);

    tr.append(
      type,
      cell("target", incident.target),
      severity,
      cell("state", label("state", incident.state)),
      opened,
      cell("elapsed", elapsed(incident.opened_at), "elapsed"),
      cell("summary", incident.summary, "summary"),
    );
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
    if (incident.state !== "resolved" && incident.state !== "closed") {
      const row = renderRow(incident);
      const next = Array.from(tbody.rows).find((other) => before(row, other));
      tbody.insertBefore(row, next ?? null);
    }
    empty.hidden = tbody.rows.length > 0;
  }

  function setConnection(state) {
    connection.dataset.state = state;
    connection.textContent = labels[`conn.${state}`];
  }

  for (const row of tbody.rows) versions.set(row.dataset.id, Number(row.dataset.version));
  setInterval(() => {
    for (const row of tbody.rows) {
      row.querySelector(".elapsed").textContent = elapsed(row.dataset.opened);
    }
  }, 15000);

  function connect() {
    const source = new EventSource("/events");
    source.addEventListener("open", () => setConnection("live"));
    source.addEventListener("snapshot", (event) => {
      // The snapshot is the whole truth after a (re)connect: start over from it.
      tbody.replaceChildren();
      versions.clear();
      for (const incident of JSON.parse(event.data)) show(incident);
      empty.hidden = tbody.rows.length > 0;
    });
    source.addEventListener("incident", (event) => show(JSON.parse(event.data)));
    source.addEventListener("error", () => {
      setConnection("retrying");
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
  connect();
})();
