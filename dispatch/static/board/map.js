// The route map on Leaflet (from the django-leaflet package): routes in the therapists' colours, a dot
// per stop that opens the visit, facilities, home bases and the open requests. Tiles come from the
// server's setting; with none (tests, no network) the same routes are drawn on a blank map.
(function () {
  "use strict";
  const { el, hhmm } = window.Rounds;
  const B = (window.Board = window.Board || {});
  let map = null, layer = null;
  B.routes = {};

  function ensureMap() {
    if (map) return map;
    const box = document.getElementById("map");
    map = L.map(box, { zoomSnap: 0.25, attributionControl: Boolean(box.dataset.tiles) });
    if (box.dataset.tiles) L.tileLayer(box.dataset.tiles, { attribution: box.dataset.attribution, maxZoom: 19 }).addTo(map);
    layer = L.layerGroup().addTo(map);
    L.control.scale({ imperial: false }).addTo(map);
    // The panel's width follows the window and the list beside it; the map follows the panel.
    if (window.ResizeObserver) new ResizeObserver(() => map.invalidateSize()).observe(box);
    return map;
  }

  function legend() {
    const key = document.getElementById("map-legend");
    key.replaceChildren();
    B.data.therapists.forEach((t, i) => {
      if (!t.visits.length) return;
      const item = el("button", "quiet route-key", t.name, { type: "button", "data-therapist": t.id });
      const line = el("i", "line");
      line.style.background = B.colour(i);
      item.prepend(line);
      item.addEventListener("click", () => B.pick(t.id));
      key.append(item);
    });
    for (const [cls, label] of [["square", "facility"], ["dot", "visit stop"], ["ring", "home base"], ["ring dashed", "unassigned request"]]) {
      const item = el("span", null, label);
      item.prepend(el("i", `mark ${cls}`));
      key.append(item);
    }
  }

  B.drawMap = function () {
    ensureMap();
    layer.clearLayers();
    B.routes = {};
    const points = [];
    B.data.therapists.forEach((t, i) => {
      const colour = B.colour(i), home = [t.home.lat, t.home.lon];
      const stops = t.visits.map((v) => [v.lat, v.lon]);
      if (stops.length) {
        B.routes[t.id] = L.polyline([home, ...stops, home], { color: colour, weight: 3, opacity: 0.85, className: `route therapist-${t.id}` })
          .bindTooltip(t.name).addTo(layer);
        L.circleMarker(home, { radius: 5, color: colour, weight: 2, fillColor: "#fff", fillOpacity: 1, className: `home therapist-${t.id}` })
          .bindTooltip(`${t.name} (home base)`).addTo(layer);
        points.push(home);
      }
      t.visits.forEach((v, n) => {
        L.circleMarker([v.lat, v.lon], { radius: 6, color: "#fff", weight: 1.5, fillColor: colour, fillOpacity: 1, className: `stop therapist-${t.id}` })
          .bindTooltip(`${n + 1}. ${hhmm(v.start)} ${v.patient} · ${t.name}`)
          .on("click", () => B.details(v, t.name)).addTo(layer);
        points.push([v.lat, v.lon]);
      });
    });
    for (const f of B.data.facilities) {
      const icon = L.divIcon({ className: `facility-mark kind-${f.kind}`, iconSize: [12, 12] });
      L.marker([f.lat, f.lon], { icon, keyboard: false, title: f.name, alt: f.name }).bindTooltip(f.name).addTo(layer);
      points.push([f.lat, f.lon]);
    }
    for (const v of B.data.unassigned) {
      L.circleMarker([v.lat, v.lon], { radius: 4, color: "#5f6b7a", weight: 1.5, dashArray: "2 2", fill: false, className: "open-request" })
        .bindTooltip(`Unassigned: ${v.patient} · ${v.location}`).on("click", () => B.details(v, null)).addTo(layer);
      points.push([v.lat, v.lon]);
    }
    map.invalidateSize();
    fit(points);
    legend();
  };

  // Leaflet cannot fit a box with no size (every point in one place: its zoom comes out NaN); show the place.
  function fit(points) {
    if (!points.length) { map.setView([43.7, -79.4], 10); return; }
    const box = L.latLngBounds(points);
    if (box.getNorthEast().equals(box.getSouthWest())) map.setView(box.getCenter(), 15);
    else map.fitBounds(box, { padding: [16, 16] });
  }

  // A proposal's routes over the current ones: dashed, in the therapist's colour, gone when it closes.
  let proposed = null;
  B.drawProposedRoutes = function (preview) {
    B.clearProposedRoutes();
    ensureMap();
    proposed = L.layerGroup().addTo(map);
    (preview.routes || []).forEach((r) => {
      const i = B.data.therapists.findIndex((t) => t.id === r.therapist);
      const t = B.data.therapists[i];
      if (!t) return;
      const home = [t.home.lat, t.home.lon];
      L.polyline([home, ...r.stops, home], { color: B.colour(i), weight: 3, dashArray: "6 6", opacity: 0.9, className: `proposed therapist-${t.id}` })
        .bindTooltip(`${t.name} (proposed)`).addTo(proposed);
    });
  };
  B.clearProposedRoutes = function () {
    if (proposed) proposed.remove();
    proposed = null;
  };

  // One therapist's route stands out; the others fade.
  B.highlightRoute = function (picked) {
    B.data.therapists.forEach((t) => {
      const line = B.routes[t.id];
      if (!line) return;
      const mine = t.id === picked;
      line.setStyle({ weight: mine ? 6 : 3, opacity: picked === null || mine ? 0.9 : 0.15 });
      if (mine) line.bringToFront();
      line.getElement() && line.getElement().classList.toggle("picked", mine);
      line.getElement() && line.getElement().classList.toggle("faded", picked !== null && !mine);
    });
  };
})();
