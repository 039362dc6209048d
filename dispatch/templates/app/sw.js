{% load static %}// The phone app's service worker: today's schedule readable with no signal.
// Network first, so a therapist with signal always sees the live day; the copy is the fallback.
// Only GETs are cached: an action taken offline fails in the page, which says it was not sent.
"use strict";
const CACHE = "rounds-app-v1";
const SHELL = ["/app/", "{% static 'rounds/rounds.css' %}", "{% static 'rounds/common.js' %}",
  "{% static 'app/app.css' %}", "{% static 'app/app.js' %}", "{% static 'app/icon.svg' %}"];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

async function fromCache(request) {
  const cache = await caches.open(CACHE);
  // A page of another day falls back to the app itself, which then reads its data from the cache.
  const hit = await cache.match(request) || (request.mode === "navigate" ? await cache.match("/app/") : undefined);
  if (!hit) return Response.error();
  if (!new URL(request.url).pathname.startsWith("/app/data")) return hit;
  // Tell the page this is the saved copy, so it says how old it is.
  const headers = new Headers(hit.headers);
  headers.set("X-Rounds-Offline", "1");
  return new Response(await hit.blob(), { status: hit.status, headers });
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (!(url.pathname.startsWith("/app/") || url.pathname.startsWith("{% get_static_prefix %}"))) return;
  event.respondWith(fetch(request).then((response) => {
    // A login redirect or an error is not the schedule: keep the last good copy.
    if (response.ok && !response.redirected) {
      const copy = response.clone();
      caches.open(CACHE).then((cache) => cache.put(request, copy));
    }
    return response;
  }).catch(() => fromCache(request)));
});
