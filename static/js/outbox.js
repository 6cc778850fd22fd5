/* The outbox: answers kept on this phone (IndexedDB) until the server has acknowledged them.
   Loaded by the pages and by the service worker (importScripts), so both send the same way.

   Why nothing is ever stored twice: each item carries the UUID made when the questionnaire was
   started; POST /api/v1/responses stores an id once (the same id and body again gets 200), and an
   item leaves the queue only after a 201 or 200 for its id. Retries, double taps, two tabs, the
   service worker and a reload mid-send can all send the same item: the server keeps one.
   A Web Lock lets only one sender work at a time, which saves requests, not correctness. */
(function (root) {
  "use strict";
  const DB_NAME = "epro";
  const STORE = "outbox";
  const SEND_TIMEOUT_MS = 20000;
  // Sent ids are remembered for a while, so a questionnaire page kept offline (which carries the
  // id made when it was fetched) gets a fresh id instead of reusing one the server already has.
  const KEEP_SENT_MS = 60 * 24 * 3600 * 1000;
  const channel = typeof BroadcastChannel === "function" ? new BroadcastChannel("epro-outbox") : null;
  let dbPromise = null;

  function openDb() {
    if (!dbPromise) {
      dbPromise = new Promise((resolve, reject) => {
        const req = indexedDB.open(DB_NAME, 1);
        req.onupgradeneeded = () => req.result.createObjectStore(STORE, { keyPath: "id" });
        req.onsuccess = () => {
          const db = req.result;
          db.onversionchange = () => { db.close(); dbPromise = null; };
          resolve(db);
        };
        req.onerror = () => { dbPromise = null; reject(req.error); };
      });
    }
    return dbPromise;
  }

  // One transaction; fn gets the store and may return a request whose result is resolved.
  async function run(mode, fn) {
    const db = await openDb();
    return new Promise((resolve, reject) => {
      const tx = db.transaction(STORE, mode);
      let result;
      const req = fn(tx.objectStore(STORE));
      if (req) req.onsuccess = () => { result = req.result; };
      tx.oncomplete = () => resolve(result);
      tx.onerror = tx.onabort = () => reject(tx.error);
    });
  }

  const all = () => run("readonly", (s) => s.getAll());
  const get = (id) => run("readonly", (s) => s.get(id));

  function changed() {
    if (channel) channel.postMessage("changed");
    if (typeof root.dispatchEvent === "function" && typeof Event === "function") root.dispatchEvent(new Event("epro-outbox"));
  }

  // Queue answers; a second tap (or tab) with the same id changes nothing once it was sent.
  async function add(item) {
    await run("readwrite", (s) => {
      const req = s.get(item.id);
      req.onsuccess = () => {
        if (req.result && req.result.state === "sent") return;
        s.put(Object.assign({}, item, { state: "pending", queued_at: new Date().toISOString() }));
      };
    });
    changed();
  }

  async function update(id, changes) {
    await run("readwrite", (s) => {
      const req = s.get(id);
      req.onsuccess = () => { if (req.result) s.put(Object.assign(req.result, changes)); };
    });
    changed();
  }

  // What the person still has to see: everything of theirs not yet acknowledged.
  async function waiting(user) {
    return (await all()).filter((i) => i.state !== "sent" && (!user || i.user === user));
  }

  async function isUsed(id) { return !!(await get(id)); }

  // Logging out on a shared phone: this person's queue and sent ids go.
  async function removeUser(user) {
    const ids = (await all()).filter((i) => i.user === user).map((i) => i.id);
    await run("readwrite", (s) => { ids.forEach((id) => s.delete(id)); });
    changed();
  }

  function exclusive(fn) {
    const locks = root.navigator && root.navigator.locks;
    return locks ? locks.request("epro-outbox", fn) : fn();
  }

  async function fetchWithTimeout(url, options) {
    const controller = typeof AbortController === "function" ? new AbortController() : null;
    const timer = controller && setTimeout(() => controller.abort(), SEND_TIMEOUT_MS);
    try {
      return await fetch(url, Object.assign({ credentials: "same-origin", cache: "no-store" }, options,
        controller ? { signal: controller.signal } : {}));
    } finally {
      if (timer) clearTimeout(timer);
    }
  }

  // Who is signed in now, and a fresh CSRF token (a page kept offline may hold a stale one).
  async function session() {
    const res = await fetchWithTimeout("/pwa/session", { headers: { Accept: "application/json" } });
    if (res.status === 401) return { user: null };
    if (!res.ok) throw new Error("session " + res.status);
    return res.json();
  }

  async function problemText(res) {
    try {
      const p = await res.json();
      const details = (p.errors || []).map((e) => e.message).filter(Boolean);
      return [p.detail || p.title || String(res.status)].concat(details).join(" ");
    } catch (err) {
      return String(res.status);
    }
  }

  // Send one item; the returned word says what happened.
  async function sendOne(item, csrf) {
    const body = {
      id: item.id, patient_id: item.patient_id, visit: item.visit, instrument: item.instrument,
      answers: item.answers, respondent: item.respondent, completed_at: item.completed_at,
    };
    let res;
    try {
      res = await fetchWithTimeout("/api/v1/responses", {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrf },
        body: JSON.stringify(body),
      });
    } catch (err) {
      return "offline";
    }
    if (res.status === 201 || res.status === 200) {
      let stored = null;
      try { stored = await res.json(); } catch (err) { /* not JSON: not an acknowledgement */ }
      if (!stored || stored.id !== item.id) return "retry";
      // The answers stay with the sent id (until it is pruned or the person signs out), so a copy of
      // the questionnaire kept offline from before opens as the answers given, not as an empty form.
      await run("readwrite", (s) => s.put({
        id: item.id, user: item.user, patient_id: item.patient_id, visit: item.visit,
        instrument: item.instrument, answers: item.answers, respondent: item.respondent,
        queued_at: item.queued_at, state: "sent", total: stored.total, sent_at: new Date().toISOString(),
        received_at: stored.received_at,
      }));
      return "sent";
    }
    // 401: signed out; 400: the CSRF check failed (the body is always valid JSON), i.e. the
    // session changed. Both keep the answers until the person signs in again.
    if (res.status === 401 || res.status === 400) return "signin";
    if (res.status === 409) {
      await update(item.id, { state: "conflict", message: await problemText(res) });
      return "kept";
    }
    if ([403, 404, 413, 422].includes(res.status)) {
      await update(item.id, { state: "rejected", message: await problemText(res) });
      return "kept";
    }
    return "retry"; // 429, 5xx, a proxy's error page: try again later
  }

  async function pruneSent() {
    const old = Date.now() - KEEP_SENT_MS;
    const ids = (await all()).filter((i) => i.state === "sent" && Date.parse(i.sent_at) < old).map((i) => i.id);
    if (ids.length) await run("readwrite", (s) => { ids.forEach((id) => s.delete(id)); });
  }

  // Send every pending item of the person signed in now. Never throws for network trouble;
  // the result says whether to try again later ({retry}) or to ask for a sign-in ({signin}).
  function flush() {
    return exclusive(async () => {
      const result = { sent: [], retry: false, signin: false };
      const pending = (await all()).filter((i) => i.state === "pending");
      if (!pending.length) { await pruneSent(); return result; }
      let who;
      try {
        who = await session();
      } catch (err) {
        result.retry = true;
        return result;
      }
      const needsSignin = [];
      for (const item of pending) {
        if (who.user && item.user === who.user && item.signin) await update(item.id, { signin: false });
      }
      for (const item of pending) {
        if (!who.user) { needsSignin.push(item.id); continue; }
        if (item.user !== who.user) continue; // another person's answers wait for them
        const outcome = await sendOne(item, who.csrf_token);
        if (outcome === "sent") result.sent.push(item.id);
        else if (outcome === "signin") needsSignin.push(item.id);
        else if (outcome === "offline" || outcome === "retry") { result.retry = true; break; }
      }
      for (const id of needsSignin) await update(id, { signin: true });
      result.signin = needsSignin.length > 0;
      if (result.sent.length) changed();
      return result;
    });
  }

  root.eproOutbox = { add, all, get, update, waiting, isUsed, removeUser, flush, channel };
})(self);
