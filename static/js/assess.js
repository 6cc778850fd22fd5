/* Clinician entry: the total is computed live as items are chosen (UN counts 0),
   and the NINDS coma rule is pointed out.  The server computes the total again. */
(function () {
  "use strict";
  var form = document.getElementById("assessment");
  if (!form) return;
  var out = document.getElementById("live-total");
  var coma = form.querySelector("[data-coma-warning]");
  var isGds = /^gds/.test(form.getAttribute("data-instrument"));
  function update() {
    var total = 0, answered = 0, fieldsets = form.querySelectorAll("fieldset");
    fieldsets.forEach(function (fs) {
      var c = fs.querySelector("input:checked");
      if (!c) return;
      answered++;
      if (!isGds && /^\d+$/.test(c.value)) total += parseInt(c.value, 10);
    });
    out.textContent = isGds ? "—" : (answered === fieldsets.length ? String(total) : total + " …");
    if (coma) {
      var v = function (n) { var c = form.querySelector('input[name="' + n + '"]:checked'); return c ? c.value : null; };
      var show = v("nihss_1a") === "3" && (v("nihss_8") !== "2" || v("nihss_9") !== "3");
      coma.hidden = !show; coma.textContent = show ? form.getAttribute("data-t-coma") : "";
    }
  }
  form.addEventListener("change", update);
  update();
})();
