/* epro service worker {{ version }}.
   - App shell (CSS, JS, icon, offline page): precached, then cache-first; their URLs carry a
     content hash, so a cached copy is never stale.
   - HTML pages: network first. Only the patient-side pages the server marks with X-Epro-Cache
     are kept, in one cache per person ("epro-pages-<user>"); a page for anybody else drops them,
     so a shared phone never shows one person's answers to another.
   - Never caches the API or any POST. Answers waiting to be sent live in IndexedDB (outbox.js),
     which this worker also flushes on Background Sync.
   - A new version waits (no automatic skipWaiting) until the person taps "reload" outside a
     questionnaire, so nothing is interrupted half-way. */
/* global eproOutbox */
"use strict";
importScripts("{{ outbox_js }}");

const VERSION = "{{ version }}";
const SHELL_CACHE = "epro-shell-" + VERSION;
const PAGES = "epro-pages-";
const SHELL = {{ shell|tojson }};
const OFFLINE = { zh: "/offline?lang=zh", en: "/offline?lang=en" };
const QUESTIONNAIRE = /^\/patients\/\d+\/visits\//;
// The language of the last page seen, for the offline page (best effort: lost when the worker sleeps).
let lastLang = "zh";

self.addEventListener("install", (event) => {
  // Shell URLs carry a content hash, so the copy the page just loaded (HTTP cache) is the right one:
  // no second download. The offline page is fetched anew, anonymous (credentials: "omit").
  const requests = SHELL.map((url) => new Request(url))
    .concat(Object.values(OFFLINE).map((url) => new Request(url, { cache: "reload", credentials: "omit" })));
  event.waitUntil(caches.open(SHELL_CACHE).then((cache) => cache.addAll(requests)));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k.startsWith("epro-shell-") && k !== SHELL_CACHE)
      .map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener("message", (event) => {
  const data = event.data || {};
  if (data.type === "skip-waiting") event.waitUntil(skipWaitingIfIdle(event.source));
  else if (data.type === "cache-pages") event.waitUntil(cachePages(data));
});

// Background Sync (where the browser has it) sends queued answers even after the app was closed.
self.addEventListener("sync", (event) => {
  if (event.tag !== "epro-outbox") return;
  event.waitUntil(eproOutbox.flush().then((result) => {
    if (result.retry) throw new Error("outbox: retry later"); // the browser schedules another try
  }));
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/static/")) {
    event.respondWith(staticFirst(request));
  } else if (request.mode === "navigate") {
    event.respondWith(pageNetworkFirst(event, request, url));
  }
  // Everything else (the API, /pwa/session, the manifest) goes to the network untouched.
});

async function staticFirst(request) {
  const cache = await caches.open(SHELL_CACHE);
  const hit = await cache.match(request);
  if (hit) return hit;
  try {
    const response = await fetch(request);
    if (response.ok && new URL(request.url).searchParams.has("v")) cache.put(request, response.clone());
    return response;
  } catch (err) {
    // A page kept from an older version asks for older file hashes: the current file will do.
    const older = await caches.match(request, { ignoreSearch: true });
    if (older) return older;
    throw err;
  }
}

// A connection that is there but carries nothing ("lie-fi") must not leave a patient staring at a
// blank screen: after this long, a copy kept on the phone is shown while the network keeps trying.
const NETWORK_TIMEOUT_MS = 8000;

async function pageNetworkFirst(event, request, url) {
  const network = fetch(request).then((response) => remember(response));
  event.waitUntil(network.catch(() => null));
  const slow = new Promise((resolve) => setTimeout(resolve, NETWORK_TIMEOUT_MS))
    .then(() => keptCopy(url)).then((copy) => copy || network);
  try {
    return await Promise.race([network, slow]);
  } catch (err) {
    return (await keptCopy(url)) || offlinePage(url);
  }
}

async function remember(response) {
  const lang = (response.headers.get("Content-Language") || "").startsWith("en") ? "en" : "zh";
  if (response.headers.has("Content-Language")) lastLang = lang;
  const user = response.headers.get("X-Epro-User");
  if (user !== null) {
    // Waiting here keeps the order right when pages load quickly one after another.
    await dropPagesNotOf(user);
    if (response.ok && response.headers.get("X-Epro-Cache") === user) {
      await keep(await caches.open(PAGES + user), new URL(response.url), response.clone());
    }
  }
  return response;
}

// A page for somebody else (or for nobody: "-") drops the pages kept for anybody but them.
async function dropPagesNotOf(user) {
  const keys = await caches.keys();
  await Promise.all(keys.filter((k) => k.startsWith(PAGES) && k !== PAGES + user).map((k) => caches.delete(k)));
}

