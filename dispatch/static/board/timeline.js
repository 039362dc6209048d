// The board's timeline: one row per therapist, visits placed on a zoomable time axis, dragged to move
// them, and a plan's proposal drawn over the day as ghost blocks.
(function () {
  "use strict";
  const { el, hhmm } = window.Rounds;
  const B = (window.Board = window.Board || {});
  const $ = (s) => document.querySelector(s);
  B.SETTINGS = { home: "Home", hospital: "Hospital", assisted_living: "Assisted living", hospice: "Hospice", rehab: "Rehab", nursing_home: "Nursing home" };
  const SNAP_MIN = 5;
  // The x axis runs from the earliest shift start (or travel) to the latest shift end, in whole hours.
  let DAY_START = 7 * 60, DAY_END = 21 * 60;
  // One colour per therapist, shared by the timeline's name chip and the map's route.
  B.colour = (i) => `hsl(${(i * 137) % 360} 62% 36%)`;
  // Minutes from the board day's midnight: a shift that ends at midnight ends at 1440, not at 0.
  B.minutes = (iso) => {
    const t = iso.slice(11, 16).split(":"), day = iso.slice(0, 10);
    return +t[0] * 60 + +t[1] + (day > B.data.date ? 1440 : day < B.data.date ? -1440 : 0);
  };
  B.clock = (m) => `${String(Math.floor(m / 60)).padStart(2, "0")}:${String(m % 60).padStart(2, "0")}`;
  const pct = (m) => (100 * (Math.min(Math.max(m, DAY_START), DAY_END) - DAY_START)) / (DAY_END - DAY_START);
  // Styles through the CSSOM, never a style attribute: the pages run under a Content-Security-Policy.
  const place = (node, a, b) => { node.style.left = `${pct(a)}%`; node.style.width = `${Math.max(pct(b) - pct(a), 0.3)}%`; return node; };
  const at = (node, m) => { node.style.left = `${pct(m)}%`; return node; };

  function axis(nowMin) {
    const marks = [];
    for (const t of B.data.therapists) {
      for (const s of t.shifts) marks.push(B.minutes(s.start), B.minutes(s.end));
      for (const b of t.breaks) marks.push(B.minutes(b.start), B.minutes(b.end));
      for (const v of t.visits) marks.push(B.minutes(v.start) - (v.travel_min || 0), B.minutes(v.busy_until || v.end));
    }
    if (nowMin !== null) marks.push(nowMin);
    if (!marks.length) { DAY_START = 7 * 60; DAY_END = 21 * 60; return; }
    DAY_START = Math.max(0, Math.floor(Math.min(...marks) / 60) * 60);
    DAY_END = Math.min(24 * 60, Math.ceil(Math.max(...marks) / 60) * 60);
    if (DAY_END - DAY_START < 4 * 60) DAY_END = Math.min(24 * 60, DAY_START + 4 * 60);
  }

  function liveNote(v) {
    if (v.live === "late") return `Late: no check-in ${B.data.late_after_min} min after ${hhmm(v.start)}`;
    if (v.live === "at_risk") return `At risk: expected to start ${hhmm(v.expected_start)}, outside its window`;
    if (v.live === "checked_in") return `Checked in ${hhmm(v.actual_start)}`;
    if (v.live === "done") return `Done ${hhmm(v.actual_end)}`;
    return "";
  }
  B.liveNote = liveNote;

  function visitBlock(v, t) {
    const start = B.minutes(v.start), end = B.minutes(v.end);
    const block = place(el("button", `visit ${v.status}${v.pinned ? " pinned" : ""}${v.live ? ` live-${v.live}` : ""}`, null, { type: "button" }), start, end);
    block.style.setProperty("--setting", `var(--${v.care_setting})`);
    block.dataset.visit = v.id;
    block.append(el("b", null, hhmm(v.start)), el("span", "until", `–${hhmm(v.end)}`), el("span", "pt", ` ${v.patient}`));
    if (v.live === "late" || v.live === "at_risk") block.append(el("span", "flag", v.live === "late" ? "late" : "at risk"));
    block.append(el("span", "where", [v.location, B.SETTINGS[v.care_setting]].join(" · ")));
    const note = liveNote(v);
    block.title = [`${hhmm(v.start)}–${hhmm(v.end)} ${v.patient}`, v.location, B.SETTINGS[v.care_setting],
      v.status.replace("_", " "), v.pinned ? "pinned" : "", note].filter(Boolean).join(" · ");
    block.setAttribute("aria-label", block.title);
    block.addEventListener("click", () => B.details(v, t.name));
    if (v.status === "scheduled" || v.status === "confirmed") {
      block.draggable = true;
      block.addEventListener("dragstart", (e) => {
        const rect = block.getBoundingClientRect();
        const grab = ((e.clientX - rect.left) / rect.width) * (end - start);
        B.dragging = { visit: v, grabMin: Number.isFinite(grab) ? grab : 0 };
        e.dataTransfer.setData("text/plain", String(v.id));
        e.dataTransfer.effectAllowed = "move";
      });
      block.addEventListener("dragend", () => { B.dragging = null; });
    }
    return block;
  }

  // Where on a track a drop lands, in minutes of the day snapped to SNAP_MIN.
  function dropMinute(track, clientX, grabMin) {
    const rect = track.getBoundingClientRect();
    const at = DAY_START + ((clientX - rect.left) / rect.width) * (DAY_END - DAY_START) - (grabMin || 0);
    return Math.max(0, Math.round(at / SNAP_MIN) * SNAP_MIN);
  }

  function droppable(track, t) {
    const hint = el("div", "drop-hint");
    track.addEventListener("dragover", (e) => {
      if (!B.dragging) return;
      e.preventDefault();
      const m = dropMinute(track, e.clientX, B.dragging.grabMin);
      hint.textContent = B.clock(m);
      at(hint, m);
      if (!hint.isConnected) track.append(hint);
      track.classList.add("drop-target");
    });
    track.addEventListener("dragleave", () => { track.classList.remove("drop-target"); hint.remove(); });
    track.addEventListener("drop", (e) => {
      e.preventDefault();
      track.classList.remove("drop-target");
      hint.remove();
      if (!B.dragging) return;
      const { visit, grabMin } = B.dragging;
      B.dragging = null;
      B.move(visit, t.id, B.clock(dropMinute(track, e.clientX, grabMin)), { row: track.closest(".row") });
    });
  }

  B.drawTimeline = function () {
    const box = $("#timeline");
    const data = B.data;
    const nowMin = data.date === data.today && data.now ? B.minutes(data.now) : null;
    axis(nowMin);
    const inner = el("div", "timeline-inner");
    inner.style.width = `${100 * B.zoom}%`;
    const hours = el("div", "hours");
    hours.append(el("div", "corner", "Therapist"));
    const scale = el("div", "scale");
    const span = (DAY_END - DAY_START) / B.zoom;
    const step = span > 14 * 60 ? 120 : span > 5 * 60 ? 60 : 30;
    for (let m = DAY_START; m <= DAY_END; m += step) {
      scale.append(at(el("span", "tick", m % 60 ? B.clock(m) : `${m / 60}:00`), m));
    }
    hours.append(scale);
    inner.append(hours);
    data.therapists.forEach((t, i) => {
      const row = el("div", "row");
      row.dataset.therapist = t.id;
      const name = el("button", "name", t.name, { type: "button", title: `${t.name}: ${t.visits.length} visits (show the route on the map)` });
      const chip = el("i", "chip");
      chip.style.background = B.colour(i);
      name.prepend(chip);
      name.addEventListener("click", () => B.pick(t.id));
      const track = el("div", "track");
      for (const s of t.shifts) track.append(place(el("div", "shift"), B.minutes(s.start), B.minutes(s.end)));
      for (const b of t.breaks) {
        const label = b.planned ? `Break ${hhmm(b.start)}–${hhmm(b.end)}` : `Break window ${hhmm(b.start)}–${hhmm(b.end)}`;
        const block = place(el("div", b.planned ? "break" : "break window", null, { title: label }), B.minutes(b.start), B.minutes(b.end));
        block.append(el("span", "label", label));
        track.append(block);
      }
      for (const v of t.visits) {
        const start = B.minutes(v.start), end = B.minutes(v.end), busy = B.minutes(v.busy_until);
        if (v.travel_min) track.append(place(el("div", "travel", null, { title: `${v.travel_min} min travel` }), start - v.travel_min, start));
        if (busy > end) {
          const buffer = place(el("div", "buffer", null, { title: `${v.buffer_min} min buffer` }), end, busy);
          buffer.style.setProperty("--setting", `var(--${v.care_setting})`);
          track.append(buffer);
        }
        track.append(visitBlock(v, t));
      }
      if (!t.shifts.length && !t.visits.length) track.append(el("span", "off muted", "Not working this day"));
      if (nowMin !== null) track.append(at(el("div", "now", null, { title: `Now ${hhmm(data.now)}` }), nowMin));
      droppable(track, t);
      row.append(name, track);
      inner.append(row);
    });
    box.replaceChildren(inner);
    // Labels inside a block only when it is wide enough to hold them; the title carries them always.
    box.querySelectorAll(".visit").forEach((b) => {
      b.classList.toggle("wide", b.offsetWidth >= 120);
      b.classList.toggle("narrow", b.offsetWidth < 36);
    });
  };

  // A proposal over the current day: where each visit would go (ghosts), and what it would leave.
  B.drawGhosts = function (preview) {
    B.clearGhosts();
    for (const c of preview.changes) {
      const current = document.querySelector(`#timeline .visit[data-visit="${c.visit}"]`);
      if (current) current.classList.add(c.kind === "unbooked" ? "unbooking" : "leaving");
      if (!c.new) continue;
      const track = document.querySelector(`#timeline .row[data-therapist="${c.new.therapist}"] .track`);
      if (!track) continue;
      const ghost = place(el("div", `ghost ${c.kind}`, null, { title: c.text }), B.minutes(c.new.start), B.minutes(c.new.end));
      ghost.dataset.visit = c.visit;
      ghost.append(el("span", null, `${hhmm(c.new.start)} ${c.patient}`));
      track.append(ghost);
    }
  };
  B.clearGhosts = function () {
    document.querySelectorAll("#timeline .ghost").forEach((g) => g.remove());
    document.querySelectorAll("#timeline .leaving, #timeline .unbooking").forEach((b) => b.classList.remove("leaving", "unbooking"));
  };
})();
