// The survey page: consent, then one trial at a time from the JSON API (docs/survey.md),
// answered by click, tap or key; the participant's id and token live in sessionStorage so
// that a reload continues where it stopped.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  let me = null;      // {participant, token, trials}
  let trial = null;   // the trial on screen
  let shownAt = 0;
  let busy = false;

  function show(section) {
    for (const id of ["intro", "trial", "thanks"]) $(id).hidden = id !== section;
  }

  function fail(text) {
    const e = $("error");
    e.textContent = text;
    e.hidden = false;
  }

  async function api(method, path, body) {
    const headers = {"Content-Type": "application/json"};
    if (me) headers["X-Survey-Token"] = me.token;
    for (let attempt = 0; ; attempt++) {
      let r;
      try {
        r = await fetch(path, {method, headers, body: body ? JSON.stringify(body) : undefined});
      } catch (e) {
        if (attempt < 5) { await new Promise((ok) => setTimeout(ok, 1000 * (attempt + 1))); continue; }
        throw new Error("the server cannot be reached; please try again later");
      }
      if (r.status === 429 && attempt < 10) { await new Promise((ok) => setTimeout(ok, 1000)); continue; }
      const data = await r.json().catch(() => ({}));
      if (!r.ok) throw new Error(data.error || ("HTTP " + r.status));
      return data;
    }
  }

  function render(t) {
    trial = t;
    $("progress").max = t.of;
    $("progress").value = t.index;
    $("count").textContent = (t.index + 1) + " of " + t.of;
    $("question").textContent = t.question;
    const box = $("images");
    box.replaceChildren();
    t.images.forEach((src, k) => {
      const img = document.createElement("img");
      img.src = src;
      img.alt = t.images.length > 1 ? (k === 0 ? "left picture" : "right picture") : "the picture";
      img.id = "image-" + k;
      if (t.images.length > 1) img.addEventListener("click", () => choose(k));
      box.appendChild(img);
    });
    const labels = t.design === "realfake" ? ["Real emoji", "Generated"] : ["Left", "Right"];
    for (let k = 0; k < 2; k++) $("choice-" + k).textContent = labels[k];
    show("trial");
    shownAt = performance.now();
    busy = false;
  }

  async function next() {
    const t = await api("GET", "/api/participants/" + me.participant + "/next");
    if (t.done) {
      sessionStorage.removeItem("genmoji-survey");
      $("progress").value = $("progress").max;
      show("thanks");
      return;
    }
    render(t);
  }

  async function choose(k) {
    if (busy || !trial) return;
    busy = true;
    const ms = Math.round(performance.now() - shownAt);
    try {
      await api("POST", "/api/answers", {participant: me.participant, trial: trial.trial, choice: k, ms});
      await next();
    } catch (e) {
      fail(e.message);
      busy = false;
    }
  }

  async function start() {
    $("start").disabled = true;
    try {
      me = await api("POST", "/api/participants");
      sessionStorage.setItem("genmoji-survey", JSON.stringify(me));
      await next();
    } catch (e) {
      fail(e.message);
      $("start").disabled = false;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("consent").addEventListener("change", () => { $("start").disabled = !$("consent").checked; });
    $("start").addEventListener("click", start);
    for (let k = 0; k < 2; k++) $("choice-" + k).addEventListener("click", () => choose(k));
    document.addEventListener("keydown", (e) => {
      if ($("trial").hidden || e.altKey || e.ctrlKey || e.metaKey) return;
      const k = e.key === "1" || e.key === "ArrowLeft" ? 0 : e.key === "2" || e.key === "ArrowRight" ? 1 : -1;
      if (k >= 0) { e.preventDefault(); choose(k); }
    });
    const saved = sessionStorage.getItem("genmoji-survey");
    if (saved) {
      me = JSON.parse(saved);
      next().catch((e) => { sessionStorage.removeItem("genmoji-survey"); me = null; fail(e.message); show("intro"); });
    }
  });
})();
