// The dispatch board: timeline per therapist, route map, unassigned visits, plan and apply.
// Plain JavaScript with no build step, so the page works offline from what the server ships.
(function () {
  "use strict";
  const SETTINGS = { home: "Home", hospital: "Hospital", assisted_living: "Assisted living", hospice: "Hospice", rehab: "Rehab", nursing_home: "Nursing home" };
  // The x axis runs from the earliest shift start (or travel) to the latest shift end, in whole hours.
  let DAY_START = 7 * 60, DAY_END = 21 * 60;
  const $ = (sel) => document.querySelector(sel);
  let data = null, planId = null;
  let ready = null;  // {id, day} of a succeeded plan not yet applied

  function csrf() {
    const m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  async function api(method, url, body) {
    const res = await fetch(url, {
      method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf(), Accept: "application/json" },
      body: body ? JSON.stringify(body) : undefined,
    });
    const json = await res.json().catch(() => ({}));
    return { status: res.status, json };
  }
  // Minutes from the board day's midnight: a shift that ends at midnight ends at 1440, not at 0.
  const minutes = (iso) => {
    const t = iso.slice(11, 16).split(":"), day = iso.slice(0, 10);
    return +t[0] * 60 + +t[1] + (day > data.date ? 1440 : day < data.date ? -1440 : 0);
  };
  const hhmm = (iso) => (iso ? iso.slice(11, 16) : "");
  const pct = (m) => (100 * (Math.min(Math.max(m, DAY_START), DAY_END) - DAY_START)) / (DAY_END - DAY_START);
  function el(tag, cls, style, text) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (style) Object.assign(e.style, style);
    if (text) e.textContent = text;
    return e;
  }
  const span = (a, b) => ({ left: pct(a) + "%", width: Math.max(pct(b) - pct(a), 0.3) + "%" });
  // One colour per therapist, shared by the timeline's name chip and the map's route.
  const colour = (i) => `hsl(${(i * 137) % 360} 65% 45%)`;

  function legend() {
    const box = $("#legend");
    box.replaceChildren();
    for (const [key, label] of Object.entries(SETTINGS)) {
      const item = el("span", null, null, label);
      const swatch = el("i", null, { background: `var(--${key})` });
      item.prepend(swatch);
      box.append(item);
    }
    const keys = el("span", "keys muted");
    for (const [cls, label] of [["shift", "shift"], ["travel", "travel"], ["buffer", "interruption buffer"],
      ["break", "planned break"], ["break window", "break window"]]) {
      const item = el("span", null, null, label);
      item.prepend(el("i", `key ${cls}`));
      keys.append(item);
    }
    box.append(keys);
  }

  function axis(nowMin) {
    const marks = [];
    for (const t of data.therapists) {
      for (const s of t.shifts) marks.push(minutes(s.start), minutes(s.end));
      for (const b of t.breaks) marks.push(minutes(b.start), minutes(b.end));
      for (const v of t.visits) marks.push(minutes(v.start) - (v.travel_min || 0), minutes(v.busy_until || v.end));
    }
    if (nowMin !== null) marks.push(nowMin);
    if (!marks.length) { DAY_START = 7 * 60; DAY_END = 21 * 60; return; }
    DAY_START = Math.max(0, Math.floor(Math.min(...marks) / 60) * 60);
    DAY_END = Math.min(24 * 60, Math.ceil(Math.max(...marks) / 60) * 60);
    if (DAY_END - DAY_START < 4 * 60) DAY_END = Math.min(24 * 60, DAY_START + 4 * 60);
  }

  function timeline() {
    const box = $("#timeline");
    box.replaceChildren();
    const nowMin = data.date === data.today ? minutes(data.now) : null;
    axis(nowMin);
    const hours = el("div", "hours");
    hours.append(el("div", null, null, "Therapist"));
    const scale = el("div", "scale");
    const step = DAY_END - DAY_START > 14 * 60 ? 2 : 1;
    for (let h = DAY_START / 60; h <= DAY_END / 60; h += step) scale.append(el("span", "tick", { left: pct(h * 60) + "%" }, `${h}:00`));
    hours.append(scale);
    box.append(hours);
    data.therapists.forEach((t, i) => {
      const row = el("div", "row");
      row.dataset.therapist = t.id;
      const name = el("div", "name", null, t.name);
      name.prepend(el("i", "chip", { background: colour(i) }));
      name.title = `${t.name} · ${t.visits.length} visits (click to show the route on the map)`;
      name.addEventListener("click", () => pick(t.id));
      const track = el("div", "track");
      for (const s of t.shifts) track.append(el("div", "shift", span(minutes(s.start), minutes(s.end))));
      for (const b of t.breaks) {
        const start = minutes(b.start), end = minutes(b.end);
        const block = el("div", b.planned ? "break" : "break window", { ...span(start, end), order: start });
        const label = b.planned ? `Break ${hhmm(b.start)}–${hhmm(b.end)}` : `Break window ${hhmm(b.start)}–${hhmm(b.end)}`;
        block.title = label;
        block.append(el("span", "label", null, label));
        track.append(block);
      }
      for (const v of t.visits) {
        const start = minutes(v.start), end = minutes(v.end), busy = minutes(v.busy_until);
        if (v.travel_min) {
          const travel = el("div", "travel", span(start - v.travel_min, start));
          travel.title = `${v.travel_min} min travel`;
          track.append(travel);
        }
        if (busy > end) track.append(el("div", "buffer", { ...span(end, busy), background: `var(--${v.care_setting})` }));
        const block = el("button", `visit ${v.status}`, { ...span(start, end), background: `var(--${v.care_setting})`, order: start });
        block.append(el("b", null, null, `${hhmm(v.start)}`), el("span", "until", null, `–${hhmm(v.end)}`), ` ${v.patient}`);
        const where = [v.location, SETTINGS[v.care_setting]];
        if (v.travel_min) where.push(`${v.travel_min} min travel before`);
        block.append(el("span", "where", null, where.join(" · ")));
        block.dataset.visit = v.id;
        block.title = `${hhmm(v.start)}–${hhmm(v.end)} ${v.patient} · ${v.location} (${SETTINGS[v.care_setting]}) · ${v.status.replace("_", " ")}`;
        block.addEventListener("click", () => details(v, t.name));
        track.append(block);
      }
      if (!t.shifts.length && !t.visits.length) track.append(el("span", "off muted", null, "Not working this day"));
      if (nowMin !== null) {
        const now = el("div", "now", { left: pct(nowMin) + "%" });
        now.title = `Now ${hhmm(data.now)}`;
        track.append(now);
      }
      row.append(name, track);
      box.append(row);
    });
  }

  function details(v, therapist) {
    const body = $("#details-body");
    body.replaceChildren(el("h2", null, null, `Visit ${v.id} · ${v.patient}`));
    const dl = el("dl");
    const rows = [
      ["When", v.start ? `${hhmm(v.start)}–${hhmm(v.end)} (buffer to ${hhmm(v.busy_until)})` : "not scheduled"],
      ["Where", v.location], ["Setting", SETTINGS[v.care_setting]], ["Therapist", therapist || "—"],
      ["Travel before", v.travel_min ? `${v.travel_min} min` + (v.travel_km ? `, ${v.travel_km} km` : "") : "—"],
      ["Duration", `${v.duration_min} min + ${v.buffer_min} min buffer`], ["Priority", v.priority],
      ["Skills", v.skills.join(", ") || "—"], ["Status", v.status],
      ["Windows", v.windows.map((w) => `${hhmm(w.start)}–${hhmm(w.end)}`).join(", ")],
    ];
    if (v.reason) rows.push(["Why open", v.reason]);
    for (const [k, val] of rows) dl.append(el("dt", null, null, k), el("dd", null, null, val));
    body.append(dl);
    $("#details").hidden = false;
  }

  function map() {
    const svg = $("#map");
    if (!svg) return;
    const NS = "http://www.w3.org/2000/svg";
    const mk = (tag, attrs, text) => {
      const e = document.createElementNS(NS, tag);
      for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
      if (text) { const t = document.createElementNS(NS, "title"); t.textContent = text; e.append(t); }
      return e;
    };
    const points = [];
    for (const t of data.therapists) { points.push(t.home); t.visits.forEach((v) => points.push(v)); }
    data.facilities.forEach((f) => points.push(f));
    data.unassigned.forEach((v) => points.push(v));
    svg.replaceChildren();
    if (!points.length) return;
    const lats = points.map((p) => p.lat), lons = points.map((p) => p.lon);
    const minLat = Math.min(...lats), maxLat = Math.max(...lats), minLon = Math.min(...lons), maxLon = Math.max(...lons);
    // Equirectangular with cos(latitude): right for a city, and needs no tile server.
    const k = Math.cos(((minLat + maxLat) / 2) * Math.PI / 180);
    const w = Math.max((maxLon - minLon) * k, 1e-6), h = Math.max(maxLat - minLat, 1e-6);
    const s = Math.min(560 / w, 380 / h);
    const xy = (p) => [20 + (p.lon - minLon) * k * s, 400 - (p.lat - minLat) * s];
    // A scale bar (a degree of latitude is 111.2 km) and north, since there are no tiles to read them from.
    const km = [1, 2, 5, 10, 20, 50].filter((d) => (d / 111.2) * s <= 140).pop() || 1;
    const len = (km / 111.2) * s;
    svg.append(mk("path", { d: `M${590 - len},408 v6 h${len} v-6`, fill: "none", stroke: "#555", "stroke-width": 1.5, class: "scale" }));
    svg.append(mk("text", { x: 590 - len / 2, y: 404, "text-anchor": "middle", "font-size": 11, fill: "#555" }, null));
    svg.lastChild.textContent = `${km} km`;
    svg.append(mk("text", { x: 584, y: 18, "text-anchor": "middle", "font-size": 12, fill: "#555" }, null));
    svg.lastChild.textContent = "N ↑";
    const key = $("#map-legend");
    key.replaceChildren();
    data.therapists.forEach((t, i) => {
      const route = colour(i);
      if (t.visits.length) {
        const item = el("button", "quiet route-key", null, t.name);
        item.type = "button";
        item.prepend(el("i", "line", { background: route }));
        item.addEventListener("click", () => pick(t.id));
        key.append(item);
      }
    });
    for (const [cls, label] of [["square", "facility (hover for its name)"], ["dot", "home visit"],
      ["ring", "therapist's home base"], ["ring dashed", "unassigned visit"]]) {
      const item = el("span", null, null, label);
      item.prepend(el("i", `mark ${cls}`));
      key.append(item);
    }
    data.therapists.forEach((t, i) => {
      const route = colour(i);
      const path = [t.home, ...t.visits, t.home].map(xy).map((c) => c.join(",")).join(" ");
      if (t.visits.length) {
        const line = mk("polyline", { points: path, fill: "none", stroke: route, "stroke-width": 2, opacity: 0.8 }, t.name);
        line.dataset.therapist = t.id;
        svg.append(line);
      }
      const [hx, hy] = xy(t.home);
      const base = mk("circle", { cx: hx, cy: hy, r: 4, fill: "#fff", stroke: route, "stroke-width": 2 }, `${t.name} (home base)`);
      base.dataset.therapist = t.id;
      svg.append(base);
      for (const v of t.visits) if (v.care_setting === "home") {
        const [x, y] = xy(v);
        const dot = mk("circle", { cx: x, cy: y, r: 3.5, fill: route, class: "visit-dot" }, `${hhmm(v.start)} ${v.patient} (${t.name})`);
        dot.dataset.therapist = t.id;
        dot.addEventListener("click", () => details(v, t.name));
        svg.append(dot);
      }
    });
    for (const f of data.facilities) {
      const [x, y] = xy(f);
      svg.append(mk("rect", { x: x - 5, y: y - 5, width: 10, height: 10, fill: `var(--${f.kind})`, stroke: "#222" }, f.name));
    }
    for (const v of data.unassigned) {
      const [x, y] = xy(v);
      svg.append(mk("circle", { cx: x, cy: y, r: 3, fill: "none", stroke: "#999", "stroke-dasharray": "2 2" }, `Unassigned: ${v.patient}`));
    }
  }

  // One therapist's route stands out on the map and their row on the timeline; picking them again clears it.
  let picked = null;
  function pick(id) {
    picked = picked === id ? null : id;
    document.querySelectorAll(".row").forEach((r) => r.classList.toggle("picked", +r.dataset.therapist === picked));
    document.querySelectorAll("#map [data-therapist]").forEach((e) => {
      const mine = +e.dataset.therapist === picked;
      e.classList.toggle("picked", mine);
      e.classList.toggle("faded", picked !== null && !mine);
    });
  }

  function unassigned() {
    const list = $("#unassigned");
    if (!list) return;
    list.replaceChildren();
    $("#unassigned-count").textContent = `(${data.unassigned.length})`;
    // A count per reason first: what to do about the open requests, before the list itself.
    const codes = {};
    for (const v of data.unassigned) codes[v.code] = (codes[v.code] || 0) + 1;
    const summary = $("#unassigned-summary");
    summary.replaceChildren();
    for (const [code, n] of Object.entries(codes).sort((a, b) => b[1] - a[1])) {
      summary.append(el("span", "reason-count", null, `${n} × ${code.replaceAll("_", " ")}`));
    }
    // What needs a coordinator's decision first; requests merely waiting for a plan or its apply last.
    const waiting = (v) => (v.code === "not_planned" || v.code === "planned_not_applied" ? 1 : 0);
    const open = [...data.unassigned].sort((a, b) => waiting(a) - waiting(b) || (codes[b.code] - codes[a.code])
      || a.code.localeCompare(b.code) || a.location.localeCompare(b.location));
    for (const v of open) {
      const li = el("li", null, null, `${v.patient} · ${v.location} — ${v.reason}`);
      li.addEventListener("click", () => details(v, null));
      list.append(li);
    }
  }

  async function load() {
    const day = $("#day").value;
    const res = await fetch(`/board/data?date=${day}`, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!res.ok || !(res.headers.get("Content-Type") || "").includes("json")) {
      // An expired session answers with the login page; say so rather than draw nothing.
      $("#timeline").replaceChildren(el("p", "notice-line", null,
        res.status === 400 ? "That is not a date the board can show." : "Could not load the board: please reload the page and log in again."));
      return;
    }
    data = await res.json();
    legend(); timeline(); map(); unassigned();
    if (picked !== null) { const again = picked; picked = null; pick(again); }
    document.body.dataset.loads = (+document.body.dataset.loads || 0) + 1;  // tests wait on a reload
  }

  async function plan() {
    const status = $("#plan-status");
    $("#plan").disabled = true; $("#apply").hidden = true; ready = null;
    const limit = +$("#time-limit").value || 10, planDay = $("#day").value;
    const started = await api("POST", "/api/v1/plans", { date: planDay, time_limit_s: limit });
    if (started.status !== 202) {
      const j = started.json;
      status.textContent = `Not started: ${j.detail || Object.entries(j).map(([k, v]) => `${k}: ${[].concat(v).join(" ")}`).join("; ")}`;
      $("#plan").disabled = false;
      return;
    }
    planId = started.json.id;
    const bar = $("#plan-progress");
    bar.max = limit; bar.value = 0; bar.hidden = false;
    for (;;) {
      const run = (await api("GET", `/api/v1/plans/${planId}`)).json;
      const p = run.progress || {};
      const cost = typeof p.best_cost === "number" ? Math.round(p.best_cost).toLocaleString("en-CA") : "—";
      status.textContent = `Plan ${planId}: ${run.status}` +
        (p.elapsed_s !== undefined ? ` · ${(+p.elapsed_s).toFixed(1)} of ${limit} s · best cost ${cost}` : "");
      if (p.elapsed_s !== undefined) bar.value = Math.min(+p.elapsed_s, limit);
      if (run.status === "succeeded") {
        const k = run.result.kpis;
        ready = { id: planId, day: planDay };
        if ($("#day").value !== planDay) { status.textContent = `Plan ${planId} for ${planDay} is ready: open that day to apply it.`; break; }
        await load();  // the open requests now carry this plan's reasons
        status.textContent = `Plan ${planId} ready: ${k.assigned} assigned, ${k.unassigned} unassigned, ` +
          `${Math.round(k.travel_min)} min travel. Apply it to book the visits.`;
        $("#apply").hidden = false;
        break;
      }
      if (run.status === "failed") { status.textContent = `Plan ${planId} failed: ${run.error}`; break; }
      if (run.status === undefined) { status.textContent = `Plan ${planId}: could not read its progress.`; break; }
      await new Promise((r) => setTimeout(r, 1000));
    }
    bar.hidden = true;
    $("#plan").disabled = false;
  }

  async function apply() {
    planId = ready.id;
    ready = null;
    const res = await api("POST", `/api/v1/plans/${planId}/apply`);
    $("#plan-status").textContent = res.status === 200 ? `Plan ${planId} applied.` : `Not applied: ${res.json.detail}`;
    $("#apply").hidden = true;
    await load();
  }

  document.addEventListener("DOMContentLoaded", () => {
    const show = () => {
      history.replaceState(null, "", `?date=${$("#day").value}`);
      // A ready plan can be applied only on its own day.
      if ($("#apply")) $("#apply").hidden = !(ready && ready.day === $("#day").value);
      $("#details").hidden = true;
      load();
    };
    $("#day").addEventListener("change", show);
    const step = (days) => () => {
      const d = new Date(`${$("#day").value}T12:00:00Z`);
      d.setUTCDate(d.getUTCDate() + days);
      $("#day").value = d.toISOString().slice(0, 10);
      show();
    };
    $("#prev-day").addEventListener("click", step(-1));
    $("#next-day").addEventListener("click", step(1));
    if ($("#plan")) { $("#plan").addEventListener("click", plan); $("#apply").addEventListener("click", apply); }
    $("#close").addEventListener("click", () => { $("#details").hidden = true; });
    document.addEventListener("keydown", (e) => { if (e.key === "Escape") $("#details").hidden = true; });
    load();
    // Today's board follows the day as therapists start and finish visits; other days stay as drawn.
    setInterval(() => { if (data && data.date === data.today && !document.hidden) load(); }, 60_000);
  });
})();
