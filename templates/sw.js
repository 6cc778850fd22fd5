/* epro service worker {{ version }} — caches the app shell so pages open on a weak signal. */
const VERSION = "epro-{{ version }}";
const SHELL = [
  "/offline",
  "{{ static_url('css/app.css') }}",
  "{{ static_url('js/app.js') }}",
  "{{ static_url('js/questionnaire.js') }}",
  "{{ static_url('icons/icon-192.png') }}",
];
self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(VERSION).then((cache) => cache.addAll(SHELL)));
});
self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys().then((keys) =>
    Promise.all(keys.filter((k) => k !== VERSION).map((k) => caches.delete(k)))).then(() => self.clients.claim()));
});
self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET" || new URL(request.url).origin !== self.location.origin) return;
  if (request.url.includes("/static/")) {
    event.respondWith(caches.match(request).then((hit) => hit || fetch(request)));
    return;
  }
  if (request.mode === "navigate") {
    event.respondWith(fetch(request).catch(() => caches.match("/offline")));
  }
});
