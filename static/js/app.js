/* epro app shell, on every page: the service worker and its update banner, the "add to home
   screen" hint, the outbox of answers saved on this phone, and a clean sign-out on a shared phone.
   No framework; every page works without this file. Translated text comes from data-t-* attributes. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  const done = document.querySelector("[data-clear-draft]");
  if (done) {
    try { localStorage.removeItem(done.getAttribute("data-clear-draft")); } catch (e) { /* private mode */ }
  }

  const outboxEl = document.getElementById("outbox"); // only on patient and caregiver pages
  const user = outboxEl ? outboxEl.getAttribute("data-user") : null;
  const outbox = window.eproOutbox;
  const t = (key) => (outboxEl && outboxEl.getAttribute("data-t-" + key)) || "";
  const sw = "serviceWorker" in navigator && window.isSecureContext ? navigator.serviceWorker : null;
  const inQuestionnaire = () => !!document.querySelector("form#questionnaire:not([hidden])");

  /* ---- service worker and updates ---------------------------------------------------------- */
  let wantReload = false;
  if (sw) {
    sw.register("/sw.js", { scope: "/" }).then(watchForUpdates).catch(() => { /* the app works without it */ });
    sw.addEventListener("controllerchange", () => {
      // Only the tab where the person tapped "reload": another tab may hold a questionnaire.
      if (wantReload) { wantReload = false; location.reload(); }
    });
    sw.addEventListener("message", (event) => {
      if (event.data && event.data.type === "update-deferred") {
        const text = document.querySelector("#update-banner [data-text]");
        const banner = document.getElementById("update-banner");
        if (text && banner) text.textContent = banner.getAttribute("data-t-busy");
      }
    });
    cachePagesForOffline();
  }

  let waitingWorker = null;
  function watchForUpdates(reg) {
    const found = (worker) => {
      // No controller yet means a first install, not an update.
      if (worker && sw.controller) { waitingWorker = worker; showUpdate(); }
    };
    if (reg.waiting) found(reg.waiting);
    reg.addEventListener("updatefound", () => {
      const worker = reg.installing;
      if (worker) worker.addEventListener("statechange", () => { if (worker.state === "installed") found(worker); });
    });
  }

  // Never in the middle of a questionnaire: the banner waits for another page or the end of it.
  function showUpdate() {
    const banner = document.getElementById("update-banner");
    if (!banner || !waitingWorker || inQuestionnaire()) return;
    banner.hidden = false;
  }
  document.addEventListener("epro-questionnaire-finished", showUpdate);
  document.addEventListener("click", (event) => {
    if (event.target.closest("#update-banner [data-reload]") && waitingWorker) {
      wantReload = true;
      waitingWorker.postMessage({ type: "skip-waiting" });
    }
  });

  // The home page lists what is due: keep those questionnaires (and the page itself, on a first
  // visit, before the worker controlled it) so they open without a signal.
  function cachePagesForOffline() {
    if (!user) return;
    const home = document.querySelector("[data-offline-home]");
    const hrefs = (selector) => Array.from(document.querySelectorAll(selector)).map((a) => a.getAttribute("href"));
    // Answered ones too: a copy kept from before they were answered is fetched again (read-only now).
    const answered = hrefs("a[data-answered-instrument]");
    const urls = hrefs("a[data-instrument][data-visit], a[data-offline]").concat(answered);
    if (!sw.controller) urls.push(location.pathname);
    if (!home && sw.controller) return;
    sw.ready.then((reg) => {
      if (reg.active) {
        reg.active.postMessage({ type: "cache-pages", user: user, urls: urls, answered: answered, prune: !!home,
          lang: document.documentElement.lang });
      }
    });
  }

  /* ---- add to home screen ------------------------------------------------------------------- */
  let installPrompt = null;
  const hint = document.getElementById("install-hint");
  window.addEventListener("beforeinstallprompt", (event) => {
    if (!hint || localStorage.getItem("epro:install-hint") === "no") return;
    event.preventDefault(); // our own, calmer hint instead of the browser's banner
    installPrompt = event;
    hint.hidden = false;
  });
  window.addEventListener("appinstalled", () => { if (hint) hint.hidden = true; });
  if (hint) {
    hint.addEventListener("click", (event) => {
      if (event.target.closest("[data-install]") && installPrompt) {
        installPrompt.prompt();
        installPrompt.userChoice.finally(() => { hint.hidden = true; installPrompt = null; });
      } else if (event.target.closest("[data-dismiss]")) {
        hint.hidden = true;
        try { localStorage.setItem("epro:install-hint", "no"); } catch (e) { /* private mode */ }
      }
    });
  }

  /* ---- the outbox: answers saved on this phone ---------------------------------------------- */
  let flushing = null;
  let retryTimer = null;
  let sentSome = false;

  let flushAgain = null;
  function flushNow() {
    if (!outbox) return Promise.resolve(null);
    if (flushing) {
      // Answers queued while a send runs must not wait for the next trigger: one more round.
      if (!flushAgain) flushAgain = flushing.then(() => { flushAgain = null; return flushNow(); });
      return flushAgain;
    }
    flushing = outbox.flush().catch(() => ({ sent: [], retry: true })).then((result) => {
      flushing = null;
      if (result.sent.length) sentSome = true;
      clearTimeout(retryTimer);
      // Online but the server did not answer: try again in a while (the online event covers offline).
      if (result.retry && navigator.onLine) retryTimer = setTimeout(flushNow, 30000);
      render();
      return result;
    });
    return flushing;
  }

  // After answers were queued: ask the worker to send them even if the app gets closed.
  function queued() {
    if (sw) {
      sw.ready.then((reg) => reg.sync && reg.sync.register("epro-outbox")).catch(() => { /* no Background Sync */ });
    }
    return flushNow();
  }

  async function render() {
    if (!outboxEl || !outbox) return;
    let items, sent;
    try {
      const mine = (await outbox.all()).filter((i) => i.user === user);
      items = mine.filter((i) => i.state !== "sent");
      sent = mine.filter((i) => i.state === "sent");
    } catch (e) { return; }
    const box = outboxEl.querySelector(".outbox-box");
    const list = outboxEl.querySelector("ul");
    const status = outboxEl.querySelector("[role=status]");
    list.textContent = "";
    items.forEach((item) => {
      const li = document.createElement("li");
      li.setAttribute("data-id", item.id);
      li.setAttribute("data-state", item.signin ? "signin" : item.state);
      const title = document.createElement("strong");
      title.textContent = item.title || item.instrument;
      const state = document.createElement("span");
      state.textContent = t(item.signin ? "signin" : item.state);
      li.append(title, " ", state);
      if (item.message) {
        const detail = document.createElement("span");
        detail.className = "detail";
        detail.textContent = item.message;
        li.append(" ", detail);
      }
      if (item.signin) {
        const link = document.createElement("a");
        link.href = outboxEl.getAttribute("data-login-url");
        link.textContent = t("signin-link");
        li.append(" ", link);
      }
      list.appendChild(li);
    });
    box.hidden = items.length === 0;
    const text = items.length ? t("waiting") : sentSome ? t("sent") : "";
    if (status.textContent !== text) status.textContent = text;
    markTasks(items, sent);
    sayCount(items);
  }

  // On the home page (maybe a copy kept offline), a questionnaire saved here is no longer due: it is
  // marked waiting, or done once sent after the page was made (a copy kept from before).
  function markTasks(items, sent) {
    const home = document.querySelector("[data-offline-home]");
    const rendered = Date.parse((home && home.getAttribute("data-rendered-at")) || "");
    const sentSince = sent.filter((i) => !(Date.parse(i.received_at) < rendered));
    document.querySelectorAll("a[data-instrument][data-visit]").forEach((a) => {
      const same = (i) => i.instrument === a.getAttribute("data-instrument") &&
        i.visit === a.getAttribute("data-visit") && String(i.patient_id) === a.getAttribute("data-patient");
      const state = items.some(same) ? "waiting" : home && sentSince.some(same) ? "sent" : "";
      if (state) a.setAttribute("data-state", state); else a.removeAttribute("data-state");
      const badges = { waiting: ["badge queued", t("queued")], sent: ["badge complete", t("done")] };
      a.querySelectorAll(".badge.queued, .badge.complete").forEach((b) => {
        if (!state || b.className !== badges[state][0]) b.remove();
      });
      if (state && !a.querySelector(".badge.queued, .badge.complete")) {
        const badge = document.createElement("span");
        badge.className = badges[state][0];
        badge.textContent = badges[state][1];
        a.appendChild(badge);
      }
    });
  }

  // The home page says in words what waits on this phone, and "all sent" only when nothing does.
  function sayCount(items) {
    const el = document.querySelector("[data-outbox-count]");
    if (!el) return;
    const pending = items.filter((i) => i.state === "pending").length;
    const text = pending === 1 ? el.getAttribute("data-t-one")
      : pending > 1 ? el.getAttribute("data-t-many").replace("{n}", String(pending))
        : items.length ? "" : el.getAttribute("data-t-none");
    if (el.textContent !== text) el.textContent = text;
    el.setAttribute("data-waiting", String(pending));
  }

  if (outboxEl && outbox) {
    outboxEl.querySelector("[data-send-now]").addEventListener("click", flushNow);
    window.addEventListener("online", flushNow);
    window.addEventListener("epro-outbox", render);
    if (outbox.channel) outbox.channel.addEventListener("message", render);
    document.addEventListener("visibilitychange", () => { if (document.visibilityState === "visible") flushNow(); });
    render().then(flushNow); // opening the app sends what waits
  }

  /* ---- signing out on a shared phone -------------------------------------------------------- */
  document.addEventListener("submit", (event) => {
    const form = event.target.closest("form[data-logout]");
    if (!form || form.hasAttribute("data-confirmed")) return;
    event.preventDefault();
    signOut(form);
  });

  async function signOut(form) {
    let waiting = [];
    if (user && outbox) {
      try {
        // A last try to send, but a dead connection must not keep the person waiting.
        if (navigator.onLine) await Promise.race([flushNow(), new Promise((r) => setTimeout(r, 4000))]);
        waiting = await outbox.waiting(user);
      } catch (e) { /* no IndexedDB: nothing can be waiting */ }
    }
    waiting = waiting.concat(drafts().filter((d) => d.answered));
    if (waiting.length && !window.confirm(t("confirm-logout"))) return;
    try {
      if (window.caches) {
        const names = await caches.keys();
        await Promise.all(names.filter((n) => n.startsWith("epro-pages-")).map((n) => caches.delete(n)));
      }
      if (user && outbox) await outbox.removeUser(user);
      drafts().forEach((d) => localStorage.removeItem(d.key));
    } catch (e) { /* sign out anyway */ }
    form.setAttribute("data-confirmed", "");
    form.submit();
  }

  // Questionnaires started on this phone (questionnaire.js keeps them in localStorage).
  function drafts() {
    if (!user) return [];
    try {
      return Object.keys(localStorage).filter((k) => k.startsWith("epro:draft:" + user + ":")).map((k) => {
        let answers = {};
        try { answers = JSON.parse(localStorage.getItem(k)).answers || {}; } catch (e) { /* broken draft */ }
        return { key: k, answered: Object.keys(answers).length > 0 };
      });
    } catch (e) {
      return [];
    }
  }

  window.eproApp = { flushNow: flushNow, queued: queued, render: render };
})();
