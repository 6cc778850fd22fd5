/* One question per screen on top of a plain HTML form.
   - progress "n of total", Back and Next, no pre-selected answers, no auto-advance;
   - a review screen that lists every answer with a way to change it;
   - answers are kept on the device (localStorage) until the server confirms,
     so a reload mid-way loses nothing; the response id is kept too, so a
     resend can never store the answers twice;
   - "send" puts the answers in the outbox on this phone (outbox.js) first, then
     tries to send them: on success the confirmation page, without a signal a
     clear "saved on this phone" state. Without IndexedDB (or without this
     file) the plain form post does the job;
   - the questions follow who answers them: a caregiver answering for the
     patient reads them about the patient ("he or she"), anyone else in the
     patient's own voice. Both wordings come with the page (data-voice-self,
     data-voice-proxy), so this works offline too. */
(function () {
  "use strict";
  var form = document.getElementById("questionnaire");
  if (!form) return;
  var t = function (k) { return form.getAttribute("data-t-" + k) || k; };
  var steps = Array.prototype.slice.call(form.querySelectorAll("fieldset.step"));
  var submitRow = form.querySelector("[data-submit-row]");
  var key = form.getAttribute("data-draft-key");
  var hasServerErrors = !!document.getElementById("error-summary");
  var current = 0, reviewing = false, backToReview = false;

  function load() { try { return JSON.parse(localStorage.getItem(key) || "null"); } catch (e) { return null; } }
  function save() {
    var data = { answers: {}, step: current, response_id: form.elements.response_id.value, saved: Date.now() };
    steps.forEach(function (fs) {
      var checked = fs.querySelector("input:checked");
      if (checked) data.answers[checked.name] = checked.value;
    });
    try { localStorage.setItem(key, JSON.stringify(data)); } catch (e) { /* storage full or private */ }
  }
  function restore() {
    var draft = load();
    if (!draft || hasServerErrors) return;
    if (draft.response_id) form.elements.response_id.value = draft.response_id;
    Object.keys(draft.answers || {}).forEach(function (name) {
      var input = form.querySelector('input[name="' + name + '"][value="' + String(draft.answers[name]).replace(/"/g, "") + '"]');
      if (input) input.checked = true;
    });
    if (typeof draft.step === "number" && draft.step < steps.length) current = draft.step;
  }

  var nav = document.createElement("div");
  nav.className = "actions";
  var back = button(t("back"), "secondary"), next = button(t("next"), "grow");
  nav.appendChild(back); nav.appendChild(next);
  var message = document.createElement("p");
  message.className = "error"; message.setAttribute("role", "alert"); message.hidden = true;
  var bar = document.createElement("div");
  bar.className = "progressbar"; bar.setAttribute("aria-hidden", "true");
  bar.appendChild(document.createElement("span"));
  var review = document.createElement("section");
  review.hidden = true; review.setAttribute("aria-labelledby", "review-title");
  form.insertBefore(bar, steps[0]);
  form.insertBefore(review, submitRow);
  form.insertBefore(message, submitRow);
  form.insertBefore(nav, submitRow);

  function button(label, cls) {
    var b = document.createElement("button");
    b.type = "button"; b.textContent = label; b.className = cls; return b;
  }
  // The wording of every question and of the instructions for the respondent chosen now.
  function applyVoice() {
    var chosen = form.querySelector('input[name="respondent"]:checked');
    var voice = chosen ? chosen.getAttribute("data-voice") || "self" : "self";
    document.querySelectorAll("[data-voice-self][data-voice-proxy]").forEach(function (el) {
      var text = el.getAttribute("data-voice-" + voice);
      if (text !== null && el.textContent !== text) el.textContent = text;
    });
  }
  function answered(fs) { return !!fs.querySelector("input:checked"); }
  function firstUnanswered() {
    for (var i = 0; i < steps.length; i++) if (!answered(steps[i])) return i;
    return -1;
  }
  function focusHeading(el) {
    var target = el.querySelector("legend, h2") || el;
    target.setAttribute("tabindex", "-1"); target.focus();
  }
  function show(i) {
    reviewing = false; current = i; message.hidden = true;
    steps.forEach(function (fs, n) { fs.hidden = n !== i; });
    review.hidden = true; submitRow.hidden = true; nav.hidden = false;
    back.hidden = i === 0;
    next.textContent = backToReview || i === steps.length - 1 ? t("review") : t("next");
    bar.firstChild.style.width = Math.round(100 * i / steps.length) + "%";
    save();
  }
  function showReview() {
    reviewing = true; backToReview = false; message.hidden = true;
    steps.forEach(function (fs) { fs.hidden = true; });
    review.innerHTML = "";
    var h = document.createElement("h2"); h.id = "review-title"; h.textContent = t("review");
    review.appendChild(h);
    var list = document.createElement("ul"); list.className = "review-list";
    steps.forEach(function (fs, n) {
      var li = document.createElement("li");
      var q = document.createElement("span"); q.className = "q";
      var legend = fs.querySelector("legend").cloneNode(true);
      var prog = legend.querySelector(".progress"); if (prog) prog.remove();
      q.textContent = (n + 1) + ". " + legend.textContent.trim();
      var checked = fs.querySelector("input:checked");
      var a = document.createElement("span");
      a.textContent = checked ? checked.parentNode.textContent.trim() : t("noanswer");
      var change = button(t("change"), "secondary");
      change.setAttribute("aria-label", t("change") + ": " + (n + 1));
      change.addEventListener("click", function () { backToReview = true; show(n); focusHeading(fs); });
      li.appendChild(q); li.appendChild(a); li.appendChild(change); list.appendChild(li);
    });
    review.appendChild(list);
    review.hidden = false; submitRow.hidden = false; nav.hidden = true;
    bar.firstChild.style.width = "100%";
    focusHeading(review);
  }
  back.addEventListener("click", function () { if (current > 0) { show(current - 1); focusHeading(steps[current]); } });
  next.addEventListener("click", function () {
    if (!answered(steps[current])) { message.textContent = t("required"); message.hidden = false; return; }
    if (backToReview || current === steps.length - 1) { showReview(); return; }
    show(current + 1); focusHeading(steps[current]);
  });
  form.addEventListener("change", function (ev) {
    message.hidden = true;
    if (ev.target && ev.target.name === "respondent") applyVoice();
    save();
  });
  var sending = false;
  form.addEventListener("submit", function (ev) {
    if (sending) { ev.preventDefault(); return; } // a double tap
    var missing = firstUnanswered();
    if (missing >= 0) { ev.preventDefault(); show(missing); message.textContent = t("required"); message.hidden = false; return; }
    // The moment the person pressed send: a late sync must not look like a late answer.
    if (!form.elements.completed_at.value) form.elements.completed_at.value = new Date().toISOString();
    save();
    if (!window.eproOutbox || !window.indexedDB) return; // the plain post
    ev.preventDefault();
    sending = true;
    submitRow.querySelector("button").disabled = true;
    queueAndSend().catch(function () {
      // The outbox is unusable here (storage blocked or full): the plain post still works.
      form.submit();
    });
  });

  function answersNow() {
    var answers = {};
    steps.forEach(function (fs) {
      var checked = fs.querySelector("input:checked");
      if (checked && checked.name !== "respondent") answers[checked.name] = checked.value;
    });
    return answers;
  }

  function queueAndSend() {
    var id = form.elements.response_id.value;
    var checkedRespondent = form.querySelector('input[name="respondent"]:checked');
    var item = {
      id: id, user: form.getAttribute("data-user"),
      patient_id: Number(form.getAttribute("data-patient-id")),
      visit: form.getAttribute("data-visit"), instrument: form.getAttribute("data-instrument"),
      answers: answersNow(),
      respondent: checkedRespondent ? checkedRespondent.value : form.getAttribute("data-respondent"),
      completed_at: form.elements.completed_at.value,
      title: document.querySelector("main h1").textContent.replace(/\s+/g, " ").trim(),
    };
    return window.eproOutbox.add(item).then(function () {
      // Queued: the outbox holds the answers now, so the draft can go.
      try { localStorage.removeItem(key); } catch (e) { /* private mode */ }
      var app = window.eproApp;
      return app ? app.queued() : window.eproOutbox.flush();
    }).then(function () {
      return window.eproOutbox.get(id);
    }).then(function (stored) {
      if (stored && stored.state === "sent") {
        location.assign(form.getAttribute("data-done-url").replace("RESPONSE_ID", encodeURIComponent(id)));
      } else {
        showSaved(stored || item);
      }
    });
  }

  // Not sent (yet): the answers are safe on this phone; say so, and what to do if the server refused.
  function showSaved(item) {
    var saved = document.getElementById("saved-here");
    var outboxEl = document.getElementById("outbox");
    var state = item.signin ? "signin" : item.state;
    var problem = saved.querySelector('[data-when="problem"]');
    var isProblem = state === "rejected" || state === "conflict" || state === "signin";
    saved.querySelector('[data-when="pending"]').hidden = isProblem;
    problem.hidden = !isProblem;
    if (isProblem) {
      problem.textContent = ((outboxEl && outboxEl.getAttribute("data-t-" + state)) || "") +
        (item.message ? " " + item.message : "");
    }
    form.hidden = true;
    saved.hidden = false;
    showGiven(item, false);
    saved.focus();
    document.dispatchEvent(new Event("epro-questionnaire-finished"));
  }

  /* ---- answered already: what was given, never an empty form ------------------------------- */
  var given = document.getElementById("given-here");
  var shownId = null;

  // The answers of an outbox item, one per line, in the words of this page (its language and the
  // voice the respondent was asked in).
  function showGiven(item, sent) {
    if (!given) return;
    var list = given.querySelector("ol.given-answers");
    var voice = item.respondent === "caregiver-proxy" ? "proxy" : "self";
    list.textContent = "";
    steps.forEach(function (fs) {
      var name = fs.getAttribute("data-key");
      if (name === "respondent") return;
      var q = fs.querySelector("legend .q-text");
      var question = q ? (q.getAttribute("data-voice-" + voice) || q.textContent) : name;
      var value = item.answers ? item.answers[name] : undefined;
      var input = value === undefined ? null :
        fs.querySelector('input[name="' + name + '"][value="' + String(value).replace(/"/g, "") + '"]');
      var label = input && input.parentNode.querySelector("span");
      var li = document.createElement("li");
      var qs = document.createElement("span"); qs.className = "q"; qs.textContent = question.trim();
      var a = document.createElement("strong"); a.className = "a";
      a.textContent = label ? label.textContent.trim() : "\u2014";
      li.append(qs, " ", a);
      list.appendChild(li);
    });
    given.querySelector("[data-given-sent]").hidden = !sent;
    given.querySelector("[data-given-back]").hidden = !sent;
    given.hidden = false;
    shownId = item.id;
  }

  function showSent(item) {
    form.hidden = true;
    document.getElementById("saved-here").hidden = true;
    showGiven(item, true);
    given.focus();
    document.dispatchEvent(new Event("epro-questionnaire-finished"));
  }

  // This person's answers to this questionnaire on this phone: waiting ones first (the newest),
  // else one sent after this page was made (a copy kept offline from before). A page the server
  // made after the send shows a form only if the answer no longer counts: the server knows best.
  function answeredHere() {
    if (!window.eproOutbox || !window.indexedDB) return Promise.resolve(null);
    var rendered = Date.parse(form.getAttribute("data-rendered-at") || "");
    return window.eproOutbox.all().then(function (items) {
      var mine = items.filter(function (i) {
        return i.user === form.getAttribute("data-user") && i.answers &&
          String(i.patient_id) === form.getAttribute("data-patient-id") &&
          i.visit === form.getAttribute("data-visit") && i.instrument === form.getAttribute("data-instrument");
      });
      var newest = function (list) {
        return list.sort(function (x, y) { return String(y.queued_at).localeCompare(String(x.queued_at)); })[0] || null;
      };
      var waiting = mine.filter(function (i) { return i.state !== "sent"; });
      if (waiting.length) return newest(waiting);
      return newest(mine.filter(function (i) { return !(Date.parse(i.received_at) < rendered); }));
    });
  }

  function showAnsweredHere() {
    return answeredHere().then(function (item) {
      if (!item) return;
      if (item.state === "sent") showSent(item); else showSaved(item);
    }).catch(function () { /* no IndexedDB: nothing was queued here */ });
  }
  // Sent while this page is open: say so.
  window.addEventListener("epro-outbox", function () {
    if (!shownId || !window.eproOutbox) return;
    window.eproOutbox.get(shownId).then(function (item) {
      if (item && item.state === "sent" && given.querySelector("[data-given-sent]").hidden) showSent(item);
    }).catch(function () { /* nothing to update */ });
  });

  // A page kept offline carries the id made when it was fetched; once that id was queued or sent,
  // a new questionnaire started from the same copy needs a new one (else the server sees a conflict).
  function freshIdIfUsed() {
    if (!window.eproOutbox || load()) return;
    var id = form.elements.response_id.value;
    window.eproOutbox.isUsed(id).then(function (used) {
      if (!used || form.elements.response_id.value !== id) return;
      form.elements.response_id.value = newId();
      save();
    }).catch(function () { /* no IndexedDB: nothing was queued here */ });
  }
  function newId() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 15) | 64; b[8] = (b[8] & 63) | 128;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  restore();
  applyVoice();
  freshIdIfUsed();
  showAnsweredHere();
  if (hasServerErrors) {
    var bad = firstUnanswered();
    show(bad >= 0 ? bad : 0);
  } else if (firstUnanswered() === -1 && load()) {
    showReview();
  } else {
    show(current);
  }
})();
