// The facility's request page: the form posts to /api/v1/visits (or PATCHes a request being changed),
// and every message the API gives is shown next to its field. Cancelling goes through /transition.
(function () {
  "use strict";
  const { api, el, messages, problems, offsetOf, flash } = window.Rounds;
  const $ = (s) => document.querySelector(s);
  const form = $("#request-form");
  const visits = JSON.parse(document.getElementById("visits-data").textContent);
  let editing = null;  // the visit being changed, or null for a new request

  function windowRow(start, end) {
    const n = document.querySelectorAll(".window-row").length + 1;
    const row = el("div", "window-row");
    const from = el("input", null, null, { type: "time", required: "", "aria-label": `Window ${n} from`, "data-part": "start" });
    const to = el("input", null, null, { type: "time", required: "", "aria-label": `Window ${n} until`, "data-part": "end" });
    from.value = start || "09:00";
    to.value = end || "12:00";
    const remove = el("button", "quiet", "Remove", { type: "button", "aria-label": `Remove window ${n}` });
    remove.addEventListener("click", () => { if (document.querySelectorAll(".window-row").length > 1) row.remove(); });
    row.append(el("span", "muted", "from"), from, el("span", "muted", "until"), to, remove, el("p", "field-error window-error"));
    $("#window-rows").append(row);
  }

  function clearErrors() {
    document.querySelectorAll(".field-error").forEach((p) => { p.textContent = ""; });
    document.querySelectorAll("[aria-invalid]").forEach((e) => e.removeAttribute("aria-invalid"));
  }

  function showErrors(json) {
    const known = { patient: "#f-patient", date: "#f-date", duration_min: "#f-duration", priority: "#f-priority",
      required_skills: null, instructions: "#f-instructions", windows: null };
    const rest = {};
    for (const [field, errors] of Object.entries(json)) {
      if (!(field in known)) { rest[field] = errors; continue; }
      if (field === "windows" && typeof errors === "object" && !Array.isArray(errors)) {
        // Per window, keyed by its position ({"0": {"end": [...]}}): each message beside its window.
        const rows = document.querySelectorAll(".window-row");
        for (const [i, m] of Object.entries(errors)) {
          if (rows[+i]) rows[+i].querySelector(".window-error").textContent = messages(m).join(" ");
          else $("#err-windows").textContent = messages(m).join(" ");
        }
        continue;
      }
      $(`#err-${field}`).textContent = messages(errors).join(" ");
      if (known[field]) $(known[field]).setAttribute("aria-invalid", "true");
    }
    if (Object.keys(rest).length) $("#err-form").textContent = problems(rest).join(" ");
  }

  function body() {
    const tz = form.dataset.timezone, date = $("#f-date").value;
    const at = (time) => `${date}T${time}:00${offsetOf(date, time, tz)}`;
    const windows = [...document.querySelectorAll(".window-row")].map((row) => ({
      start: at(row.querySelector("[data-part=start]").value || "00:00"),
      end: at(row.querySelector("[data-part=end]").value || "00:00"),
    }));
    const data = {
      date, windows, duration_min: $("#f-duration").value === "" ? null : +$("#f-duration").value,
      priority: $("#f-priority").value, instructions: $("#f-instructions").value,
      required_skills: [...document.querySelectorAll("input[name=required_skills]:checked")].map((c) => c.value),
    };
    if (!editing) data.patient = $("#f-patient").value === "" ? null : +$("#f-patient").value;
    return data;
  }

  async function submit(e) {
    e.preventDefault();
    clearErrors();
    $("#submit").disabled = true;
    const res = editing ? await api("PATCH", `/api/v1/visits/${editing.id}`, body()) : await api("POST", "/api/v1/visits", body());
    $("#submit").disabled = false;
    if (res.status === 200 || res.status === 201) {
      flash(editing ? `Request for ${editing.patient} on ${res.json.date} changed.` : `Visit requested for ${res.json.date}; the coordinator will schedule it.`);
      location.reload();
      return;
    }
    if (res.status === 0) { $("#err-form").textContent = "You are offline: nothing was sent. Try again when you are connected."; return; }
    if (res.status === 400) showErrors(res.json);
    else $("#err-form").textContent = problems(res.json).join(" ");
  }

  function edit(visit) {
    editing = visit;
    clearErrors();
    $("#form-title").textContent = `Change the request for ${visit.patient}`;
    $("#f-patient").value = String(visit.patient_id);
    $("#f-patient").disabled = true;
    $("#f-date").value = visit.date;
    $("#f-duration").value = visit.duration_min;
    $("#f-priority").value = visit.priority;
    $("#f-instructions").value = visit.instructions;
    document.querySelectorAll("input[name=required_skills]").forEach((c) => { c.checked = visit.skills.includes(c.value); });
    $("#window-rows").replaceChildren();
    (visit.windows.length ? visit.windows : [{}]).forEach((w) => windowRow(w.start, w.end));
    $("#submit").textContent = "Save changes";
    $("#stop-editing").hidden = false;
    form.scrollIntoView({ behavior: "smooth", block: "start" });
    $("#f-date").focus();
  }

  function stopEditing() {
    editing = null;
    form.reset();
    clearErrors();
    $("#form-title").textContent = "Request a visit";
    $("#f-patient").disabled = false;
    $("#window-rows").replaceChildren();
    windowRow();
    $("#submit").textContent = "Request visit";
    $("#stop-editing").hidden = true;
  }

  function cancel(visit) {
    const dialog = $("#cancel-dialog");
    $("#cancel-what").textContent = `${visit.patient}, ${visit.date} (${visit.duration_min} min).`;
    $("#cancel-reason").value = "";
    $("#err-cancel").textContent = "";
    dialog.dataset.visit = visit.id;
    dialog.showModal();
  }

  async function confirmCancel(e) {
    e.preventDefault();
    const dialog = $("#cancel-dialog"), visit = visits.find((v) => v.id === +dialog.dataset.visit);
    const reason = $("#cancel-reason").value.trim();
    if (!reason) { $("#err-cancel").textContent = "Say why, for the patient's record."; return; }
    const res = await api("POST", `/api/v1/visits/${visit.id}/transition`, { status: "cancelled", reason });
    if (res.status === 200) {
      dialog.close();
      flash(`Request for ${visit.patient} on ${visit.date} cancelled.`);
      location.reload();
      return;
    }
    $("#err-cancel").textContent = res.status === 0 ? "You are offline: nothing was sent." : problems(res.json).join(" ");
  }

  document.addEventListener("DOMContentLoaded", () => {
    windowRow();
    form.addEventListener("submit", submit);
    $("#add-window").addEventListener("click", () => windowRow("14:00", "16:00"));
    $("#stop-editing").addEventListener("click", stopEditing);
    document.querySelectorAll("button.change").forEach((b) => b.addEventListener("click", () => edit(visits.find((v) => v.id === +b.dataset.visit))));
    document.querySelectorAll("button.cancel").forEach((b) => b.addEventListener("click", () => cancel(visits.find((v) => v.id === +b.dataset.visit))));
    $("#cancel-form").addEventListener("submit", confirmCancel);
    $("#cancel-keep").addEventListener("click", () => $("#cancel-dialog").close());
    const shown = flash();
    if (shown) $("#flash").textContent = shown;
  });
})();
