/* epro app shell: service worker registration and the draft cleanup after a save.
   No framework; every page works without this file. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");
  var done = document.querySelector("[data-clear-draft]");
  if (done) {
    try { localStorage.removeItem(done.getAttribute("data-clear-draft")); } catch (e) { /* private mode */ }
  }
  if ("serviceWorker" in navigator && window.isSecureContext) {
    navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function () { /* optional */ });
  }
})();
