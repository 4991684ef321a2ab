/* The performance console: draws tiles and charts from /api/performance/dashboard
   and refreshes itself. No data is pasted into the page: everything comes from the API. */
(function () {
  "use strict";
  const root = document.getElementById("cp-dashboard");
  if (!root) return;
  const api = root.dataset.api;
  const actionUrl = (name) => root.dataset.action.replace("ACTION", name);
  const REFRESH_MS = 30000;
  const charts = {};
  let timer = null;

  const fmt = {
    request_rate_per_min: (v) => v.toFixed(v < 10 ? 2 : 0),
    error_rate: (v) => (v * 100).toFixed(2) + " %",
    p95_ms: (v) => v.toFixed(v < 10 ? 1 : 0) + " ms",
    cpu_percent: (v) => v.toFixed(1) + " %",
    memory_percent: (v) => v.toFixed(1) + " %",
    cache_hit_rate: (v) => (v * 100).toFixed(1) + " %",
    instances: (v) => String(v),
    firing_alerts: (v) => String(v),
  };
  const bad = {
    error_rate: (v) => v > 0.01, p95_ms: (v) => v > 200, cpu_percent: (v) => v > 70,
    memory_percent: (v) => v > 80, cache_hit_rate: (v) => v < 0.8, firing_alerts: (v) => v > 0,
  };

  function el(tag, attrs, text) {
    const node = document.createElement(tag);
    Object.entries(attrs || {}).forEach(([k, v]) => node.setAttribute(k, v));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function tiles(data) {
    Object.entries(data).forEach(([key, value]) => {
      const tile = root.querySelector(`[data-tile="${key}"]`);
      if (!tile) return;
      tile.querySelector(".cp-value").textContent = value === null ? "–" : fmt[key](value);
      tile.classList.toggle("cp-bad", value !== null && bad[key] ? bad[key](value) : false);
    });
  }

  function width(id) {
    return Math.max(300, document.getElementById(id).parentElement.clientWidth - 24);
  }

  function hasData(columns) {
    return columns[0].length > 0 && columns.slice(1).some((c) => c.some((v) => v !== null && v !== 0));
  }

  function draw(id, series, columns, opts) {
    const target = document.getElementById(id);
    if (charts[id]) { charts[id].destroy(); delete charts[id]; }
    target.textContent = "";
    if (!hasData(columns)) {
      target.appendChild(el("div", { class: "cp-empty" }, "no data in this range yet"));
      target.dataset.points = "0";
      return;
    }
    const options = Object.assign({
      width: width(id), height: 220, series: [{}].concat(series),
      axes: [{}, { size: 60 }], legend: { live: true },
    }, opts || {});
    charts[id] = new uPlot(options, columns, target);
    target.dataset.points = String(columns[0].length);
  }

  function markers(events) {
    return {
      hooks: {
        draw: [(u) => {
          const ctx = u.ctx;
          ctx.save();
          events.forEach((e) => {
            const x = Math.round(u.valToPos(e.t, "x", true));
            ctx.strokeStyle = e.result === "failed" ? "#ba2121" : (e.to > e.from ? "#2e7d32" : "#b06000");
            ctx.lineWidth = 2;
            ctx.setLineDash([4, 3]);
            ctx.beginPath();
            ctx.moveTo(x, u.bbox.top);
            ctx.lineTo(x, u.bbox.top + u.bbox.height);
            ctx.stroke();
          });
          ctx.restore();
        }],
      },
    };
  }

  function table(id, rows, render) {
    const body = document.querySelector(`#${id} tbody`);
    body.textContent = "";
    if (!rows.length) {
      const tr = el("tr");
      tr.appendChild(el("td", { class: "cp-muted" }, "none"));
      body.appendChild(tr);
      return;
    }
    rows.forEach((row) => body.appendChild(render(row)));
  }

  function link(name, params, text, id) {
    const url = actionUrl(name) + "?" + new URLSearchParams(params).toString();
    const a = el("a", { href: url, class: "button" }, text);
    if (id) a.id = id;
    return a;
  }

  function render(d) {
    tiles(d.tiles);
    const t = d.traffic;
    draw("chart-traffic", [
      { label: "requests/min", stroke: "#417690", width: 2 },
      { label: "errors/min", stroke: "#ba2121", width: 2 },
    ], [t.t, t.requests_per_min, t.errors_per_min]);
    draw("chart-latency", [
      { label: "p50", stroke: "#2e7d32", spanGaps: true },
      { label: "p95", stroke: "#b06000", spanGaps: true },
      { label: "p99", stroke: "#ba2121", spanGaps: true },
    ], [t.t, t.p50_ms, t.p95_ms, t.p99_ms]);
    draw("chart-host", [
      { label: "CPU %", stroke: "#417690", width: 2 },
      { label: "memory %", stroke: "#79aec8", width: 2 },
    ], [d.host.t, d.host.cpu_percent, d.host.memory_percent], { scales: { y: { range: [0, 100] } } });
    draw("chart-cache", [{ label: "hit rate", stroke: "#2e7d32", spanGaps: true }],
      [t.t, t.cache_hit_rate], { scales: { y: { range: [0, 1] } } });
    const inst = d.instances;
    draw("chart-instances", [{ label: "instances", stroke: "#417690", width: 2, paths: uPlot.paths.stepped({ align: 1 }) }],
      [inst.t, inst.count], Object.assign({ scales: { y: { range: (u, min, max) => [0, Math.max(2, max + 1)] } } },
        markers(inst.events)));
    document.getElementById("chart-instances").dataset.events = String(inst.events.length);
    if (d.cdn && d.cdn.available && d.cdn.t) {
      draw("chart-cdn", [
        { label: "hit ratio", stroke: "#2e7d32", scale: "ratio" },
        { label: "MB served", stroke: "#417690", scale: "mb" },
      ], [d.cdn.t, d.cdn.hit_ratio, d.cdn.megabytes], {
        scales: { ratio: { range: [0, 1] }, mb: {} },
        axes: [{}, { scale: "ratio", size: 50 }, { scale: "mb", side: 1, size: 60 }],
      });
    } else {
      draw("chart-cdn", [], [[]]);
    }
    table("cp-alerts", d.alerts, (a) => {
      const tr = el("tr");
      tr.appendChild(el("td", { class: "cp-sev-" + a.severity }, a.severity));
      tr.appendChild(el("td", {}, `${a.rule}: ${a.value} (threshold ${a.threshold})`));
      const td = el("td");
      if (!a.acknowledged) td.appendChild(link("acknowledge", { id: a.id }, "Acknowledge…"));
      tr.appendChild(td);
      return tr;
    });
    table("cp-recommendations", d.recommendations, (r) => {
      const tr = el("tr");
      tr.appendChild(el("td", {}, r.title));
      const td = el("td");
      if (r.action) td.appendChild(link("apply", { id: r.id }, "Apply…"));
      tr.appendChild(td);
      return tr;
    });
    const conns = d.database.connections;
    document.getElementById("cp-db-connections").textContent =
      conns === null || conns === undefined ? "" : `(${conns} connections in use)`;
    table("cp-queries", d.database.slow_queries, (q) => {
      const tr = el("tr");
      tr.appendChild(el("td", {}, `${q.count}× mean ${q.mean_ms} ms`));
      const td = el("td");
      td.appendChild(el("code", { class: "cp-sql" }, q.sql));
      tr.appendChild(td);
      return tr;
    });
    const select = document.getElementById("cp-scale-group");
    const chosen = select.value;
    select.textContent = "";
    d.groups.forEach((g) => {
      const option = el("option", { value: g.name }, `${g.name} (${g.ready} ready, ${g.min}–${g.max})`);
      option.dataset.desired = g.desired;
      select.appendChild(option);
    });
    if (chosen) select.value = chosen;
    const input = document.getElementById("cp-scale-instances");
    if (!input.value && d.groups.length) input.value = d.groups[0].desired;
    document.getElementById("cp-updated").textContent = "updated " + new Date(d.generated_at).toLocaleTimeString();
    root.dataset.loaded = "true";
  }

  async function refresh() {
    clearTimeout(timer);
    const range = document.getElementById("cp-range").value;
    try {
      const response = await fetch(`${api}?range=${encodeURIComponent(range)}`, { credentials: "same-origin" });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      render(await response.json());
    } catch (err) {
      document.getElementById("cp-updated").textContent = "could not refresh: " + err.message;
    }
    timer = setTimeout(refresh, REFRESH_MS);
  }

  document.getElementById("cp-range").addEventListener("change", refresh);
  window.addEventListener("resize", () => Object.entries(charts).forEach(([id, c]) => c.setSize({ width: width(id), height: 220 })));
  refresh();
})();
