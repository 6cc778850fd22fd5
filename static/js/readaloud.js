/* Read aloud (朗读): a big button on each question screen reads the question and then every answer,
   and a speaker button beside each answer reads that answer alone (without choosing it), with the
   phone's own speech (Web Speech API), so it works offline too.
   - Never automatic: only a tap starts it; a second tap (or going to another question) stops it.
   - The page's language: zh-CN on Chinese pages, en on English ones, with a voice for it if the
     phone lists one. Where the phone has no speech, or no voice for the language, there is no
     button at all: never a button that does nothing.
   - The question is read in the wording shown now (it follows who answers, questionnaire.js).
   Translated text comes from data-t-read / data-t-stop / data-t-read-answer on the form. */
(function () {
  "use strict";
  var form = document.getElementById("questionnaire");
  var speech = window.speechSynthesis;
  if (!form || !speech || typeof window.SpeechSynthesisUtterance !== "function") return;
  var t = function (k) { return form.getAttribute("data-t-" + k) || k; };
  var lang = /^en/i.test(document.documentElement.lang) ? "en" : "zh-CN";
  var buttons = [];
  var reading = null; // the button whose screen is being read

  // The best voice for the page's language: the exact region first (zh-CN), then the language.
  function voiceFor() {
    var voices = [];
    try { voices = speech.getVoices() || []; } catch (e) { return null; }
    var norm = function (v) { return String(v.lang || "").replace("_", "-").toLowerCase(); };
    var want = lang.toLowerCase(), base = want.split("-")[0];
    var exact = voices.filter(function (v) { return norm(v) === want || norm(v).indexOf(want + "-") === 0; });
    var same = voices.filter(function (v) { return norm(v).split("-")[0] === base; });
    if (base === "zh") same = same.filter(function (v) { return !/-(hk|tw|yue)/.test(norm(v)); }).concat(same);
    return exact[0] || same[0] || null;
  }

  function textOf(el) { return el ? el.textContent.replace(/\s+/g, " ").trim() : ""; }

  // What one screen says: its question, then each answer in order.
  function parts(fs) {
    var out = [textOf(fs.querySelector("legend .q-text") || fs.querySelector("legend"))];
    if (!fs.querySelector("legend .q-text")) {
      var progress = textOf(fs.querySelector("legend .progress"));
      if (progress) out[0] = out[0].replace(progress, "").trim();
    }
    fs.querySelectorAll("label.choice").forEach(function (label) { out.push(textOf(label)); });
    return out.filter(Boolean);
  }

  function stop() {
    if (!reading) return;
    var b = reading; reading = null;
    try { speech.cancel(); } catch (e) { /* nothing to stop */ }
    b.textContent = t("read");
    b.classList.remove("reading");
  }

  function read(button, fs) {
    if (reading) { var same = reading === button; stop(); if (same) return; }
    var voice = voiceFor();
    if (!voice) { hideAll(); return; }
    var texts = parts(fs);
    reading = button;
    button.textContent = t("stop");
    button.classList.add("reading");
    texts.forEach(function (text, i) {
      var u = new window.SpeechSynthesisUtterance(text);
      u.lang = lang;
      try { u.voice = voice; } catch (e) { /* a browser that takes only lang */ }
      u.rate = 0.9; // a little slower than usual: easier to follow after a stroke
      if (i === texts.length - 1) {
        u.onend = function () { if (reading === button) stop(); };
      }
      u.onerror = function () { if (reading === button) stop(); };
      speech.speak(u);
    });
  }

  // One answer, on its own: the speaker beside it (its own target, so hearing never chooses it).
  function readAnswer(label) {
    stop();
    var voice = voiceFor();
    if (!voice) { hideAll(); return; }
    try { speech.cancel(); } catch (e) { /* nothing was being read */ }
    var u = new window.SpeechSynthesisUtterance(textOf(label));
    u.lang = lang;
    try { u.voice = voice; } catch (e) { /* a browser that takes only lang */ }
    u.rate = 0.9;
    speech.speak(u);
  }

  function hideAll() { buttons.forEach(function (b) { b.hidden = true; }); }

  function answerButton(label) {
    // The label keeps the radio; the button sits beside it in a row, never inside (a tap on a
    // button in a label would also choose the answer).
    var row = document.createElement("div");
    row.className = "choice-row";
    label.parentNode.insertBefore(row, label);
    row.appendChild(label);
    var b = document.createElement("button");
    b.type = "button"; b.className = "secondary read-answer";
    b.setAttribute("data-read-answer", "");
    b.setAttribute("aria-label", t("read-answer").replace("{answer}", textOf(label)));
    b.textContent = "🔊";
    b.addEventListener("click", function () { readAnswer(label); });
    row.appendChild(b);
    return b;
  }

  function addButtons() {
    if (buttons.length) { buttons.forEach(function (b) { b.hidden = false; }); return; }
    form.querySelectorAll("fieldset.step").forEach(function (fs) {
      var row = document.createElement("div");
      row.className = "read-row";
      var b = document.createElement("button");
      b.type = "button"; b.className = "secondary read-aloud"; b.textContent = t("read");
      b.setAttribute("data-read-aloud", "");
      b.addEventListener("click", function () { read(b, fs); });
      row.appendChild(b);
      var legend = fs.querySelector("legend");
      fs.insertBefore(row, legend ? legend.nextSibling : fs.firstChild);
      buttons.push(b);
      fs.querySelectorAll("label.choice").forEach(function (label) { buttons.push(answerButton(label)); });
    });
  }

  // Voices often arrive a moment after the page (voiceschanged): the buttons come when they do.
  function check() { if (voiceFor()) addButtons(); else if (!reading) hideAll(); }
  check();
  if (typeof speech.addEventListener === "function") speech.addEventListener("voiceschanged", check);
  // Another question, the review, or leaving the page: the reading stops.
  form.addEventListener("click", function (ev) {
    var b = ev.target.closest && ev.target.closest("button");
    if (b && !b.hasAttribute("data-read-aloud") && !b.hasAttribute("data-read-answer")) stop();
  });
  form.addEventListener("change", function (ev) { if (ev.target && ev.target.name === "respondent") stop(); });
  window.addEventListener("pagehide", stop);
})();
