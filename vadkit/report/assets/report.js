// vadkit report: score curves with zoom and hover, drawn as SVG from the page's JSON data.
// Written for this page (no library): a few hundred points per video need no more.
// Wheel: zoom around the cursor. Drag: zoom to the dragged frames. Double-click or "Reset
// zoom": the whole video. Hover: frame number, each curve's score and the ground truth.
(function () {
  "use strict";
  const data = JSON.parse(document.getElementById("report-data").textContent);
  const NS = "http://www.w3.org/2000/svg";
  // the fused curve of each run: the first two as ever (black, orange), then more, in turn
  const RUN_COLORS = ["#212529", "#e8590c", "#1c7ed6", "#2f9e44", "#ae3ec9", "#f08c00",
    "#0c8599", "#c2255c"];
  const runColor = (r) => RUN_COLORS[r % RUN_COLORS.length];
  const TASK_COLORS = ["#4263eb", "#2b8a3e", "#ae3ec9", "#f08c00", "#1098ad", "#c2255c"];
  const W = 960, H = 230, M = { l: 52, r: 14, t: 10, b: 30 };
  const charts = {};

  function svg(name, attrs, parent) {
    const node = document.createElementNS(NS, name);
    for (const k in attrs) node.setAttribute(k, attrs[k]);
    if (parent) parent.appendChild(node);
    return node;
  }

  function html(name, cls, parent, text) {
    const node = document.createElement(name);
    if (cls) node.className = cls;
    if (text !== undefined) node.textContent = text;
    if (parent) parent.appendChild(node);
    return node;
  }

  function ticks(lo, hi, count) {
    const span = Math.max(hi - lo, 1e-9);
    const raw = span / count;
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => span / s <= count) || 10 * mag;
    const out = [];
    for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(v);
    return out;
  }

  function spans(frames, gt) {
    const out = [];
    let start = null;
    for (let i = 0; i < frames.length; i++) {
      if (gt[i] && start === null) start = i;
      const last = i === frames.length - 1;
      if (start !== null && (!gt[i] || last)) {
        const end = gt[i] ? i : i - 1;
        out.push([frames[start] - 0.5, frames[end] + 0.5]);
        start = null;
      }
    }
    return out;
  }

  class Chart {
    constructor(box, name) {
      this.box = box;
      this.name = name;
      this.series = [];
      this.gt = null;
      data.runs.forEach((run, r) => {
        const v = run.videos[name];
        if (!v) return;
        const tag = data.runs.length > 1 ? run.label + ": " : "";
        this.series.push({ label: tag + "fused", frames: v.frames, values: v.fused,
          color: runColor(r), width: 1.8, dash: "", task: false });
        run.tasks.forEach((task, t) => {
          if (!v.tasks[task]) return;
          this.series.push({ label: tag + task, frames: v.frames, values: v.tasks[task],
            color: TASK_COLORS[t % TASK_COLORS.length], width: 1, dash: r ? "4 3" : "",
            task: true });
        });
        if (!this.gt && v.gt) this.gt = { frames: v.frames, gt: v.gt };
      });
      const all = this.series.flatMap((s) => s.frames);
      this.full = [Math.min(...all), Math.max(...all)];
      if (this.full[0] === this.full[1]) this.full[1] += 1;
      const values = this.series.flatMap((s) => s.values);
      this.y = [Math.min(0, ...values), Math.max(...values, 1e-6) * 1.05];
      this.view = this.full.slice();
      this.build();
      this.render();
    }

    sx(f) { return M.l + ((f - this.view[0]) / (this.view[1] - this.view[0])) * (W - M.l - M.r); }
    sy(v) { return H - M.b - ((v - this.y[0]) / (this.y[1] - this.y[0])) * (H - M.t - M.b); }
    fx(px) { return this.view[0] + ((px - M.l) / (W - M.l - M.r)) * (this.view[1] - this.view[0]); }

    build() {
      const legend = html("div", "legend", this.box);
      this.series.forEach((s) => {
        const item = html("span", "legend-item" + (s.task ? " task" : ""), legend);
        const swatch = html("i", "", item);
        swatch.style.borderTopColor = s.color;
        swatch.style.borderTopStyle = s.dash ? "dashed" : "solid";
        item.appendChild(document.createTextNode(s.label));
      });
      if (this.gt) html("span", "legend-item gt", legend, "ground truth: anomalous");
      const reset = html("button", "reset", legend, "Reset zoom");
      reset.type = "button";
      reset.addEventListener("click", () => this.zoom(this.full[0], this.full[1]));
      const wrap = html("div", "plot", this.box);
      this.svg = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart-svg", role: "img",
        "aria-label": "scores of " + this.name }, wrap);
      const id = "clip-" + Object.keys(charts).length;
      svg("rect", { x: M.l, y: M.t, width: W - M.l - M.r, height: H - M.t - M.b },
        svg("clipPath", { id: id }, svg("defs", {}, this.svg)));
      this.gAxes = svg("g", { class: "axes" }, this.svg);
      this.gPlot = svg("g", { "clip-path": `url(#${id})` }, this.svg);
      this.hover = svg("line", { class: "hover-line", y1: M.t, y2: H - M.b, visibility: "hidden" },
        this.svg);
      this.brush = svg("rect", { class: "brush", y: M.t, height: H - M.t - M.b, width: 0,
        visibility: "hidden" }, this.svg);
      this.tip = html("div", "tooltip", wrap);
      this.tip.hidden = true;
      this.events();
    }

    px(evt) {
      const r = this.svg.getBoundingClientRect();
      return [((evt.clientX - r.left) * W) / r.width, ((evt.clientY - r.top) * H) / r.height];
    }

    zoom(a, b) {
      const lo = Math.max(this.full[0], Math.min(a, b));
      const hi = Math.min(this.full[1], Math.max(a, b));
      if (hi - lo < 4) return;
      this.view = [lo, hi];
      this.render();
    }

    events() {
      let drag = null;
      this.svg.addEventListener("wheel", (evt) => {
        evt.preventDefault();
        const f = this.fx(this.px(evt)[0]);
        const k = evt.deltaY < 0 ? 0.8 : 1.25;
        this.zoom(f - (f - this.view[0]) * k, f + (this.view[1] - f) * k);
      }, { passive: false });
      this.svg.addEventListener("mousedown", (evt) => {
        drag = this.px(evt)[0];
        evt.preventDefault();
      });
      this.svg.addEventListener("mousemove", (evt) => {
        const [x] = this.px(evt);
        if (drag !== null) {
          this.brush.setAttribute("x", Math.min(drag, x));
          this.brush.setAttribute("width", Math.abs(x - drag));
          this.brush.setAttribute("visibility", "visible");
        }
        this.show(x);
      });
      window.addEventListener("mouseup", (evt) => {
        if (drag === null) return;
        const x = this.px(evt)[0];
        if (Math.abs(x - drag) > 3) this.zoom(this.fx(drag), this.fx(x));
        drag = null;
        this.brush.setAttribute("visibility", "hidden");
      });
      this.svg.addEventListener("mouseleave", () => {
        this.tip.hidden = true;
        this.hover.setAttribute("visibility", "hidden");
      });
      this.svg.addEventListener("dblclick", () => this.zoom(this.full[0], this.full[1]));
    }

    show(x) {
      if (x < M.l || x > W - M.r) return;
      const f = Math.round(this.fx(x));
      const lines = ["frame " + f];
      let found = false;
      this.series.forEach((s) => {
        if (s.task && !document.body.classList.contains("show-tasks")) return;
        const i = s.frames.indexOf(f);
        if (i < 0) return;
        found = true;
        lines.push(s.label + ": " + s.values[i].toFixed(3));
      });
      if (this.gt) {
        const i = this.gt.frames.indexOf(f);
        if (i >= 0) lines.push("ground truth: " + (this.gt.gt[i] ? "anomalous" : "normal"));
      }
      if (!found) lines.push("(not scored)");
      this.tip.textContent = lines.join("\n");
      this.tip.hidden = false;
      const left = (this.sx(f) / W) * 100;
      this.tip.style.left = left < 70 ? `calc(${left}% + 10px)` : "";
      this.tip.style.right = left < 70 ? "" : `calc(${100 - left}% + 10px)`;
      this.hover.setAttribute("x1", this.sx(f));
      this.hover.setAttribute("x2", this.sx(f));
      this.hover.setAttribute("visibility", "visible");
    }

    render() {
      const [lo, hi] = this.view;
      this.svg.dataset.x0 = Math.round(lo);
      this.svg.dataset.x1 = Math.round(hi);
      this.gAxes.replaceChildren();
      this.gPlot.replaceChildren();
      if (this.gt) {
        spans(this.gt.frames, this.gt.gt).forEach(([a, b]) => {
          svg("rect", { class: "gt", x: this.sx(a), y: M.t, width: Math.max(1, this.sx(b) - this.sx(a)),
            height: H - M.t - M.b }, this.gPlot);
        });
      }
      ticks(this.y[0], this.y[1], 4).forEach((v) => {
        svg("line", { class: "grid", x1: M.l, x2: W - M.r, y1: this.sy(v), y2: this.sy(v) }, this.gAxes);
        svg("text", { class: "tick y", x: M.l - 6, y: this.sy(v) + 4 }, this.gAxes).textContent =
          +v.toFixed(2);
      });
      ticks(lo, hi, 8).filter((v) => Number.isInteger(v)).forEach((v) => {
        svg("line", { class: "grid", x1: this.sx(v), x2: this.sx(v), y1: M.t, y2: H - M.b }, this.gAxes);
        svg("text", { class: "tick x", x: this.sx(v), y: H - M.b + 16 }, this.gAxes).textContent = v;
      });
      svg("text", { class: "axis-label", x: W - M.r, y: H - 2 }, this.gAxes).textContent = "frame";
      const showTasks = document.body.classList.contains("show-tasks");
      data.runs.forEach((run, r) => {
        if (!run.videos[this.name]) return;
        svg("line", { class: "threshold", x1: M.l, x2: W - M.r, y1: this.sy(run.threshold),
          y2: this.sy(run.threshold), stroke: runColor(r) }, this.gPlot);
      });
      this.series.forEach((s) => {
        if (s.task && !showTasks) return;
        const pts = [];
        for (let i = 0; i < s.frames.length; i++) {
          const f = s.frames[i];
          if (f < lo - 1 || f > hi + 1) continue;
          pts.push(this.sx(f).toFixed(1) + "," + this.sy(s.values[i]).toFixed(1));
        }
        if (!pts.length) return;
        svg("polyline", { class: "series" + (s.task ? " task" : ""), points: pts.join(" "),
          stroke: s.color, "stroke-width": s.width, "stroke-dasharray": s.dash, fill: "none" },
          this.gPlot);
      });
    }
  }

  document.querySelectorAll(".chart[data-video]").forEach((box) => {
    charts[box.dataset.video] = new Chart(box, box.dataset.video);
  });

  const toggle = document.getElementById("show-tasks");
  if (toggle) {
    toggle.addEventListener("change", () => {
      document.body.classList.toggle("show-tasks", toggle.checked);
      Object.values(charts).forEach((c) => c.render());
    });
  }

  document.querySelectorAll(".segment[data-video]").forEach((card) => {
    const link = card.querySelector(".show-curve");
    if (!link) return;
    link.addEventListener("click", (evt) => {
      evt.preventDefault();
      const chart = charts[card.dataset.video];
      if (!chart) return;
      const a = +card.dataset.start, b = +card.dataset.end, pad = Math.max(8, (b - a) * 0.5);
      chart.zoom(a - pad, b + pad);
      chart.box.scrollIntoView({ block: "center" });
    });
  });
  document.body.dataset.chartsReady = String(Object.keys(charts).length);
})();
