/* Text size and contrast, chosen by the person (the "Text size" menu in the header).
   Loaded in <head> without defer, so the page is drawn at the right size from the start (no
   flash of small text). The choice is kept on this phone (localStorage, one entry per person,
   so a shared phone keeps each person's own) and on the account (POST /account/display), so
   it follows the person to another phone. The server renders its saved value (a class on <html>, the meta epro-display); a
   choice made on this phone wins for the same person, as it is the newest thing they did here.
   A choice made offline is sent when there is a connection again. */
(function () {
  "use strict";
  var root = document.documentElement;
  var KEY = "epro-display";
  var SIZES = ["100", "125", "150", "175", "200"];
  root.classList.add("js");
  var saved = document.querySelector('meta[name="epro-display"]');
  var attr = function (name) { return (saved && saved.getAttribute("data-" + name)) || ""; };
  var user = attr("user");

  function load() { try { return JSON.parse(localStorage.getItem(KEY) || "{}") || {}; } catch (e) { return {}; } }
  function store(all) { try { localStorage.setItem(KEY, JSON.stringify(all)); } catch (e) { /* private mode */ } }
  function valid(p) { return p && SIZES.indexOf(String(p.size)) >= 0 && (p.contrast === "more" || p.contrast === "normal"); }

  function apply(p) {
    SIZES.forEach(function (s) { root.classList.remove("text-" + s); });
    root.classList.remove("contrast-more", "contrast-normal");
    if (!valid(p)) return;
    if (String(p.size) !== "100") root.classList.add("text-" + p.size);
    root.classList.add("contrast-" + p.contrast);
  }

  var all = load();
  var mine = user ? all["u" + user] : null;
  var server = { size: attr("text-size"), contrast: attr("contrast") };
  var prefs = null;
  if (valid(mine)) prefs = mine;
  else if (user && valid(server)) { prefs = server; all["u" + user] = server; all.last = server; store(all); }
  else if (!user && valid(all.last)) prefs = all.last;
  if (prefs) apply(prefs);

  function choose(p) {
    apply(p);
    var now = load();
    var entry = { size: String(p.size), contrast: p.contrast, pending: !!user };
    if (user) now["u" + user] = entry;
    now.last = { size: entry.size, contrast: entry.contrast };
    store(now);
    return send();
  }

  // A fresh CSRF token and the person signed in now (a page kept offline may be older than both).
  function send() {
    var entry = user ? load()["u" + user] : null;
    var menu = document.querySelector("[data-display-menu]");
    var url = menu && menu.getAttribute("data-url");
    if (!entry || !entry.pending || !url || !window.fetch) return Promise.resolve(false);
    return fetch("/pwa/session", { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (s) {
        if (!s || s.user !== user) return false;
        var body = new URLSearchParams({ text_size: entry.size, contrast: entry.contrast });
        return fetch(url, { method: "POST", credentials: "same-origin", body: body,
          headers: { "Accept": "application/json", "X-CSRFToken": s.csrf_token } })
          .then(function (r) {
            if (!r.ok) return false;
            var now = load();
            if (now["u" + user] && now["u" + user].size === entry.size && now["u" + user].contrast === entry.contrast) {
              now["u" + user].pending = false; store(now);
            }
            return true;
          });
      }).catch(function () { return false; }); // offline: kept as pending, sent later
  }

  function wire() {
    var menu = document.querySelector("[data-display-menu]");
    if (!menu) return;
    var form = menu.querySelector("form");
    var status = menu.querySelector("[data-display-status]");
    // Nothing chosen yet: the menu shows what the page shows (the phone may ask for more contrast).
    var phoneWantsContrast = !!(window.matchMedia && window.matchMedia("(prefers-contrast: more)").matches);
    var current = prefs || { size: "100", contrast: phoneWantsContrast ? "more" : "normal" };
    form.querySelectorAll("input[name=text_size]").forEach(function (i) { i.checked = i.value === String(current.size); });
    form.querySelectorAll("input[name=contrast]").forEach(function (i) { i.checked = i.value === current.contrast; });
    function chosen() {
      var size = form.querySelector("input[name=text_size]:checked");
      var contrast = form.querySelector("input[name=contrast]:checked");
      return { size: size ? size.value : "100", contrast: contrast ? contrast.value : "normal" };
    }
    form.addEventListener("change", function () {
      choose(chosen()).then(function (saved) {
        if (status) status.textContent = menu.getAttribute(saved ? "data-t-saved" : "data-t-saved-here") || "";
      });
    });
    form.addEventListener("submit", function (ev) { ev.preventDefault(); choose(chosen()); menu.open = false; });
    window.addEventListener("online", send);
    if (navigator.onLine !== false) send();
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", wire);
  else wire();
})();
