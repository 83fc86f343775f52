// rlsight explorer page: an episode as a scrubbable filmstrip, uPlot timelines under it
// with a marker synced to the frame, bookmarks at the largest |advantage| steps, the
// saliency overlay per method with its faithfulness verdict, and the feature maps.
// Data: the embedded JSON (#explorer-data); images: files next to the page.
// Every string from the data reaches the page through textContent only.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("explorer-data").textContent);
  var T = data.steps, runs = data.runs, step = 0, method = 0;
  var COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd"];
  var CHARTS = [["value", "value"], ["prob", "chosen-action probability"], ["entropy", "policy entropy (nats)"],
                ["reward", "reward"], ["advantage", "GAE advantage"]];

  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  function pad5(n) { var s = String(n); while (s.length < 5) s = "0" + s; return s; }
  function fmt(v) { return v == null ? "--" : +v.toPrecision(4) + ""; }

  // -- controls ---------------------------------------------------------------
  var scrub = document.getElementById("ex-scrub");
  scrub.max = String(T - 1);
  var stepLabel = document.getElementById("ex-step");
  var select = document.getElementById("ex-method");
  runs[0].overlays.forEach(function (o, i) {
    var opt = el("option", null, o.method + " (" + o.target + ")");
    opt.value = String(i);
    select.appendChild(opt);
  });
  if (!runs[0].overlays.length) select.disabled = true;

  // bookmarks: the largest |advantage| steps of every model, in step order
  var marks = [];
  runs.forEach(function (r) { r.bookmarks.forEach(function (b) { if (marks.indexOf(b) < 0) marks.push(b); }); });
  marks.sort(function (a, b) { return a - b; });
  var markBox = document.getElementById("ex-bookmarks");
  markBox.appendChild(el("span", "muted", "bookmarks (largest |advantage|): "));
  var markButtons = marks.map(function (b) {
    var btn = el("button", "bookmark", "step " + b);
    btn.type = "button";
    btn.setAttribute("data-step", String(b));
    btn.addEventListener("click", function () { setStep(b); });
    markBox.appendChild(btn);
    return btn;
  });

  // -- filmstrip ----------------------------------------------------------------
  var film = document.getElementById("ex-film");
  var frameFig = el("figure", "ex-tile");
  var frameImg = el("img", "ex-frame");
  frameImg.id = "ex-frame";
  frameImg.alt = "observation";
  frameFig.appendChild(frameImg);
  frameFig.appendChild(el("figcaption", null, "observation (64x64, what the model sees)"));
  film.appendChild(frameFig);
  var panes = runs.map(function (r, k) {
    var box = el("div", "ex-run");
    var head = el("h3", null, r.label);
    head.style.borderLeft = "4px solid " + COLORS[k % COLORS.length];
    box.appendChild(head);
    var fig = el("figure", "ex-tile");
    var img = el("img", "ex-overlay");
    img.id = "ex-overlay-" + k;
    img.alt = "saliency overlay";
    fig.appendChild(img);
    var verdict = el("figcaption", "ex-verdict");
    verdict.id = "ex-verdict-" + k;
    fig.appendChild(verdict);
    box.appendChild(fig);
    var readout = el("p", "ex-readout");
    box.appendChild(readout);
    var feat = el("div", "ex-features");
    feat.id = "ex-features-" + k;
    var pane = { box: box, img: img, verdict: verdict, readout: readout, canvases: [] };
    if (r.features) {
      var f = r.features;
      feat.appendChild(el("p", "muted", "features at layer " + f.layer + " (" + f.k + ", each scaled by its episode maximum)"));
      var raw = atob(f.data);
      pane.feat = new Uint8Array(raw.length);
      for (var i = 0; i < raw.length; i++) pane.feat[i] = raw.charCodeAt(i);
      for (var j = 0; j < f.k; j++) {
        var c = el("canvas", "ex-feature");
        c.width = f.w;
        c.height = f.h;
        var name = f.labels && f.labels[j] != null ? String(f.labels[j]) : String(j);
        c.title = "feature " + j + ": " + name;
        var cell = el("figure", "ex-feature-cell");
        cell.appendChild(c);
        cell.appendChild(el("figcaption", null, name));
        feat.appendChild(cell);
        pane.canvases.push(c);
      }
    } else {
      feat.appendChild(el("p", "muted ex-nofeatures", r.featuresNote));
    }
    box.appendChild(feat);
    film.appendChild(box);
    return pane;
  });

  function drawFeatures(k) {
    var r = runs[k], pane = panes[k], f = r.features;
    if (!f) return;
    var n = f.h * f.w, base = step * f.k * n;
    pane.canvases.forEach(function (c, j) {
      var ctx = c.getContext("2d"), img = ctx.createImageData(f.w, f.h);
      for (var p = 0; p < n; p++) {
        var v = pane.feat[base + j * n + p];
        img.data[4 * p] = v;
        img.data[4 * p + 1] = Math.max(0, 2 * v - 255);
        img.data[4 * p + 2] = 60 + (v >> 2);
        img.data[4 * p + 3] = 255;
      }
      ctx.putImageData(img, 0, 0);
    });
  }

  // -- timelines ------------------------------------------------------------------
  var xs = [];
  for (var t = 0; t < T; t++) xs.push(t);
  var chartBox = document.getElementById("ex-charts");
  var charts = CHARTS.map(function (spec) {
    var key = spec[0], shared = key === "reward" && runs.length > 1;
    var box = el("div", "chart ex-chart");
    box.setAttribute("data-series", key);
    box.appendChild(el("h3", null, spec[1]));
    var holder = el("div", "ex-plot");
    box.appendChild(holder);
    chartBox.appendChild(box);
    var cols = [xs], series = [{ label: "step" }], marker = el("div", "ex-marker");
    (shared ? [runs[0]] : runs).forEach(function (r, k) {
      cols.push(r.series[key]);
      series.push({ label: shared ? "reward (first model's episode)" : r.label,
                    stroke: COLORS[k % COLORS.length], width: 1.5, points: { show: false } });
    });
    var u = new uPlot({
      width: Math.max(280, chartBox.clientWidth - 20), height: 130,
      legend: { show: false }, scales: { x: { time: false } }, series: series,
      cursor: { y: false, drag: { x: false, y: false }, sync: { key: "explorer" }, points: { show: false } },
      axes: [{ size: 30 }, { size: 56 }],
      hooks: { draw: [function (u) { place(u, marker); }] }
    }, cols, holder);
    u.over.appendChild(marker);
    u.over.addEventListener("click", function (e) {
      var r = u.over.getBoundingClientRect();
      setStep(Math.round(u.posToVal(e.clientX - r.left, "x")));
    });
    return { u: u, marker: marker, holder: holder };
  });
  var legend = el("p", "ex-legend");
  runs.forEach(function (r, k) {
    var sw = el("span", "legend-swatch");
    sw.style.borderTopColor = COLORS[k % COLORS.length];
    legend.appendChild(sw);
    legend.appendChild(el("span", "legend-name", r.label));
    legend.appendChild(document.createTextNode("  "));
  });
  chartBox.insertBefore(legend, chartBox.firstChild);

  // the step marker of chart u (uPlot lays out its scales after the constructor returns:
  // the draw hook places the marker once they exist, and again after a resize)
  function place(u, marker) {
    var x = u.valToPos(step, "x");
    if (isFinite(x)) marker.style.left = Math.round(x) + "px";
  }

  // -- the step ----------------------------------------------------------------------
  function setStep(s) {
    s = Math.max(0, Math.min(T - 1, s | 0));
    step = s;
    scrub.value = String(s);
    stepLabel.textContent = "step " + s + " / " + (T - 1);
    frameImg.src = data.frames + pad5(s) + data.ext;
    runs.forEach(function (r, k) {
      var pane = panes[k], o = r.overlays[method];
      if (o) {
        pane.img.src = o.dir + pad5(s) + data.ext;
        pane.verdict.textContent = o.method + " (" + o.target + "): " + o.verdict;
      } else {
        pane.verdict.textContent = "no saliency computed";
      }
      var sr = r.series;
      pane.readout.textContent = "action " + r.actions[s] + " (p " + fmt(sr.prob[s]) + "), value " + fmt(sr.value[s]) +
        ", entropy " + fmt(sr.entropy[s]) + ", reward " + fmt(sr.reward[s]) + ", advantage " + fmt(sr.advantage[s]);
      drawFeatures(k);
    });
    charts.forEach(function (c) { place(c.u, c.marker); });
    markButtons.forEach(function (b) { b.classList.toggle("current", +b.getAttribute("data-step") === s); });
    document.body.setAttribute("data-step", String(s));
  }
  function nextBookmark() {
    for (var i = 0; i < marks.length; i++) if (marks[i] > step) return setStep(marks[i]);
    if (marks.length) setStep(marks[0]);
  }

  scrub.addEventListener("input", function () { setStep(+scrub.value); });
  document.getElementById("ex-prev").addEventListener("click", function () { setStep(step - 1); });
  document.getElementById("ex-next").addEventListener("click", function () { setStep(step + 1); });
  select.addEventListener("change", function () { method = +select.value; setStep(step); });
  document.addEventListener("keydown", function (e) {
    if (e.altKey || e.ctrlKey || e.metaKey || e.target === select) return;
    var k = e.key;
    if (k === "ArrowLeft") setStep(step - 1);
    else if (k === "ArrowRight") setStep(step + 1);
    else if (k === "Home") setStep(0);
    else if (k === "End") setStep(T - 1);
    else if (k === "b" || k === "B") nextBookmark();
    else return;
    e.preventDefault();
  });
  var pending = null;
  window.addEventListener("resize", function () {
    if (pending) return;
    pending = setTimeout(function () {
      pending = null;
      charts.forEach(function (c) { c.u.setSize({ width: Math.max(280, chartBox.clientWidth - 20), height: 130 }); });
      setStep(step);
    }, 100);
  });
  setStep(0);
  requestAnimationFrame(function () { // after uPlot's first layout and draw
    setStep(step);
    document.body.setAttribute("data-ready-ms", String(performance.now()));
    document.body.setAttribute("data-ready", "1");
  });
})();
