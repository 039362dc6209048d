// The dispatch board: the day at a glance, the timeline and map, the open requests, and every change a
// coordinator makes (move, assign, pin, unassign) sent to the API, whose refusals are shown on the spot.
// Plain JavaScript with no build step; timeline.js, map.js and plan.js add their parts to window.Board.
(function () {
  "use strict";
  const { api, el, problems, hhmm, dayLabel, offsetOf } = window.Rounds;
  const B = (window.Board = window.Board || {});
  const $ = (s) => document.querySelector(s);
  const ZOOMS = [1, 1.5, 2, 3, 4];
  const PRIORITY = { urgent: "Urgent", soon: "Soon", routine: "Routine" };
  B.locale = window.Rounds.locale;
  B.zoom = +(localStorage.getItem("rounds-zoom") || 1);
  B.messages = {};  // day -> the last plan or change message about it
  let picked = null;

  // A message belongs to the day it is about: it shows when that day is on the board.
  B.say = function (text, day) {
    const about = day || $("#day").value;
    B.messages[about] = text;
    if (about === $("#day").value) $("#plan-status").textContent = text;
  };

  // The API names therapists by id; the board by name.
  const named = (text) => text.replace(/\b([Tt])herapist (\d+)/g, (all, t, id) => {
    const row = B.data.therapists.find((x) => x.id === +id);
    return row ? row.name : all;
  });

  function kpis() {
    const k = B.data.kpis, box = $("#kpis");
    const item = (value, label, cls, detail) => {
      const d = el("div", `kpi${cls ? ` ${cls}` : ""}`);
      d.append(el("span", "kpi-value", String(value)), el("span", "kpi-label", label));
      if (detail) d.append(el("span", "kpi-detail", detail));
      return d;
    };
    const p = k.unassigned_by_priority;
    const items = [
      item(k.booked, "booked"),
      item(k.unassigned, "unassigned", null, `${p.urgent} urgent · ${p.soon} soon · ${p.routine} routine`),
      item(`${k.travel_min.toLocaleString(B.locale)} min`, "travel"),
      item(k.utilisation_pct === null ? "—" : `${k.utilisation_pct}%`, "utilisation", null, "of shift time held"),
    ];
    if (B.data.date === B.data.today) {
      items.push(item(k.late, "late now", k.late > 0 ? "alarm" : null, `no check-in ${B.data.late_after_min} min after start`));
      items.push(item(k.at_risk, "at risk", k.at_risk > 0 ? "alarm" : null, "a delay pushes them out of their window"));
      items.push(item(`${k.checked_in} / ${k.done}`, "checked in / done"));
    }
    box.replaceChildren(...items);
  }

  function legend() {
    const box = $("#legend");
    box.replaceChildren();
    for (const [key, label] of Object.entries(B.SETTINGS)) {
      const item = el("span", null, label);
      const swatch = el("i");
      swatch.style.background = `var(--${key})`;
      item.prepend(swatch);
      box.append(item);
    }
    const keys = el("span", "keys");
    for (const [cls, label] of [["shift", "shift"], ["travel", "travel"], ["buffer", "interruption buffer"], ["break", "planned break"],
      ["break window", "break window"], ["pinned", "pinned by hand"], ["late", "late or at risk"], ["ghost", "proposed"]]) {
      const item = el("span", null, label);
      item.prepend(el("i", `key ${cls}`));
      keys.append(item);
    }
    box.append(keys);
  }

  function reasonFilter() {
    const select = $("#reason-filter"), kept = select.value;
    const groups = {};
    for (const v of B.data.unassigned) groups[v.group] = (groups[v.group] || 0) + 1;
    const sorted = Object.entries(groups).sort((a, b) => b[1] - a[1]);
    select.replaceChildren(el("option", null, `every reason (${B.data.unassigned.length})`, { value: "" }),
      ...sorted.map(([g, n]) => el("option", null, `${n} × ${g}`, { value: g })));
    select.value = groups[kept] ? kept : "";
    const summary = $("#unassigned-summary");
    summary.replaceChildren(...sorted.slice(0, 8).map(([g, n]) => {
      const b = el("button", `reason-count${select.value === g ? " on" : ""}`, `${n} × ${g}`, { type: "button", "aria-pressed": String(select.value === g) });
      b.addEventListener("click", () => { select.value = select.value === g ? "" : g; unassigned(); });
      return b;
    }));
  }

  // Most urgent first, then the earliest window (the server sends them in that order).
  function unassigned() {
    reasonFilter();
    const list = $("#unassigned"), only = $("#reason-filter").value;
    $("#unassigned-count").textContent = `(${B.data.unassigned.length})`;
    const shown = B.data.unassigned.filter((v) => !only || v.group === only);
    list.replaceChildren(...shown.map((v) => {
      const li = el("li", `open ${v.priority}`, null, { draggable: "true", "data-visit": v.id });
      li.append(el("span", `priority ${v.priority}`, PRIORITY[v.priority]));
      const open = el("button", "link", `${v.patient} · ${v.location}`, { type: "button" });
      open.addEventListener("click", () => B.details(v, null));
      li.append(open, el("span", "muted", ` ${v.duration_min} min · ${v.windows.map((w) => `${hhmm(w.start)}–${hhmm(w.end)}`).join(", ")}`));
      li.append(el("span", "why", named(v.reason)));
      li.addEventListener("dragstart", (e) => { B.dragging = { visit: v, grabMin: 0 }; e.dataTransfer.setData("text/plain", String(v.id)); });
      li.addEventListener("dragend", () => { B.dragging = null; });
      return li;
    }));
  }

  B.pick = function (id) {
    picked = picked === id ? null : id;
    document.querySelectorAll("#timeline .row").forEach((r) => r.classList.toggle("picked", +r.dataset.therapist === picked));
    B.highlightRoute(picked);
  };

  function therapistOptions(select, selected) {
    for (const t of B.data.therapists) select.append(el("option", null, t.name, { value: t.id }));
    if (selected) select.value = String(selected);
  }

  // The details panel: what the visit is, and what a coordinator can do with it from here.
  B.details = function (v, therapist) {
    const body = $("#details-body");
    body.replaceChildren(el("h2", null, `Visit ${v.id} · ${v.patient}`, { id: "details-title" }));
    const dl = el("dl");
    const rows = [
      ["When", v.start ? `${hhmm(v.start)}–${hhmm(v.end)} (buffer to ${hhmm(v.busy_until)})` : "not scheduled"],
      ["Where", v.location], ["Setting", B.SETTINGS[v.care_setting]], ["Therapist", therapist || "—"],
      ["Travel before", v.travel_min ? `${v.travel_min} min` + (v.travel_km ? `, ${v.travel_km.toFixed(1)} km` : "") : "—"],
      ["Duration", `${v.duration_min} min + ${v.buffer_min} min buffer`], ["Priority", PRIORITY[v.priority]],
      ["Skills", v.skills.join(", ") || "—"], ["Status", v.status.replace("_", " ") + (v.pinned ? ", pinned" : "")],
      ["Windows", v.windows.map((w) => `${hhmm(w.start)}–${hhmm(w.end)}`).join(", ")],
    ];
    const note = B.liveNote(v);
    if (note) rows.push(["Now", note]);
    if (v.reason) rows.push(["Why open", named(v.reason)]);
    for (const [k, val] of rows) dl.append(el("dt", null, k), el("dd", null, val));
    body.append(dl);
    actions(v);
    $("#details-problems").replaceChildren();
    $("#details").hidden = false;
  };

  function actions(v) {
    const box = $("#details-actions");
    box.replaceChildren();
    const bookable = ["requested", "scheduled", "confirmed"].includes(v.status);
    if (!bookable) return;
    const form = el("form", "move-form");
    const who = el("select", null, null, { id: "move-therapist", "aria-label": "Therapist" });
    therapistOptions(who, v.therapist);
    const first = v.windows.length ? hhmm(v.windows[0].start) : "09:00";
    const when = el("input", null, null, { id: "move-time", type: "time", step: "300", "aria-label": "Start time" });
    when.value = v.start ? hhmm(v.start) : first;
    const go = el("button", null, v.status === "requested" ? "Assign" : "Move", { type: "submit", id: "move-submit" });
    form.append(el("span", "muted", v.status === "requested" ? "Assign to" : "Move to"), who, el("span", "muted", "at"), when, go);
    form.addEventListener("submit", (e) => { e.preventDefault(); B.move(v, +who.value, when.value, { details: true }); });
    box.append(form);
    if (v.status === "requested") return;
    const buttons = el("div", "form-actions");
    const pin = el("button", "quiet", v.pinned ? "Unpin" : "Pin here", { type: "button", id: "pin-toggle" });
    pin.addEventListener("click", () => change(v, v.pinned ? "unpin" : "pin"));
    const drop = el("button", "quiet danger", "Unassign", { type: "button", id: "unassign" });
    drop.addEventListener("click", () => change(v, "unassign"));
    buttons.append(pin, drop);
    box.append(buttons);
  }

  function refusal(title, json, where) {
    const box = el("div", "refusal", null, { role: "alert" });
    box.append(el("strong", null, title));
    const ul = el("ul");
    // With a list of broken rules, the detail only repeats the title.
    const said = json.extra && json.extra.reasons && json.extra.reasons.length ? json.extra.reasons : problems(json);
    for (const p of said) ul.append(el("li", null, named(p)));
    box.append(ul);
    const close = el("button", "quiet", "Dismiss", { type: "button" });
    close.addEventListener("click", () => box.remove());
    box.append(close);
    document.querySelectorAll(".refusal").forEach((r) => r.remove());
    if (where && where.row) where.row.after(box);
    else $("#details-problems").append(box);
  }

  // A move, an assignment or a take-over from the open list: the API decides, with the same rules as
  // for any client (skills, credentials, windows, shift, overlap), and says every rule it broke.
  B.move = async function (v, therapistId, time, where) {
    const start = `${B.data.date}T${time}:00${offsetOf(B.data.date, time, B.data.timezone)}`;
    const therapist = B.data.therapists.find((t) => t.id === therapistId);
    const res = await api("POST", `/api/v1/visits/${v.id}/assign`, { therapist: therapistId, planned_start: start, pinned: true });
    if (res.status === 200) {
      B.say(`Visit ${v.id} (${v.patient}) ${v.status === "requested" ? "assigned" : "moved"} to ${therapist.name} at ${time}, pinned.`);
      $("#details").hidden = true;
      await B.reload();
      return;
    }
    const verb = v.status === "requested" ? "assigned" : "moved";
    refusal(`Visit ${v.id} (${v.patient}) was not ${verb} to ${therapist ? therapist.name : "that therapist"} at ${time}:`, res.json, where);
  };

  async function change(v, what) {
    const res = what === "unassign"
      ? await api("PATCH", `/api/v1/visits/${v.id}`, { therapist: null })
      : await api("POST", `/api/v1/visits/${v.id}/${what}`, {});
    if (res.status === 200) {
      const done = { pin: "pinned: the planner keeps it where it is", unpin: "unpinned", unassign: "unassigned: it is an open request again" };
      B.say(`Visit ${v.id} (${v.patient}) ${done[what]}.`);
      $("#details").hidden = true;
      await B.reload();
      return;
    }
    refusal(`Visit ${v.id} was not ${what === "unassign" ? "unassigned" : `${what}ned`}:`, res.json);
  }

  function zoom(step) {
    const i = Math.min(Math.max(ZOOMS.indexOf(B.zoom) + step, 0), ZOOMS.length - 1);
    B.zoom = ZOOMS[i] || 1;
    localStorage.setItem("rounds-zoom", String(B.zoom));
    $("#zoom-level").textContent = `${Math.round(B.zoom * 100)}%`;
    B.drawTimeline();
    if (B.preview) B.drawGhosts(B.preview);
  }

  async function liveMarks(day) {
    try {
      const res = await fetch(`/board/live?date=${day}`, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (res.ok && (res.headers.get("Content-Type") || "").includes("json")) return await res.json();
    } catch (e) { /* a dropped connection: the board is drawn without this minute's marks */ }
    return null;
  }

  // Without this minute's overlay (a busy server, a dropped connection) the last one of the day is kept; with
  // none, the late and at-risk counts say they are not known rather than 0, and there is no now line.
  function live(data, overlay) {
    if (overlay) B.live = overlay;
    else if (!(B.live && B.live.date === data.date)) B.live = { now: null, kpis: { late: "—", at_risk: "—" }, marks: {} };
    data.now = B.live.now;
    Object.assign(data.kpis, B.live.kpis);
    for (const t of data.therapists) for (const v of t.visits) Object.assign(v, B.live.marks[v.id]);
  }

  B.reload = async function () {
    const day = $("#day").value;
    const res = await fetch(`/board/data?date=${day}`, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!res.ok || !(res.headers.get("Content-Type") || "").includes("json")) {
      // An expired session answers with the login page; say so rather than draw nothing.
      $("#timeline").replaceChildren(el("p", "notice-line", res.status === 400
        ? "That is not a date the board can show." : "Could not load the board: please reload the page and log in again."));
      return;
    }
    const data = await res.json();
    // Today's board data is the same until something on it changes (the reload is a 304 from the browser's
    // cache); what moves with the clock (late, at risk, the now line) comes from the small live overlay.
    if (data.date === data.today) live(data, await liveMarks(day));
    B.data = data;
    $("#day-label").textContent = dayLabel(B.data.date);
    $("#zoom-level").textContent = `${Math.round(B.zoom * 100)}%`;
    $("#plan-status").textContent = B.messages[B.data.date] || "";
    // A day plan is for a day still to come (the API refuses today and the past); today is re-planned.
    $("#plan").hidden = B.data.date <= B.data.today;
    $("#replan").hidden = B.data.date !== B.data.today;
    $("#show-preview").hidden = !(B.data.pending_plan && !B.preview);
    // The map last: the open list beside it sets the width the map is fitted to.
    kpis(); legend(); B.drawTimeline(); unassigned(); B.drawMap();
    if (B.preview && B.preview.date === B.data.date) B.drawGhosts(B.preview);
    if (picked !== null) { const again = picked; picked = null; B.pick(again); }
    document.body.dataset.loads = (+document.body.dataset.loads || 0) + 1;  // tests wait on a reload
  };

  document.addEventListener("DOMContentLoaded", () => {
    const show = () => {
      history.replaceState(null, "", `?date=${$("#day").value}`);
      $("#details").hidden = true;
      if (B.preview && B.preview.date !== $("#day").value) B.closePreview();
      B.reload();
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
    $("#zoom-in").addEventListener("click", () => zoom(1));
    $("#zoom-out").addEventListener("click", () => zoom(-1));
    $("#reason-filter").addEventListener("change", unassigned);
    $("#close").addEventListener("click", () => { $("#details").hidden = true; });
    document.addEventListener("keydown", (e) => { if (e.key === "Escape") $("#details").hidden = true; });
    B.reload();
    // Today's board follows the day as therapists start and finish visits; other days stay as drawn.
    setInterval(() => { if (B.data && B.data.date === B.data.today && !document.hidden) B.reload(); }, 60_000);
  });
})();
