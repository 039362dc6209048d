// The therapist's phone app: the day as cards in route order, with navigation, what to know at the
// door and the bedside, and the day's actions. Every action goes to the API and says what happened;
// with no signal the day is read from the service worker's copy and actions are refused, not queued.
(function () {
  "use strict";
  const { api, el, problems, hhmm, dayLabel } = window.Rounds;
  const $ = (s) => document.querySelector(s);
  let data = null, day = new URLSearchParams(location.search).get("date") || "";
  const results = {};  // visit id -> the last action's outcome, kept across reloads of the day

  const OFFLINE = "You are offline: nothing was sent. Try again when you have signal.";
  const NO_ANSWER = "No answer came (the signal dropped?). Tap again: it is never recorded twice.";
  // One key per confirmation sheet: a tap again after a lost answer is the same request, and the API gives back
  // its first answer instead of recording it twice (or refusing a second check-in of a visit already started).
  const newKey = () => (crypto.randomUUID ? crypto.randomUUID() : `${Date.now()}-${Math.random().toString(36).slice(2)}`);
  const once = (key) => ({ "Idempotency-Key": key });
  const positions = {};  // sheet key -> the position its check-in sent
  const minutesField = (label, value, min, max) => ({ name: "minutes", label, type: "number", value, min, max });
  const reasonField = (label) => ({ name: "reason", label, type: "text", required: true });
  // What each button does: its confirmation, its API call and how its result reads.
  const ACTIONS = {
    checkin: {
      label: "Check in", title: (v) => `Check in at ${v.patient}'s visit?`,
      text: "If you allow it, your position is sent so the visit records how far you were from it.",
      async send(v, f, key) {
        // The position of the first tap: a tap again must send the same request for its key.
        const body = positions[key] || (positions[key] = await position());
        return { res: await api("POST", `/api/v1/visits/${v.id}/check-in`, body, once(key)), shared: "lat" in body };
      },
      done: (r) => {
        const j = r.res.json;
        let text = `Checked in at ${hhmm(j.visit.actual_start)}`;
        text += j.distance_m === null || j.distance_m === undefined ? " (position not shared)." : `, ${j.distance_m} m from the visit.`;
        return j.warning ? `${text} ${j.warning}` : text;
      },
    },
    checkout: {
      label: "Check out", title: (v) => `Check out of ${v.patient}'s visit?`, text: "The session ends now.",
      send: async (v, f, key) => ({ res: await api("POST", `/api/v1/visits/${v.id}/check-out`, {}, once(key)) }),
      done: (r) => `Checked out at ${hhmm(r.res.json.visit.actual_end)}.`,
    },
    late: {
      label: "Running late", title: (v) => `Running late for ${v.patient}?`,
      text: "The coordinator is told and gets a re-plan of the rest of your day.",
      fields: [minutesField("How many minutes late", 15, 1, 240)],
      send: async (v, f, key) => ({ res: await api("POST", `/api/v1/visits/${v.id}/late`, { minutes: +f.minutes }, once(key)) }),
      done: (r) => `Reported ${r.res.json.visit.delay_min} min late; the coordinator has a re-plan proposal.`,
    },
    interruption: {
      label: "Interruption", title: (v) => `Record an interruption at ${v.patient}'s visit?`,
      text: "Your next visits move back by as much as they need.",
      fields: [minutesField("Minutes", 10, 1, 120),
        { name: "kind", label: "What happened", type: "select", options: [["paused", "Paused (care team, family)"], ["extended", "Session extended"]] }],
      send: async (v, f, key) => ({ res: await api("POST", `/api/v1/visits/${v.id}/interruption`, { minutes: +f.minutes, kind: f.kind }, once(key)) }),
      done: (r) => {
        const n = (r.res.json.pushed || []).length;
        return `Interruption recorded; ${n} later visit${n === 1 ? "" : "s"} moved back.`;
      },
    },
    cancel: {
      label: "Cancel", danger: true, title: (v) => `Cancel ${v.patient}'s visit?`, text: "The coordinator sees the reason.",
      fields: [reasonField("Reason")],
      send: async (v, f, key) => ({ res: await api("POST", `/api/v1/visits/${v.id}/cancel`, { reason: f.reason }, once(key)) }),
      done: () => "Visit cancelled.",
    },
    noshow: {
      label: "No-show", danger: true, title: (v) => `Mark ${v.patient}'s visit a no-show?`,
      text: "For a patient who was not there or could not be seen.",
      fields: [reasonField("What happened")],
      send: async (v, f, key) => ({ res: await api("POST", `/api/v1/visits/${v.id}/no-show`, { reason: f.reason }, once(key)) }),
      done: () => "Marked as a no-show.",
    },
  };
  const BY_STATUS = {
    scheduled: ["checkin", "late", "cancel", "noshow"], confirmed: ["checkin", "late", "cancel", "noshow"],
    in_progress: ["checkout", "interruption"],
  };

  // The browser's position when the therapist allows it; the check-in goes ahead without it.
  function position() {
    return new Promise((resolve) => {
      if (!navigator.geolocation) { resolve({}); return; }
      navigator.geolocation.getCurrentPosition(
        (p) => resolve({ lat: +p.coords.latitude.toFixed(6), lon: +p.coords.longitude.toFixed(6) }),
        () => resolve({}), { timeout: 8000, maximumAge: 60000, enableHighAccuracy: true });
    });
  }

  function notes(v) {
    const dl = el("dl", "notes");
    const add = (term, value) => { if (value) { dl.append(el("dt", null, term)); dl.append(value instanceof Node ? value : el("dd", null, value)); } };
    if (v.precautions.length) {
      const dd = el("dd");
      const ul = el("ul", "precautions");
      for (const p of v.precautions) ul.append(el("li", null, [p.kind, p.body_site && `(${p.body_site})`, p.note && `: ${p.note}`].filter(Boolean).join(" ").replace(" :", ":")));
      dd.append(ul);
      add("Precautions", dd);
    }
    add("Access", v.access_notes);
    add("Instructions", v.instructions);
    add("Windows", v.windows.map((w) => `${hhmm(w.start)}–${hhmm(w.end)}`).join(", "));
    return dl;
  }

  function card(v, index) {
    const li = el("li", `card ${v.status}`, null, { "data-visit": v.id });
    const head = el("div", "card-head");
    head.append(el("span", "time", `${hhmm(v.start)}–${hhmm(v.end)}`), el("span", `status-badge ${v.status}`, v.status_label));
    if (v.delay_min) head.append(el("span", "status-badge late", `${v.delay_min} min late`));
    li.append(head);
    li.append(el("h2", "who", `${index + 1}. ${v.patient} · ${v.care_setting}`));
    li.append(el("p", "where", v.location));
    const meta = [`${v.duration_min} min session, ${v.buffer_min} min buffer`];
    if (v.travel_min) meta.push(`${v.travel_min} min travel${v.travel_km ? ` (${v.travel_km.toFixed(1)} km)` : ""} before`);
    li.append(el("p", "muted", meta.join(" · ")));
    if (v.ruled_out_by.length) {
      li.append(el("p", "ruled-out", `Ruled out today: ${v.ruled_out_by.join(", ")}. Do not start the session; call the coordinator.`));
    }
    const nav = el("div", "nav-links");
    nav.append(el("a", "button quiet", "Open in maps app", { href: v.links.geo }),
      el("a", "button quiet", "Directions", { href: v.links.maps, target: "_blank", rel: "noopener" }));
    li.append(nav, notes(v));
    if (v.actual_start) li.append(el("p", "muted", `Checked in ${hhmm(v.actual_start)}${v.actual_end ? `, out ${hhmm(v.actual_end)}` : ""}`));
    if (v.status_reason) li.append(el("p", "muted", `Reason: ${v.status_reason}`));
    li.append(el("p", `card-result${results[v.id] && results[v.id].error ? " error" : ""}`, results[v.id] ? results[v.id].text : "", { role: "status" }));
    const actions = el("div", "actions");
    // Running late is news of the day under way; the server refuses it for another day's visit.
    for (const key of (BY_STATUS[v.status] || []).filter((k) => k !== "late" || data.date === data.today)) {
      const a = ACTIONS[key];
      const look = a.danger ? " danger" : key === "checkin" || key === "checkout" ? "" : " quiet";
      const b = el("button", `action ${key}${look}`, a.label, { type: "button", "data-action": key });
      b.addEventListener("click", () => ask(v, key));
      actions.append(b);
    }
    if (actions.children.length) li.append(actions);
    return li;
  }

  function render() {
    const next = new Date(`${data.today}T12:00:00Z`);
    next.setUTCDate(next.getUTCDate() + 1);
    const relative = data.date === data.today ? "Today: " : data.date === next.toISOString().slice(0, 10) ? "Tomorrow: " : "";
    $("#day-title").textContent = `${relative}${dayLabel(data.date)}`;
    document.title = `${dayLabel(data.date)} · My day · Rounds`;
    const travel = data.visits.reduce((s, v) => s + (v.travel_min || 0), 0);
    const shift = data.shifts.map((s) => `${hhmm(s.start)}–${hhmm(s.end)}`).join(", ");
    $("#summary").textContent = data.visits.length
      ? `${data.visits.length} visit${data.visits.length === 1 ? "" : "s"} · ${travel} min travel · shift ${shift || "—"}`
      : shift ? `No visits booked · shift ${shift}` : "Not working this day.";
    $("#cards").replaceChildren(...data.visits.map(card));
  }

  function offlineBanner(on) {
    const banner = $("#offline");
    banner.hidden = !on;
    if (on) banner.textContent = data ? `Offline, last updated ${hhmm(data.now)}. Actions need a connection.` : "Offline, and this day was never loaded on this phone.";
  }

  // The service worker keeps the day for when there is no signal. A registration the server answered with an error
  // (busy, restarting) is tried again after the next good load, not left until the app is opened again.
  let registering = null;
  function registerWorker() {
    if (!("serviceWorker" in navigator) || navigator.serviceWorker.controller || registering) return;
    registering = navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" })
      .catch(() => {})
      .finally(() => { registering = null; });
  }

  let retry = null;
  async function load() {
    const query = day ? `?date=${day}` : "";
    let res;
    try {
      res = await fetch(`/app/data${query}`, { credentials: "same-origin", headers: { Accept: "application/json" } });
    } catch (e) {
      offlineBanner(true);
      return;
    }
    if (res.status >= 500) {
      // Busy or restarting: say so and ask again soon, rather than send the therapist to sign in for nothing.
      $("#result").textContent = "The server is busy; trying again in a few seconds.";
      clearTimeout(retry);
      retry = setTimeout(load, 5000);
      return;
    }
    if (!res.ok || !(res.headers.get("Content-Type") || "").includes("json")) {
      $("#result").textContent = res.status === 400 ? "That is not a day the app can show." : "Could not load your day: please log in again.";
      return;
    }
    if ($("#result").textContent.startsWith("The server is busy")) $("#result").textContent = "";
    data = await res.json();
    day = data.date;
    offlineBanner(res.headers.get("X-Rounds-Offline") === "1" || navigator.onLine === false);
    render();
    document.body.dataset.loads = (+document.body.dataset.loads || 0) + 1;  // tests wait on a reload
    registerWorker();
  }

  // The confirmation sheet: what will happen, the inputs it needs, then the API's answer.
  function ask(v, key) {
    const a = ACTIONS[key], sheet = $("#sheet");
    $("#sheet-title").textContent = a.title(v);
    $("#sheet-text").textContent = a.text;
    $("#sheet-error").textContent = "";
    $("#sheet-confirm").textContent = a.label;
    $("#sheet-confirm").className = a.danger ? "danger-solid" : "";
    const fields = $("#sheet-fields");
    fields.replaceChildren();
    for (const f of a.fields || []) {
      const id = `sheet-${f.name}`;
      fields.append(el("label", null, f.label, { for: id }));
      let input;
      if (f.type === "select") {
        input = el("select", null, null, { id, name: f.name });
        for (const [value, label] of f.options) input.append(el("option", null, label, { value }));
      } else {
        input = el("input", null, null, { id, name: f.name, type: f.type, ...(f.type === "number" ? { inputmode: "numeric", min: f.min, max: f.max } : { maxlength: 300 }) });
        if (f.value !== undefined) input.value = f.value;
        if (f.required) input.required = true;
      }
      fields.append(input);
    }
    sheet.dataset.visit = v.id;
    sheet.dataset.action = key;
    sheet.dataset.key = newKey();
    sheet.showModal();
  }

  async function confirm(e) {
    e.preventDefault();
    const sheet = $("#sheet"), key = sheet.dataset.action, a = ACTIONS[key];
    const v = data.visits.find((x) => x.id === +sheet.dataset.visit);
    const values = Object.fromEntries([...$("#sheet-fields").querySelectorAll("input, select")].map((i) => [i.name, i.value.trim()]));
    if ((a.fields || []).some((f) => f.required && !values[f.name])) { $("#sheet-error").textContent = "Please fill this in."; return; }
    if (navigator.onLine === false) { $("#sheet-error").textContent = OFFLINE; return; }
    $("#sheet-confirm").disabled = true;
    const outcome = await a.send(v, values, sheet.dataset.key);
    $("#sheet-confirm").disabled = false;
    if (outcome.res.status === 0) { $("#sheet-error").textContent = NO_ANSWER; return; }
    if (outcome.res.status !== 200) { $("#sheet-error").textContent = problems(outcome.res.json).join(" "); return; }
    sheet.close();
    const text = a.done(outcome);
    results[v.id] = { text };
    $("#result").textContent = `${v.patient}: ${text}`;
    await load();
  }

  document.addEventListener("DOMContentLoaded", () => {
    registerWorker();
    const step = (n) => () => {
      const d = new Date(`${day || data.date}T12:00:00Z`);
      d.setUTCDate(d.getUTCDate() + n);
      day = d.toISOString().slice(0, 10);
      history.replaceState(null, "", `?date=${day}`);
      $("#result").textContent = "";
      load();
    };
    $("#prev-day").addEventListener("click", step(-1));
    $("#next-day").addEventListener("click", step(1));
    $("#sheet-form").addEventListener("submit", confirm);
    $("#sheet-cancel").addEventListener("click", () => $("#sheet").close());
    window.addEventListener("offline", () => offlineBanner(true));
    window.addEventListener("online", load);
    load();
    setInterval(() => { if (!document.hidden && navigator.onLine !== false) load(); }, 60_000);
  });
})();
