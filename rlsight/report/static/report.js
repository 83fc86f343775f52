// rlsight report: draws the curves from the embedded JSON on a <canvas>, with
// our own small chart code (no third-party library, no network).
// Every string from the data reaches the page through textContent or canvas
// text only; nothing is inserted as HTML.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var FONT = "12px system-ui, -apple-system, 'Segoe UI', sans-serif";
  var HEIGHT = 300;

  // -- number formats ------------------------------------------------------
  function trim(v, decimals) {
    var s = (+v.toFixed(decimals)).toString();
    return s === "-0" ? "0" : s;
  }
  function decimalsFor(step) { // fewest decimals that write every multiple of step exactly
    for (var d = 0; d < 8; d++) {
      var s = step * Math.pow(10, d);
      if (Math.abs(s - Math.round(s)) < 1e-6 * Math.max(1, s)) return d;
    }
    return 8;
  }
  function fmtSteps(v) {
    if (v == null) return "--";
    var a = Math.abs(v);
    if (a >= 1e9) return +(v / 1e9).toPrecision(3) + "G";
    if (a >= 1e6) return +(v / 1e6).toPrecision(3) + "M";
    if (a >= 1e3) return +(v / 1e3).toPrecision(3) + "k";
    return String(Math.round(v));
  }
  function fmtTime(v) {
    if (v == null) return "--";
    if (v >= 7200) return (v / 3600).toFixed(1) + "h";
    if (v >= 120) return (v / 60).toFixed(0) + "m";
    return v.toFixed(0) + "s";
  }
  function fmtVal(v) {
    if (v == null) return "--";
    return +v.toPrecision(4) + "";
  }
  // Tick labels: one unit for the whole axis, as many decimals as the step needs.
  function suffixUnit(ticks, kind) {
    var m = 0;
    ticks.forEach(function (t) { m = Math.max(m, Math.abs(t)); });
    if (m >= 1e9) return [1e9, "G"];
    if (m >= 1e6) return [1e6, "M"];
    if (m >= (kind === "steps" ? 1e3 : 1e4)) return [1e3, "k"];
    return [1, ""];
  }
  function tickLabels(ticks, step, kind) {
    var u;
    if (kind === "time") {
      u = ticks.unit;
    } else {
      if (step < 1e-4 && step > 0) return ticks.map(function (t) { return t === 0 ? "0" : t.toExponential(1); });
      u = suffixUnit(ticks, kind);
    }
    var d = decimalsFor(step / u[0]);
    return ticks.map(function (t) { var s = trim(t / u[0], d); return s === "0" && kind !== "time" ? s : s + u[1]; });
  }

  // -- ticks ----------------------------------------------------------------
  function niceStep(span, count) {
    var raw = span / Math.max(1, count);
    var p = Math.pow(10, Math.floor(Math.log(raw) / Math.LN10));
    var f = raw / p;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * p;
  }
  function makeTicks(lo, hi, count, kind) {
    var unit = [1, "s"];
    if (kind === "time") {
      var m = Math.max(Math.abs(lo), Math.abs(hi));
      unit = m >= 7200 ? [3600, "h"] : m >= 120 ? [60, "m"] : [1, "s"];
    }
    var step = niceStep((hi - lo) / unit[0], count) * unit[0];
    var out = [];
    var first = Math.ceil(lo / step - 1e-9);
    for (var i = first; i * step <= hi + step * 1e-9 && out.length < 50; i++) out.push(i * step);
    out.step = step;
    out.unit = unit;
    return out;
  }

  // -- helpers --------------------------------------------------------------
  function checkColor(c) { return /^#[0-9a-fA-F]{6}$/.test(c || "") ? c : "#999999"; }
  function rgba(hex, alpha) {
    var n = parseInt(hex.slice(1), 16);
    return "rgba(" + ((n >> 16) & 255) + "," + ((n >> 8) & 255) + "," + (n & 255) + "," + alpha + ")";
  }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    return e;
  }
  function finite(v) { return v != null && isFinite(v); }
  function nearest(grid, x) { // index of the grid point closest to x (grid ascending)
    var lo = 0, hi = grid.length - 1;
    while (hi - lo > 1) {
      var mid = (lo + hi) >> 1;
      if (grid[mid] <= x) lo = mid; else hi = mid;
    }
    return Math.abs(grid[hi] - x) < Math.abs(grid[lo] - x) ? hi : lo;
  }

  // -- one chart ------------------------------------------------------------
  function Chart(panel, holder, legendBox) {
    var self = this;
    this.panel = panel;
    this.holder = holder;
    this.kind = panel.x === "step" ? "steps" : "time";
    this.fmtX = panel.x === "step" ? fmtSteps : fmtTime;
    this.grid = panel.grid.map(function (v) { return v == null ? NaN : v; });
    this.series = panel.series.map(function (s) {
      return { name: String(s.name), kind: s.kind, color: checkColor(s.color), dash: s.dash || [],
               y: s.y, lo: s.lo || null, hi: s.hi || null, show: s.kind !== "run" };
    });
    var xs = this.grid.filter(finite);
    this.full = xs.length ? [Math.min.apply(null, xs), Math.max.apply(null, xs)] : [0, 1];
    if (this.full[0] === this.full[1]) this.full = [this.full[0] - 1, this.full[1] + 1];
    this.view = this.full.slice();
    this.hover = null;

    holder.style.position = "relative";
    holder.style.height = HEIGHT + "px";
    this.canvas = el("canvas");
    this.canvas.setAttribute("role", "img");
    this.canvas.setAttribute("aria-label", panel.title);
    holder.appendChild(this.canvas);
    this.area = el("div", "chart-area");
    this.cursor = el("div", "chart-cursor");
    this.select = el("div", "chart-select");
    this.area.appendChild(this.cursor);
    this.area.appendChild(this.select);
    this.dots = this.series.map(function (s) {
      var d = el("div", "chart-dot");
      d.style.background = s.color;
      self.area.appendChild(d);
      return d;
    });
    holder.appendChild(this.area);

    // Legend: the x value under the cursor, then one clickable row per series.
    this.xValue = el("span", "legend-value");
    this.xName = el("span", "legend-name");
    var head = el("div", "legend-x");
    head.appendChild(this.xName);
    head.appendChild(this.xValue);
    legendBox.appendChild(head);
    this.legend = legendBox;
    this.rows = this.series.map(function (s) {
      var row = el("div", "legend-item" + (s.kind === "run" ? " legend-run" : ""));
      row.setAttribute("role", "button");
      row.setAttribute("tabindex", "0");
      var sw = el("span", "legend-swatch");
      sw.style.borderTopColor = s.color;
      sw.style.borderTopStyle = s.dash.length ? "dotted" : "solid";
      if (s.kind === "reference") sw.style.borderTopStyle = "dashed";
      if (s.lo) sw.style.background = rgba(s.color, 0.2);
      row.appendChild(sw);
      row.appendChild(el("span", "legend-name", s.name));
      var val = el("span", "legend-value");
      row.appendChild(val);
      s.valueEl = val;
      function toggle() { s.show = !s.show; self.draw(); }
      row.addEventListener("click", toggle);
      row.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); toggle(); }
      });
      legendBox.appendChild(row);
      return row;
    });
    this.listen();
    this.resize();
  }

  Chart.prototype.resize = function () {
    var w = Math.max(280, Math.floor(this.holder.clientWidth || 640));
    if (w === this.width) return;
    var dpr = window.devicePixelRatio || 1;
    this.width = w;
    this.canvas.width = Math.round(w * dpr);
    this.canvas.height = Math.round(HEIGHT * dpr);
    this.canvas.style.width = w + "px";
    this.canvas.style.height = HEIGHT + "px";
    this.dpr = dpr;
    this.draw();
  };

  // y range of the visible series (lines and bands) within the x view
  Chart.prototype.yRange = function (whole) {
    var lo = Infinity, hi = -Infinity, g = this.grid;
    var v0 = whole ? -Infinity : this.view[0], v1 = whole ? Infinity : this.view[1];
    this.series.forEach(function (s) {
      if (!s.show) return;
      [s.y, s.lo, s.hi].forEach(function (arr) {
        if (!arr) return;
        for (var i = 0; i < arr.length; i++) {
          if (g[i] >= v0 && g[i] <= v1 && finite(arr[i])) {
            if (arr[i] < lo) lo = arr[i];
            if (arr[i] > hi) hi = arr[i];
          }
        }
      });
    });
    if (lo === Infinity) return whole ? [0, 1] : this.yRange(true); // zoomed between two points
    if (lo === hi) { var d = Math.abs(lo) * 0.1 || 1; return [lo - d, hi + d]; }
    var pad = (hi - lo) * 0.05;
    return [lo - pad, hi + pad];
  };

  Chart.prototype.draw = function () {
    var ctx = this.canvas.getContext("2d"), self = this, W = this.width, H = HEIGHT;
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.clearRect(0, 0, W, H);
    ctx.font = FONT;
    var yr = this.yRange();
    var yt = makeTicks(yr[0], yr[1], 6, "value");
    var ylab = tickLabels(yt, yt.step, "value");
    var labW = 0;
    ylab.forEach(function (t) { labW = Math.max(labW, ctx.measureText(t).width); });
    var L = Math.ceil(labW) + 30, R = 14, T = 10, B = 42;
    var pw = Math.max(10, W - L - R), ph = H - T - B;
    var x0 = this.view[0], x1 = this.view[1];
    var px = function (x) { return L + (x - x0) / (x1 - x0) * pw; };
    var py = function (y) { return T + (1 - (y - yr[0]) / (yr[1] - yr[0])) * ph; };
    this.plot = { L: L, T: T, w: pw, h: ph, px: px, py: py, yr: yr };
    this.area.style.left = L + "px";
    this.area.style.top = T + "px";
    this.area.style.width = pw + "px";
    this.area.style.height = ph + "px";

    // grid, ticks and labels
    var xt = makeTicks(x0, x1, Math.max(2, Math.floor(pw / 90)), this.kind);
    var xlab = tickLabels(xt, xt.step, this.kind);
    ctx.lineWidth = 1;
    ctx.strokeStyle = "#e6e6e6";
    ctx.fillStyle = "#444";
    ctx.textBaseline = "middle";
    ctx.textAlign = "right";
    yt.forEach(function (t, i) {
      var y = Math.round(py(t)) + 0.5;
      ctx.beginPath(); ctx.moveTo(L, y); ctx.lineTo(L + pw, y); ctx.stroke();
      ctx.fillText(ylab[i], L - 6, y);
    });
    ctx.textBaseline = "top";
    ctx.textAlign = "center";
    xt.forEach(function (t, i) {
      var x = Math.round(px(t)) + 0.5;
      ctx.beginPath(); ctx.moveTo(x, T); ctx.lineTo(x, T + ph); ctx.stroke();
      ctx.fillText(xlab[i], x, T + ph + 5);
    });
    ctx.strokeStyle = "#999";
    ctx.strokeRect(L + 0.5, T + 0.5, pw - 1, ph - 1);
    ctx.fillStyle = "#222";
    ctx.fillText(this.panel.xlabel, L + pw / 2, H - 17);
    ctx.save();
    ctx.translate(12, T + ph / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = "middle";
    ctx.fillText(this.panel.ylabel, 0, 0);
    ctx.restore();

    // bands, then runs, then groups and references on top
    ctx.save();
    ctx.beginPath();
    ctx.rect(L, T, pw, ph);
    ctx.clip();
    var g = this.grid;
    this.series.forEach(function (s) {
      if (!s.show || !s.lo || !s.hi) return;
      ctx.fillStyle = rgba(s.color, s.kind === "group" ? 0.2 : 0.1);
      var i = 0;
      while (i < g.length) {
        while (i < g.length && !(finite(g[i]) && finite(s.lo[i]) && finite(s.hi[i]))) i++;
        var start = i;
        while (i < g.length && finite(g[i]) && finite(s.lo[i]) && finite(s.hi[i])) i++;
        if (i - start < 2) continue;
        ctx.beginPath();
        for (var k = start; k < i; k++) ctx[k === start ? "moveTo" : "lineTo"](px(g[k]), py(s.hi[k]));
        for (k = i - 1; k >= start; k--) ctx.lineTo(px(g[k]), py(s.lo[k]));
        ctx.closePath();
        ctx.fill();
      }
    });
    var order = this.series.filter(function (s) { return s.kind === "run"; })
      .concat(this.series.filter(function (s) { return s.kind !== "run"; }));
    order.forEach(function (s) {
      if (!s.show) return;
      ctx.strokeStyle = s.color;
      ctx.fillStyle = s.color;
      ctx.lineWidth = s.kind === "run" ? 1 : 2;
      ctx.setLineDash(s.dash);
      ctx.lineJoin = "round";
      ctx.beginPath();
      var open = false, alone = [];
      for (var i = 0; i < g.length; i++) {
        if (!(finite(g[i]) && finite(s.y[i]))) { open = false; continue; }
        var x = px(g[i]), y = py(s.y[i]);
        if (!open && !(i + 1 < g.length && finite(g[i + 1]) && finite(s.y[i + 1]))) alone.push([x, y]);
        else ctx[open ? "lineTo" : "moveTo"](x, y);
        open = true;
      }
      ctx.stroke();
      ctx.setLineDash([]);
      alone.forEach(function (p) { // a point with no neighbour: a dot, as a line would not show
        ctx.beginPath();
        ctx.arc(p[0], p[1], s.kind === "run" ? 2 : 3, 0, 2 * Math.PI);
        ctx.fill();
      });
    });
    ctx.restore();

    this.rows.forEach(function (row, i) { row.classList.toggle("off", !self.series[i].show); });
    this.showHover();
    this.holder.setAttribute("data-drawn", "1");
  };

  // cursor line, dots and the legend's values at the hovered grid point
  Chart.prototype.showHover = function () {
    var p = this.plot, self = this, i = this.hover;
    this.cursor.style.display = i == null ? "none" : "block";
    if (i != null) this.cursor.style.left = Math.round(p.px(this.grid[i]) - p.L) + "px";
    this.legend.classList.toggle("hovering", i != null);
    this.xName.textContent = i == null ? "hover over the chart to read values" : this.panel.xlabel + ":";
    this.xValue.textContent = i == null ? "" : this.fmtX(this.grid[i]);
    this.series.forEach(function (s, k) {
      var v = i == null ? null : s.y[i], dot = self.dots[k];
      s.valueEl.textContent = i == null || !s.show ? "" : fmtVal(finite(v) ? v : null);
      var y = finite(v) ? p.py(v) - p.T : -1;
      if (i != null && s.show && finite(v) && y >= 0 && y <= p.h) {
        dot.style.display = "block";
        dot.style.left = (p.px(self.grid[i]) - p.L) + "px";
        dot.style.top = y + "px";
      } else {
        dot.style.display = "none";
      }
    });
  };

  Chart.prototype.listen = function () {
    var self = this, area = this.area, drag = null;
    function localX(e) {
      var r = area.getBoundingClientRect();
      return Math.max(0, Math.min(r.width, e.clientX - r.left));
    }
    function toData(x) { return self.view[0] + x / self.plot.w * (self.view[1] - self.view[0]); }
    area.addEventListener("mousemove", function (e) {
      if (!self.grid.length) return;
      var x = toData(localX(e));
      var i = nearest(self.grid, x);
      if (i !== self.hover) { self.hover = i; self.showHover(); }
    });
    area.addEventListener("mouseleave", function () {
      if (drag) return;
      self.hover = null;
      self.showHover();
    });
    area.addEventListener("mousedown", function (e) {
      if (e.button !== 0) return;
      e.preventDefault();
      drag = { start: localX(e) };
      self.select.style.display = "none";
    });
    window.addEventListener("mousemove", function (e) {
      if (!drag) return;
      var x = localX(e), a = Math.min(drag.start, x), b = Math.max(drag.start, x);
      self.select.style.display = "block";
      self.select.style.left = a + "px";
      self.select.style.width = (b - a) + "px";
    });
    window.addEventListener("mouseup", function (e) {
      if (!drag) return;
      var x = localX(e), a = Math.min(drag.start, x), b = Math.max(drag.start, x);
      drag = null;
      self.select.style.display = "none";
      if (b - a < 4) return; // a click, not a drag
      var v0 = toData(a), v1 = toData(b);
      if (v1 > v0) { self.view = [v0, v1]; self.draw(); }
    });
    area.addEventListener("dblclick", function () {
      self.view = self.full.slice();
      self.draw();
    });
  };

  // -- the page -------------------------------------------------------------
  var charts = [];
  var container = document.getElementById("charts");
  data.panels.forEach(function (panel) {
    var box = el("div", "chart");
    box.appendChild(el("h3", null, panel.title));
    var holder = el("div", "chart-canvas");
    box.appendChild(holder);
    var legend = el("div", "chart-legend");
    box.appendChild(legend);
    container.appendChild(box);
    charts.push(new Chart(panel, holder, legend));
  });
  if (!data.panels.length) container.appendChild(el("p", null, "No curves: the runs have no metrics yet."));
  var pending = null;
  window.addEventListener("resize", function () {
    if (pending) return;
    pending = setTimeout(function () {
      pending = null;
      charts.forEach(function (c) { c.resize(); });
    }, 100);
  });

  // "Play together": restart every video of a row at once.
  Array.prototype.forEach.call(document.querySelectorAll("button.play-row"), function (b) {
    b.addEventListener("click", function () {
      var row = b.nextElementSibling;
      if (!row || !row.classList.contains("video-row")) return;
      Array.prototype.forEach.call(row.querySelectorAll("video"), function (v) {
        v.currentTime = 0;
        var p = v.play();
        if (p && p.catch) p.catch(function () {});
      });
    });
  });
})();
