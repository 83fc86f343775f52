// rlsight report: draws the curves from the embedded JSON with uPlot (vendored in
// assets/vendor/uplot, no network). This file only maps the data to uPlot's options
// and keeps a legend of its own (values under the cursor, click to hide a series).
// Every string from the data reaches the page through textContent or uPlot's canvas
// text only; nothing is inserted as HTML.
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var HEIGHT = 300;

  // -- number formats ------------------------------------------------------
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
    if (v >= 7200) return +(v / 3600).toFixed(1) + "h";
    if (v >= 120) return (v / 60).toFixed(0) + "m";
    return v.toFixed(0) + "s";
  }
  function fmtVal(v) {
    if (v == null) return "--";
    return +v.toPrecision(4) + "";
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

  // -- one chart ------------------------------------------------------------
  // panel: {title, x, xlabel, ylabel, grid,
  //         series: [{name, kind, color, dash, y, lo?, hi?, partial?, count?, runs?}]}
  // partial: the stretch where only some of the series' runs have a value (drawn dotted),
  // count: runs with a value at each grid point, runs: how many the series has.
  function Chart(panel, holder, legendBox) {
    var self = this;
    this.holder = holder;
    this.legend = legendBox;
    var fmtX = panel.x === "step" ? fmtSteps : fmtTime;
    var keep = []; // grid points uPlot can place (x must be finite and ascending)
    panel.grid.forEach(function (v, i) { if (finite(v)) keep.push(i); });
    function pick(arr) { return keep.map(function (i) { var v = arr[i]; return finite(v) ? v : null; }); }
    var list = panel.series.map(function (s) {
      return { name: String(s.name), kind: s.kind, color: checkColor(s.color), dash: s.dash || [],
               y: pick(s.y), lo: s.lo ? pick(s.lo) : null, hi: s.hi ? pick(s.hi) : null, show: s.kind !== "run",
               partial: s.partial ? pick(s.partial) : null, count: s.count ? pick(s.count) : null, runs: s.runs };
    });
    // runs are drawn first, groups and references on top
    var order = list.filter(function (s) { return s.kind === "run"; })
      .concat(list.filter(function (s) { return s.kind !== "run"; }));
    var columns = [keep.map(function (i) { return panel.grid[i]; })];
    var series = [{ label: panel.xlabel, value: function (u, v) { return fmtX(v); } }];
    var bands = [];
    order.forEach(function (s) {
      s.index = columns.length;
      columns.push(s.y);
      series.push({ label: s.name, stroke: s.color, width: s.kind === "run" ? 1 : 2, dash: s.dash.length ? s.dash : undefined,
                    show: s.show, spanGaps: false, points: { size: s.kind === "run" ? 4 : 6 } });
      if (s.partial) {
        s.partialIndex = columns.length;
        columns.push(s.partial);
        series.push({ label: s.name + " (some runs)", stroke: s.color, width: 2, dash: [1, 4], show: s.show,
                      spanGaps: false, points: { show: false } });
      }
      if (s.lo && s.hi) {
        s.band = [columns.length, columns.length + 1];
        columns.push(s.hi, s.lo);
        var edge = { stroke: "rgba(0,0,0,0)", width: 0, show: s.show, points: { show: false }, spanGaps: false };
        series.push(Object.assign({ label: s.name + " upper" }, edge), Object.assign({ label: s.name + " lower" }, edge));
        bands.push({ series: s.band, fill: rgba(s.color, s.kind === "group" ? 0.2 : 0.1) });
      }
    });
    this.list = list;
    var opts = {
      width: this.width(), height: HEIGHT,
      legend: { show: false },
      scales: { x: { time: false } },
      series: series, bands: bands,
      cursor: { y: false, drag: { x: true, y: false }, points: { size: 7 } },
      axes: [
        { label: panel.xlabel, values: function (u, ticks) { return ticks.map(fmtX); } },
        { label: panel.ylabel, size: 56 }
      ],
      hooks: { setCursor: [function (u) { self.showValues(u.cursor.idx); }] }
    };
    this.plot = new uPlot(opts, columns, holder);
    // class names the page's styles and tests know
    this.plot.over.classList.add("chart-area");
    var cursor = this.plot.root.querySelector(".u-cursor-x");
    if (cursor) cursor.classList.add("chart-cursor");
    this.plot.root.querySelector("canvas").setAttribute("aria-label", panel.title);

    // Legend: the x value under the cursor, then one clickable row per series.
    this.xValue = el("span", "legend-value");
    this.xName = el("span", "legend-name");
    this.panel = panel;
    this.fmtX = fmtX;
    var head = el("div", "legend-x");
    head.appendChild(this.xName);
    head.appendChild(this.xValue);
    legendBox.appendChild(head);
    list.forEach(function (s) {
      var row = el("div", "legend-item" + (s.kind === "run" ? " legend-run" : "") + (s.show ? "" : " off"));
      row.setAttribute("role", "button");
      row.setAttribute("tabindex", "0");
      var sw = el("span", "legend-swatch");
      sw.style.borderTopColor = s.color;
      sw.style.borderTopStyle = s.kind === "reference" ? "dashed" : s.dash.length ? "dotted" : "solid";
      if (s.lo) sw.style.background = rgba(s.color, 0.2);
      row.appendChild(sw);
      row.appendChild(el("span", "legend-name", s.name));
      s.valueEl = el("span", "legend-value");
      row.appendChild(s.valueEl);
      function toggle() {
        s.show = !s.show;
        self.plot.batch(function () {
          self.plot.setSeries(s.index, { show: s.show });
          if (s.partial) self.plot.setSeries(s.partialIndex, { show: s.show });
          if (s.band) s.band.forEach(function (k) { self.plot.setSeries(k, { show: s.show }); });
        });
        row.classList.toggle("off", !s.show);
        self.showValues(self.plot.cursor.idx);
      }
      row.addEventListener("click", toggle);
      row.addEventListener("keydown", function (e) {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); toggle(); }
      });
      legendBox.appendChild(row);
    });
    this.showValues(null);
    holder.setAttribute("data-drawn", "1");
  }

  Chart.prototype.width = function () { return Math.max(280, Math.floor(this.holder.clientWidth || 640)); };
  Chart.prototype.resize = function () { this.plot.setSize({ width: this.width(), height: HEIGHT }); };

  // the legend's values at grid point i (null: not hovering)
  Chart.prototype.showValues = function (i) {
    var u = this.plot, on = i != null;
    this.legend.classList.toggle("hovering", on);
    this.xName.textContent = on ? this.panel.xlabel + ":" : "hover over the chart to read values";
    this.xValue.textContent = on ? this.fmtX(u.data[0][i]) : "";
    this.list.forEach(function (s) {
      var text = on && s.show ? fmtVal(u.data[s.index][i]) : "";
      if (on && s.show && s.partial && !finite(u.data[s.index][i])) {
        var k = s.count[i];
        text = fmtVal(u.data[s.partialIndex][i]) + (finite(k) && k > 0 ? " (" + k + " of " + s.runs + " runs)" : "");
      }
      s.valueEl.textContent = text;
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
