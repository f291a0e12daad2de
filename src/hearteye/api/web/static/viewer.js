// Lead viewer: one lead of the display signal on an ECG grid with the delineation (P, QRS,
// ST-T) shaded; zoom and pan with the buttons, the wheel, dragging or the keyboard; a click on
// a beat (or [ and ]) shows that beat's intervals. The numbers shown are differences of the
// fiducial times the analysis stored; the viewer computes nothing else.
"use strict";
(function () {
  const root = document.getElementById("viewer");
  const canvas = document.getElementById("lead-canvas");
  if (!root || !canvas) return;
  const select = document.getElementById("lead-select");
  const info = document.getElementById("beat-info");
  const ctx = canvas.getContext("2d");
  const COLORS = { p: "rgba(11, 87, 164, 0.22)", qrs: "rgba(164, 22, 26, 0.22)", t: "rgba(29, 107, 53, 0.18)" };
  const MIN_SPAN = 0.5;
  let data = null, lead = 0, t0 = 0, span = 10, total = 10, selected = -1;

  function beatsOf(name) {
    const per = (data.lead_beats || {})[name];
    return per && per.length ? per : data.beats || [];
  }
  function beats() { return beatsOf(data.leads[lead]); }
  function beatStart(b) { return b.p_onset != null ? b.p_onset : b.qrs_onset; }
  function beatEnd(b) { return b.t_offset != null ? b.t_offset : b.qrs_offset; }

  function clampView() {
    span = Math.min(Math.max(span, MIN_SPAN), total);
    t0 = Math.min(Math.max(t0, 0), Math.max(0, total - span));
  }

  function draw() {
    const dpr = window.devicePixelRatio || 1;
    const w = canvas.clientWidth, h = canvas.clientHeight;
    canvas.width = Math.round(w * dpr);
    canvas.height = Math.round(h * dpr);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    if (!data) return;
    clampView();
    const sig = data.signals[lead], fs = data.fs, start = data.start || 0;
    const i0 = Math.max(0, Math.floor((t0 - start) * fs)), i1 = Math.min(sig.length, Math.ceil((t0 + span - start) * fs) + 1);
    let lo = Infinity, hi = -Infinity;
    for (let i = i0; i < i1; i++) { const v = sig[i]; if (v < lo) lo = v; if (v > hi) hi = v; }
    if (!isFinite(lo)) { lo = -1; hi = 1; }
    const mid = (lo + hi) / 2, range = Math.max(2, (hi - lo) * 1.25);
    const x = function (t) { return ((t - t0) / span) * w; };
    const y = function (mv) { return h / 2 - ((mv - mid) / range) * (h - 20); };
    const pxPerMv = (h - 20) / range;
    // grid: 0.04 s x 0.1 mV small squares, 0.2 s x 0.5 mV large ones
    for (const [dt, dv, color] of [[0.04, 0.1, "#f7dada"], [0.2, 0.5, "#e9a3a3"]]) {
      if (span / dt > w / 3) continue; // too dense to help at this zoom
      ctx.strokeStyle = color; ctx.lineWidth = 1; ctx.beginPath();
      for (let t = Math.ceil(t0 / dt) * dt; t <= t0 + span; t += dt) { ctx.moveTo(x(t), 0); ctx.lineTo(x(t), h); }
      for (let v = Math.ceil((mid - range / 2) / dv) * dv; v <= mid + range / 2; v += dv) { ctx.moveTo(0, y(v)); ctx.lineTo(w, y(v)); }
      ctx.stroke();
    }
    // delineation
    beats().forEach(function (b, k) {
      const spans = [[b.p_onset, b.p_offset, COLORS.p], [b.qrs_onset, b.qrs_offset, COLORS.qrs], [b.qrs_offset, b.t_offset, COLORS.t]];
      for (const [a, z, c] of spans) {
        if (a == null || z == null || z < t0 || a > t0 + span) continue;
        ctx.fillStyle = c; ctx.fillRect(x(a), 0, x(z) - x(a), h);
      }
      if (k === selected) {
        ctx.strokeStyle = "#1b1f24"; ctx.lineWidth = 2;
        ctx.strokeRect(x(beatStart(b)), 1, x(beatEnd(b)) - x(beatStart(b)), h - 2);
      }
    });
    // the trace
    ctx.strokeStyle = "#111"; ctx.lineWidth = 1.3; ctx.beginPath();
    for (let i = i0; i < i1; i++) {
      const px = x(start + i / fs), py = y(sig[i]);
      if (i === i0) ctx.moveTo(px, py); else ctx.lineTo(px, py);
    }
    ctx.stroke();
    // labels: lead name, time marks, 1 mV scale
    ctx.fillStyle = "#1b1f24"; ctx.font = "600 13px system-ui, sans-serif";
    ctx.fillText(data.leads[lead], 8, 16);
    ctx.font = "12px system-ui, sans-serif";
    const step = span > 6 ? 1 : span > 2 ? 0.5 : 0.2;
    for (let t = Math.ceil(t0 / step) * step; t <= t0 + span; t += step) ctx.fillText(t.toFixed(step < 1 ? 1 : 0) + " s", x(t) + 2, h - 4);
    ctx.fillRect(w - 14, h / 2 - pxPerMv / 2, 3, pxPerMv);
    ctx.fillText("1 mV", w - 50, h / 2 - pxPerMv / 2 - 4);
    canvas.setAttribute("aria-label", "Lead " + data.leads[lead] + " from " + t0.toFixed(1) + " to " + (t0 + span).toFixed(1) +
      " s, " + beats().length + " beats" + (selected >= 0 ? ", beat " + (selected + 1) + " selected" : ""));
  }

  function ms(a, b) { return a == null || b == null ? "–" : Math.round((b - a) * 1000) + " ms"; }

  function showBeat() {
    const list = beats();
    if (selected < 0 || selected >= list.length) { info.replaceChildren(para("No beat selected.")); return; }
    const b = list[selected], next = list[selected + 1];
    const rows = [
      ["Beat", (selected + 1) + " of " + list.length + " (" + data.leads[lead] + ")"],
      ["QRS onset at", b.qrs_onset != null ? b.qrs_onset.toFixed(3) + " s" : "–"],
      ["P duration", ms(b.p_onset, b.p_offset)],
      ["PR interval", ms(b.p_onset, b.qrs_onset)],
      ["QRS duration", ms(b.qrs_onset, b.qrs_offset)],
      ["QT interval", ms(b.qrs_onset, b.t_offset)],
      ["RR to next beat", next ? ms(b.qrs_onset, next.qrs_onset) : "–"],
    ];
    const dl = document.createElement("dl");
    for (const [k, v] of rows) {
      const div = document.createElement("div"), dt = document.createElement("dt"), dd = document.createElement("dd");
      dt.textContent = k; dd.textContent = v; div.append(dt, dd); dl.append(div);
    }
    info.replaceChildren(dl);
  }

  function para(text) { const p = document.createElement("p"); p.textContent = text; return p; }

  function selectBeat(k) {
    const list = beats();
    if (!list.length) return;
    selected = Math.min(Math.max(k, 0), list.length - 1);
    const b = list[selected];
    if (beatStart(b) < t0 || beatEnd(b) > t0 + span) t0 = (beatStart(b) + beatEnd(b)) / 2 - span / 2;
    draw(); showBeat();
  }

  function beatAt(t) {
    let best = -1, dist = Infinity;
    beats().forEach(function (b, k) {
      const a = beatStart(b), z = beatEnd(b);
      const d = t < a ? a - t : t > z ? t - z : 0;
      if (d < dist) { dist = d; best = k; }
    });
    return dist <= 0.3 ? best : -1;
  }

  function zoom(factor, at) {
    const centre = at == null ? t0 + span / 2 : at;
    const rel = (centre - t0) / span;
    span = span * factor; clampView();
    t0 = centre - rel * span; draw();
  }
  function pan(fraction) { t0 += span * fraction; draw(); }
  function reset() { t0 = 0; span = total; draw(); }

  const actions = {
    "zoom-in": function () { zoom(0.5); }, "zoom-out": function () { zoom(2); },
    left: function () { pan(-0.25); }, right: function () { pan(0.25); }, reset: reset,
    "prev-beat": function () { selectBeat(selected < 0 ? 0 : selected - 1); },
    "next-beat": function () { selectBeat(selected + 1); },
  };
  root.querySelectorAll("[data-action]").forEach(function (btn) {
    btn.addEventListener("click", function () { if (data) actions[btn.dataset.action](); });
  });

  canvas.addEventListener("keydown", function (e) {
    if (!data) return;
    const keys = { ArrowLeft: actions.left, ArrowRight: actions.right, "+": actions["zoom-in"], "=": actions["zoom-in"],
      "-": actions["zoom-out"], "[": actions["prev-beat"], "]": actions["next-beat"], Home: reset };
    if (keys[e.key]) { e.preventDefault(); keys[e.key](); }
  });
  canvas.addEventListener("wheel", function (e) {
    if (!data) return;
    e.preventDefault();
    const r = canvas.getBoundingClientRect();
    zoom(e.deltaY < 0 ? 0.8 : 1.25, t0 + ((e.clientX - r.left) / r.width) * span);
  }, { passive: false });
  let drag = null;
  canvas.addEventListener("pointerdown", function (e) {
    if (!data) return;
    drag = { x: e.clientX, t0: t0, moved: false };
    canvas.setPointerCapture(e.pointerId);
  });
  canvas.addEventListener("pointermove", function (e) {
    if (!drag) return;
    const dx = e.clientX - drag.x;
    if (Math.abs(dx) > 3) drag.moved = true;
    if (drag.moved) { t0 = drag.t0 - (dx / canvas.clientWidth) * span; draw(); }
  });
  canvas.addEventListener("pointerup", function (e) {
    if (!drag) return;
    const wasClick = !drag.moved;
    drag = null;
    if (wasClick) {
      const r = canvas.getBoundingClientRect();
      const k = beatAt(t0 + ((e.clientX - r.left) / r.width) * span);
      if (k >= 0) { selected = k; draw(); showBeat(); }
    }
  });
  select.addEventListener("change", function () { lead = Number(select.value); selected = -1; draw(); showBeat(); });
  window.addEventListener("resize", draw);

  fetch(root.dataset.leadsUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then(function (r) { return r.json().then(function (body) { return { ok: r.ok, body: body }; }); })
    .then(function (res) {
      if (!res.ok) throw new Error(res.body && res.body.error ? res.body.error : "the signals could not be loaded");
      data = res.body;
      total = data.duration || (data.signals[0] || []).length / data.fs;
      span = Math.min(10, total);
      data.leads.forEach(function (name, k) {
        const o = document.createElement("option"); o.value = String(k); o.textContent = name; select.append(o);
      });
      lead = Math.max(0, data.leads.indexOf("II"));
      select.value = String(lead);
      select.disabled = false;
      root.classList.add("ready");
      draw(); showBeat();
    })
    .catch(function (err) { info.replaceChildren(para("The lead viewer is unavailable: " + err.message)); });
})();
