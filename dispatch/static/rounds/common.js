// What every Rounds page shares: calling the API with the session, building elements, reading the
// API's refusals, local dates, and the notifications badge. Plain JavaScript, no build step.
(function () {
  "use strict";
  function csrf() {
    const m = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : "";
  }
  // The API with the session: every change goes through the same rules as any other client's.
  // A network failure (offline) answers status 0 rather than throwing.
  async function api(method, url, body, headers) {
    let res;
    try {
      res = await fetch(url, {
        method, credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrf(), Accept: "application/json", ...headers },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      return { status: 0, json: {}, offline: true };
    }
    const json = await res.json().catch(() => ({}));
    return { status: res.status, json, headers: res.headers };
  }
  function el(tag, cls, text, attrs) {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null && text !== "") e.textContent = text;
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
    return e;
  }
  // A field's messages as flat sentences, however DRF nested them (lists, per-item dicts).
  function messages(value, prefix) {
    if (value === null || value === undefined) return [];
    if (typeof value === "string") return [prefix ? `${prefix}: ${value}` : value];
    if (Array.isArray(value)) return value.flatMap((v) => messages(v, prefix));
    if (typeof value === "object") {
      return Object.entries(value).flatMap(([k, v]) => messages(v, k === "non_field_errors" ? prefix : k));
    }
    return [String(value)];
  }
  // Every sentence in a refusal: the detail, each broken rule (extra.reasons), each field's messages.
  function problems(json) {
    const out = [];
    if (json.detail) out.push(String(json.detail));
    if (json.extra && json.extra.reasons) out.push(...json.extra.reasons);
    for (const [k, v] of Object.entries(json)) {
      if (!["detail", "code", "extra"].includes(k)) out.push(...messages(v, k === "non_field_errors" ? "" : k));
    }
    return out.length ? out : ["The server refused without saying why."];
  }
  const locale = document.documentElement.lang || "en-CA";
  // "09:30" from an ISO time with its offset: the organisation's wall clock, as the API writes it.
  const hhmm = (iso) => (iso ? iso.slice(11, 16) : "");
  function dayLabel(isoDate, opts) {
    const d = new Date(`${isoDate}T12:00:00Z`);
    return new Intl.DateTimeFormat(locale, { timeZone: "UTC", weekday: "long", day: "numeric", month: "long", ...(opts || {}) }).format(d);
  }
  // The offset ("-05:00") of a wall-clock time in a time zone, so the API gets unambiguous datetimes.
  function offsetOf(isoDate, time, timeZone) {
    const fmt = new Intl.DateTimeFormat("en-US", { timeZone, timeZoneName: "longOffset" });
    const at = (ms) => {
      const name = fmt.formatToParts(new Date(ms)).find((p) => p.type === "timeZoneName").value;
      const m = name.match(/GMT([+-]\d{2}):?(\d{2})?/);
      return m ? `${m[1]}:${m[2] || "00"}` : "+00:00";
    };
    const wall = Date.parse(`${isoDate}T${time}:00Z`);
    const toMs = (off) => { const s = off[0] === "-" ? -1 : 1; const [h, mi] = off.slice(1).split(":"); return s * (+h * 60 + +mi) * 60000; };
    const first = at(wall);
    return at(wall - toMs(first));
  }
  // A message carried over a reload ("Request sent"), shown once.
  function flash(text) {
    if (text) { sessionStorage.setItem("rounds-flash", text); return; }
    const shown = sessionStorage.getItem("rounds-flash");
    sessionStorage.removeItem("rounds-flash");
    return shown;
  }

  // The server draws the unread badge with the page; a page left open keeps its count fresh.
  async function notifications() {
    const badge = document.querySelector(".unread-badge");
    if (!badge) return;
    const res = await api("GET", "/api/v1/notifications/unread-count");
    if (res.status !== 200) return;
    const unread = res.json.unread;
    badge.textContent = unread;
    badge.dataset.unread = unread;
    badge.classList.toggle("none", !unread);
    badge.title = `${unread} unread notification${unread === 1 ? "" : "s"}`;
  }

  document.addEventListener("DOMContentLoaded", () => {
    // Dates the server wrote as YYYY-MM-DD read in the organisation's locale ("Wed 2 Dec").
    document.querySelectorAll("time.local-date").forEach((t) => {
      t.textContent = dayLabel(t.getAttribute("datetime"), { weekday: "short", month: "short" });
    });
    // Logging out leaves no schedule behind on a shared phone.
    const logout = document.getElementById("logout");
    if (logout && window.caches) {
      logout.addEventListener("submit", (e) => {
        e.preventDefault();
        caches.keys().then((keys) => Promise.all(keys.map((k) => caches.delete(k)))).finally(() => logout.submit());
      });
    }
    setInterval(() => {
      if (document.visibilityState === "visible" && navigator.onLine !== false) notifications();
    }, 60000);
  });

  window.Rounds = { api, el, messages, problems, hhmm, dayLabel, offsetOf, flash, locale };
})();