async function currentPagesCache() {
  const name = (await caches.keys()).find((k) => k.startsWith(PAGES));
  return name ? caches.open(name) : null;
}

// Kept by path only (?lang= and ?source= variants are the same page), as a plain copy:
// a response that came through a redirect cannot answer a navigation.
async function keep(cache, url, response) {
  const body = await response.blob();
  const headers = new Headers(response.headers);
  headers.set("X-Epro-Offline-Copy", new Date().toISOString());
  await cache.put(url.origin + url.pathname, new Response(body, { status: 200, headers: headers }));
}

async function keptCopy(url) {
  const cache = await currentPagesCache();
  if (!cache) return null;
  const path = url.pathname === "/" ? "/me" : url.pathname;
  return (await cache.match(url.origin + path, { ignoreSearch: true, ignoreVary: true })) || null;
}

async function offlinePage(url) {
  const lang = url.searchParams.get("lang") === "en" || (!url.searchParams.get("lang") && lastLang === "en")
    ? "en" : "zh";
  const page = await caches.match(OFFLINE[lang], { ignoreVary: true });
  return page || new Response("offline", { status: 503, headers: { "Content-Type": "text/plain" } });
}

// The home page asks for the questionnaires that are due (and the answered ones, read-only), so they
// open without a signal.
// A copy is fetched again only when missing, old or in another language (flaky, paid data);
// on the home page (prune), questionnaire and confirmation pages no longer listed are dropped.
const REFRESH_MS = 6 * 3600 * 1000;
async function cachePages(data) {
  if (!data.user) return;
  await dropPagesNotOf(data.user);
  const cache = await caches.open(PAGES + data.user);
  const pathOf = (u) => new URL(u, self.location.origin).pathname;
  const wanted = new Set((data.urls || []).map(pathOf));
  const answered = new Set((data.answered || []).map(pathOf));
  await Promise.all(Array.from(wanted).map(async (path) => {
    const copy = await cache.match(self.location.origin + path, { ignoreVary: true });
    // A questionnaire answered since its copy was made: the copy (an empty form) is fetched again.
    const outdated = copy && answered.has(path) && copy.headers.get("X-Epro-Answered") !== "1";
    if (copy && !outdated && copy.headers.get("Content-Language") === data.lang &&
        Date.now() - Date.parse(copy.headers.get("X-Epro-Offline-Copy")) < REFRESH_MS) return;
    try {
      const response = await fetch(path, { credentials: "same-origin" });
      if (response.ok && response.headers.get("X-Epro-Cache") === data.user) {
        await keep(cache, new URL(response.url), response);
      }
    } catch (err) { /* offline: keep what we have */ }
  }));
  if (!data.prune) return;
  for (const request of await cache.keys()) {
    const path = new URL(request.url).pathname;
    if (/^\/patients\/\d+\/(visits|done)\//.test(path) && !wanted.has(path)) await cache.delete(request);
  }
}

// A new version takes over only when no questionnaire is open in another tab.
async function skipWaitingIfIdle(source) {
  const windows = await self.clients.matchAll({ type: "window", includeUncontrolled: true });
  const busy = windows.some((c) => c.id !== (source && source.id) && QUESTIONNAIRE.test(new URL(c.url).pathname));
  if (busy) {
    if (source) source.postMessage({ type: "update-deferred" });
    return;
  }
  await self.skipWaiting();
}

// Reminders (web push): the server sends {title, body, url, lang, tag}, never health data (a lock screen is
// public). The notification opens the questionnaire, in a window of the app that is already open if any.
self.addEventListener("push", (event) => {
  let data = {};
  try { data = event.data ? event.data.json() : {}; } catch (err) { data = { body: event.data ? event.data.text() : "" }; }
  const title = data.title || "epro";
  event.waitUntil(self.registration.showNotification(title, {
    body: data.body || "",
    lang: data.lang === "en" ? "en" : "zh-Hans",
    tag: data.tag || "epro-reminder",
    icon: SHELL.find((u) => u.indexOf("icon-192") !== -1),
    data: { url: data.url || "/" },
  }));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const target = new URL((event.notification.data && event.notification.data.url) || "/", self.location.origin);
  // Only this app's own pages open from a notification.
  const url = target.origin === self.location.origin ? target.href : self.location.origin + "/";
  event.waitUntil(self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
    const open = windows.find((c) => new URL(c.url).origin === self.location.origin && "focus" in c);
    if (open && "navigate" in open) return open.navigate(url).then((c) => (c || open).focus());
    return self.clients.openWindow(url);
  }));
});
