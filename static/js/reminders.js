/* The reminders page: web push for this phone, asked for only when the person taps "Remind me on this
   phone" (never on first load). Subscribes with the server's VAPID key and stores the subscription
   (POST /api/v1/push-subscriptions); "No notifications" unsubscribes and tells the server (DELETE).
   Without a service worker or the Push API the section stays hidden: e-mail and SMS still work. */
(function () {
  "use strict";
  const box = document.getElementById("push-reminders");
  if (!box || !("serviceWorker" in navigator) || !("PushManager" in window) || !("Notification" in window)) return;
  box.hidden = false;
  const status = box.querySelector("[data-push-status]");
  const onButton = box.querySelector("[data-remind-me]");
  const offButton = box.querySelector("[data-push-off]");
  const t = (key) => box.getAttribute("data-t-" + key) || "";
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const say = (text) => { status.textContent = text; };

  function show(subscribed) {
    offButton.hidden = !subscribed;
    box.setAttribute("data-subscribed", subscribed ? "true" : "false");
    say(subscribed ? t("on") : (Notification.permission === "denied" ? t("denied") : ""));
  }

  function keyBytes(base64url) {
    const base64 = (base64url + "===".slice((base64url.length + 3) % 4)).replace(/-/g, "+").replace(/_/g, "/");
    return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
  }

  async function registration() {
    return (await navigator.serviceWorker.getRegistration("/")) ||
      navigator.serviceWorker.register("/sw.js", { scope: "/" });
  }

  async function send(method, url, body) {
    const response = await fetch(url, {
      method: method, credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
      body: JSON.stringify(body),
    });
    if (!response.ok) throw new Error("push: " + response.status);
    return response;
  }

  onButton.addEventListener("click", async () => {
    say(t("working"));
    try {
      // The permission prompt comes only from this tap (user activation).
      const permission = await Notification.requestPermission();
      if (permission !== "granted") { show(false); say(t("denied")); return; }
      const reg = await registration();
      await navigator.serviceWorker.ready;
      const keyAnswer = await fetch(box.getAttribute("data-key-url"), { credentials: "same-origin" });
      if (!keyAnswer.ok) throw new Error("push: no key");
      const key = (await keyAnswer.json()).key;
      let subscription = await reg.pushManager.getSubscription();
      if (subscription) {
        // Subscribed with an older key: start again with the server's current one.
        const current = subscription.options && subscription.options.applicationServerKey;
        const same = current && btoa(String.fromCharCode.apply(null, new Uint8Array(current)))
          .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "") === key;
        if (!same) { await subscription.unsubscribe(); subscription = null; }
      }
      if (!subscription) {
        subscription = await reg.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: keyBytes(key) });
      }
      await send("POST", box.getAttribute("data-subscribe-url"), subscription.toJSON());
      show(true);
    } catch (err) {
      say(t("failed"));
      box.setAttribute("data-push-error", String(err && err.message || err));
    }
  });

  offButton.addEventListener("click", async () => {
    say(t("working"));
    try {
      const reg = await navigator.serviceWorker.getRegistration("/");
      const subscription = reg && await reg.pushManager.getSubscription();
      if (subscription) {
        await send("DELETE", box.getAttribute("data-subscribe-url"), { endpoint: subscription.endpoint });
        await subscription.unsubscribe();
      }
      show(false);
      say(t("off"));
    } catch (err) {
      say(t("failed"));
    }
  });

  navigator.serviceWorker.getRegistration("/").then((reg) => reg && reg.pushManager.getSubscription())
    .then((subscription) => show(!!subscription && box.getAttribute("data-subscribed") === "true"))
    .catch(() => show(false));
})();
