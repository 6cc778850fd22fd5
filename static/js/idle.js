/* Staff sessions end after a time without activity; warn two minutes before,
   with a button that keeps the session (a request is activity). */
(function () {
  "use strict";
  var body = document.body;
  var total = parseInt(body.getAttribute("data-idle-seconds") || "0", 10);
  if (!total) return;
  var warnAt = Math.max(total - 120, 10) * 1000;
  var banner = null, timer = null;
  function hide() { if (banner) { banner.remove(); banner = null; } }
  function show() {
    if (banner) return;
    banner = document.createElement("div");
    banner.className = "flash idle-warning";
    banner.setAttribute("role", "alert");
    var text = document.createElement("p");
    text.textContent = body.getAttribute("data-t-idle");
    var stay = document.createElement("button");
    stay.type = "button";
    stay.textContent = body.getAttribute("data-t-stay");
    stay.addEventListener("click", function () {
      fetch("/session/keepalive", { credentials: "same-origin" }).then(function () { hide(); arm(); });
    });
    banner.appendChild(text); banner.appendChild(stay);
    var main = document.getElementById("main");
    main.insertBefore(banner, main.firstChild);
    stay.focus();
  }
  function arm() { clearTimeout(timer); timer = setTimeout(show, warnAt); }
  arm();
})();
