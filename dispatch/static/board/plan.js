// Planning on the board: start a plan (or a re-plan of the rest of today), follow it in a coordinator's
// terms, preview what it changes over the current day, and apply it only once confirmed.
(function () {
  "use strict";
  const { api, el, problems, dayLabel } = window.Rounds;
  const B = (window.Board = window.Board || {});
  const $ = (s) => document.querySelector(s);
  const plural = (n, one, many) => `${n} ${n === 1 ? one : many || `${one}s`}`;
  B.preview = null;

  function progressText(run, limit) {
    const p = run.progress || {};
    const name = run.kind === "replan" ? "Re-plan" : "Plan";
    if (p.visits_assigned === undefined || p.visits_assigned === null) return `${name} ${run.id}: ${run.status}…`;
    const best = `best so far: ${plural(p.visits_assigned, "visit")}, ${Math.round(p.travel_min).toLocaleString(B.locale)} min travel`;
    return `${name} ${run.id}: ${best} · ${(+p.elapsed_s).toFixed(1)} of ${limit} s`;
  }

  async function follow(id, planDay, limit) {
    const bar = $("#plan-progress");
    bar.max = limit; bar.value = 0; bar.hidden = false;
    try {
      for (;;) {
        const res = await api("GET", `/api/v1/plans/${id}`);
        const run = res.json;
        // The run goes on in the server whatever one poll meets: a dropped connection or a busy server (5xx)
        // is waited out, a refusal (403, 404) ends the following.
        if (res.status === 0 || res.status >= 500) {
          B.say(`Plan ${id}: no answer from the server just now; still following it…`, planDay);
          await new Promise((r) => setTimeout(r, 2000));
          continue;
        }
        if (res.status !== 200) { B.say(`Plan ${id}: ${problems(run).join(" ")}`, planDay); return; }
        B.say(progressText(run, limit), planDay);
        if (run.progress && run.progress.elapsed_s !== undefined) bar.value = Math.min(+run.progress.elapsed_s, limit);
        if (run.status === "succeeded") {
          if (run.result && run.result.status === "no_solution") { B.say(`Plan ${id} found no plan at all; nothing to apply.`, planDay); return; }
          if ($("#day").value !== planDay) { B.say(`Plan ${id} for ${dayLabel(planDay)} is ready: open that day to preview it.`, planDay); return; }
          await B.reload();  // the open requests now carry this plan's reasons
          await showPreview(id);
          return;
        }
        if (run.status === "failed") { B.say(`Plan ${id} failed: ${run.error}`, planDay); return; }
        await new Promise((r) => setTimeout(r, 1000));
      }
    } finally {
      bar.hidden = true;
      $("#plan").disabled = false;
      $("#replan").disabled = false;
    }
  }

  B.startPlan = async function () {
    const limit = +$("#time-limit").value || 10, planDay = $("#day").value;
    B.closePreview();
    $("#show-preview").hidden = true;  // an older plan's preview is not what is being made now
    $("#plan").disabled = true;
    const started = await api("POST", "/api/v1/plans", { date: planDay, time_limit_s: limit });
    if (started.status !== 202) {
      B.say(`Not started: ${problems(started.json).join(" ")}`, planDay);
      $("#plan").disabled = false;
      return;
    }
    await follow(started.json.id, planDay, limit);
  };

  B.startReplan = async function () {
    const planDay = $("#day").value;
    B.closePreview();
    $("#show-preview").hidden = true;
    $("#replan").disabled = true;
    const started = await api("POST", "/api/v1/replan", { date: planDay });
    if (started.status !== 201) {
      B.say(`Re-plan not started: ${problems(started.json).join(" ")}`, planDay);
      $("#replan").disabled = false;
      return;
    }
    await follow(started.json.id, planDay, (started.json.parameters || {}).time_limit_s || 2);
  };

  async function showPreview(id) {
    const res = await fetch(`/board/plans/${id}/preview`, { credentials: "same-origin", headers: { Accept: "application/json" } });
    const p = await res.json().catch(() => ({}));
    if (!res.ok) { B.say(`Plan ${id}: ${problems(p).join(" ")}`); return; }
    B.preview = p;
    const name = p.kind === "replan" ? "Re-plan" : "Plan";
    const k = p.kpis || {};
    $("#preview-title").textContent = `${name} ${p.plan} for ${dayLabel(p.date)}: ${plural(k.assigned ?? 0, "visit")} booked, ` +
      `${Math.round(k.travel_min || 0).toLocaleString(B.locale)} min travel` + (k.unassigned ? `, ${k.unassigned} left open` : "");
    const counts = $("#preview-counts");
    counts.replaceChildren();
    for (const [kind, label] of [["moved", "moved"], ["reassigned", "reassigned"], ["unbooked", "unbooked"], ["added", "added"]]) {
      const item = el("span", `count ${kind}`);
      item.append(el("b", null, String(p.counts[kind])), ` ${label}`);
      counts.append(item);
    }
    const list = $("#preview-changes");
    list.replaceChildren(...p.changes.slice(0, 8).map((c) => el("li", c.kind, c.text)));
    if (p.changes.length > 8) {
      const more = el("details");
      more.append(el("summary", null, `and ${p.changes.length - 8} more`));
      const rest = el("ul", "changes");
      rest.append(...p.changes.slice(8).map((c) => el("li", c.kind, c.text)));
      more.append(rest);
      const item = el("li", "more");
      item.append(more);
      list.append(item);
    }
    if (!p.changes.length) list.append(el("li", null, "It changes nothing on this day."));
    $("#apply").textContent = `Apply ${name.toLowerCase()} ${p.plan}…`;
    $("#preview").hidden = false;
    $("#show-preview").hidden = true;
    B.drawGhosts(p);
    B.drawProposedRoutes(p);
    B.say(`${name} ${p.plan} is ready: its changes are drawn over the day. Apply it to book them.`, p.date);
  }
  B.showPreview = showPreview;

  B.closePreview = function () {
    B.preview = null;
    $("#preview").hidden = true;
    if (B.clearGhosts) B.clearGhosts();
    if (B.clearProposedRoutes) B.clearProposedRoutes();
  };

  // The confirmation says what the apply would unbook before anything is written.
  function askApply() {
    const p = B.preview;
    const name = p.kind === "replan" ? "re-plan" : "plan";
    const dropped = p.changes.filter((c) => c.kind === "unbooked");
    $("#apply-title").textContent = `Apply ${name} ${p.plan}?`;
    const rest = `It moves ${p.counts.moved}, reassigns ${p.counts.reassigned} and books ${plural(p.counts.added, "new visit")}.`;
    const back = dropped.length === 1 ? "it goes back to the open requests and its patient loses the time"
      : "they go back to the open requests and their patients lose their times";
    $("#apply-text").textContent = dropped.length
      ? `It unbooks ${plural(dropped.length, "booked visit")}: ${back}. ${rest}`
      : `It unbooks no booked visit. ${rest}`;
    $("#apply-dropped").replaceChildren(...dropped.map((c) => el("li", null, c.text)));
    $("#apply-confirm").textContent = dropped.length ? `Apply and unbook ${dropped.length}` : "Apply";
    $("#apply-dialog").showModal();
  }

  async function apply(e) {
    e.preventDefault();
    $("#apply-dialog").close();
    const p = B.preview, dropped = p.counts.unbooked;
    const res = await api("POST", `/api/v1/plans/${p.plan}/apply`, dropped ? { drop_booked: true } : {});
    const name = p.kind === "replan" ? "Re-plan" : "Plan";
    B.closePreview();
    B.say(res.status === 200
      ? `${name} ${p.plan} applied: ${p.counts.added} booked, ${p.counts.moved} moved, ${p.counts.reassigned} reassigned, ${p.counts.unbooked} unbooked.`
      : `Not applied: ${problems(res.json).join(" ")}`, p.date);
    await B.reload();
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("#plan").addEventListener("click", B.startPlan);
    $("#replan").addEventListener("click", B.startReplan);
    $("#apply").addEventListener("click", askApply);
    $("#discard").addEventListener("click", () => { const id = B.preview && B.preview.plan; B.closePreview(); if (id) $("#show-preview").hidden = false; });
    $("#show-preview").addEventListener("click", () => B.data.pending_plan && showPreview(B.data.pending_plan.id));
    $("#apply-form").addEventListener("submit", apply);
    $("#apply-cancel").addEventListener("click", () => $("#apply-dialog").close());
  });
})();
