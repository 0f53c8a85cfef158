// rackwatch status page: keeps the server-rendered page live from the
// collector's event stream. It draws the same markup as index.html, with
// DOM calls only (no innerHTML), so nothing from the network becomes
// markup.
"use strict";
(function () {
  var SVG = "http://www.w3.org/2000/svg";

  function h(tag, attrs) {
    var el = document.createElement(tag);
    for (var k in attrs || {}) {
      if (attrs[k] !== undefined && attrs[k] !== null) el.setAttribute(k, attrs[k]);
    }
    for (var i = 2; i < arguments.length; i++) add(el, arguments[i]);
    return el;
  }
  function add(el, c) {
    if (c === null || c === undefined || c === false) return;
    if (Array.isArray(c)) { c.forEach(function (x) { add(el, x); }); return; }
    el.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
  }
  function replace(id, children) {
    var el = document.getElementById(id);
    if (!el) return;
    while (el.firstChild) el.removeChild(el.firstChild);
    add(el, children);
  }

  function stateLabel(s) { return String(s).replace(/_/g, " "); }
  function rackName(n) { return n ? "rack " + n : "no rack"; }
  function num(v, d, unit) {
    if (v === null || v === undefined) return "–";
    return v.toFixed(d) + (unit ? " " + unit : "");
  }
  function temp(t) {
    if (!t || t.c === null || t.c === undefined) return "no data";
    var s = t.c.toFixed(1) + " °C";
    if (t.band === "hot" || t.band === "critical") s += " " + t.band;
    return s;
  }
  function stamp(iso) {
    if (!iso) return "";
    return iso.slice(5, 10) + " " + iso.slice(11, 19) + " UTC";
  }
  function fmtNum(v) {
    if (v === null || v === undefined) return "?";
    return String(Number(v.toPrecision(4)));
  }
  function evidence(e) {
    return e.signal + " " + fmtNum(e.value) + " " + e.unit + " " + (e.firing ? "≥" : "<") + " " + fmtNum(e.threshold);
  }
  function stateSpan(s) { return h("span", { "class": "state s-" + s }, stateLabel(s)); }

  function spark(hist, step) {
    var svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("class", "spark");
    svg.setAttribute("viewBox", "0 0 100 24");
    svg.setAttribute("role", "img");
    var top = 0, lo = Infinity, hi = -Infinity, n = 0;
    (hist || []).forEach(function (v) {
      if (v === null) return;
      top = Math.max(top, v); lo = Math.min(lo, v); hi = Math.max(hi, v); n++;
    });
    var pts = [];
    if (top > 0 && hist.length > 1) {
      hist.forEach(function (v, i) {
        if (v === null) return;
        pts.push((i * 100 / (hist.length - 1)).toFixed(1) + "," + (23 - v / top * 22).toFixed(1));
      });
    }
    var span = Math.round((hist ? hist.length : 0) * step);
    svg.setAttribute("aria-label", n === 0 ? "no latency history" :
      "latency over the last " + (span >= 60 ? Math.floor(span / 60) + "m" : "") + (span % 60) + "s" +
      ": " + lo.toFixed(0) + " to " + hi.toFixed(0) + " ms");
    var line = document.createElementNS(SVG, "polyline");
    line.setAttribute("points", pts.join(" "));
    svg.appendChild(line);
    return svg;
  }

  function renderSwitches(s) {
    replace("switches", [
      s.stop && h("p", { "class": "banner stop" }, h("strong", null, "Global stop is on:"), " every action is withheld."),
      s.dry_run && h("p", { "class": "banner dry" }, h("strong", null, "Dry-run is on:"), " decisions are recorded, nothing is changed.")
    ]);
  }

  function renderRacks(s) {
    if (!s.racks || s.racks.length === 0) { replace("racks", h("p", null, "No nodes in the inventory.")); return; }
    replace("racks", s.racks.map(function (r) {
      return h("section", { "class": "rack", "aria-label": rackName(r.name) },
        h("h3", null, rackName(r.name), " ", h("span", { "class": "inlet band-" + r.inlet.band }, "inlet " + temp(r.inlet))),
        h("ul", { "class": "cells" }, r.nodes.map(function (n) {
          return h("li", { "class": "cell band-" + n.cpu.band, "data-node": n.name, "data-state": n.state },
            h("span", { "class": "name" }, n.name), " ", stateSpan(n.state), " ", h("span", { "class": "temp" }, temp(n.cpu)));
        })));
    }));
  }

  function renderNodes(s) {
    var rows = [];
    (s.racks || []).forEach(function (r) {
      r.nodes.forEach(function (n) {
        var lat = [num(n.latency_ms, 1, "ms")];
        if (n.baseline_ms !== null && n.baseline_ms !== undefined) lat.push(" ", h("small", null, "(normal " + num(n.baseline_ms, 1, "ms") + ")"));
        var firing = (n.firing || []).length ? n.firing.map(function (e) { return [h("span", { "class": "ev" }, evidence(e)), " "]; }) : "none";
        rows.push(h("tr", { "data-node": n.name, "data-state": n.state },
          h("th", { scope: "row" }, n.name),
          h("td", null, r.name),
          h("td", null, stateSpan(n.state), n.pin && [" ", h("span", { "class": "pin" }, "by " + n.pin.by + ": " + n.pin.reason)]),
          h("td", { "class": "num" }, n.weight_pct === null || n.weight_pct === undefined ? "unknown" : n.weight_pct + " %"),
          h("td", { "class": "num band-" + n.cpu.band }, temp(n.cpu)),
          h("td", { "class": "num" }, num(n.throttle_per_s, 2, "/s")),
          h("td", { "class": "num" }, lat),
          h("td", null, spark(n.history, n.history_step_s)),
          h("td", null, (n.link.port ? n.link.port + ": " : "") + "FCS " + num(n.link.fcs_per_s, 2, "/s") + ", flaps " + num(n.link.flaps, 0, "")),
          h("td", null, firing)));
      });
    });
    var tbody = document.querySelector("#nodes tbody");
    if (!tbody) return;
    while (tbody.firstChild) tbody.removeChild(tbody.firstChild);
    add(tbody, rows);
  }

  function renderDecisions(s) {
    var ds = s.decisions || [];
    if (ds.length === 0) { replace("decisions", h("li", null, "No decisions yet.")); return; }
    replace("decisions", ds.map(function (d) {
      var head = [h("time", { datetime: d.at }, stamp(d.at)), " ", h("strong", null, d.action)];
      if (d.node) head.push(" " + d.node); else if (d.rack) head.push(" rack " + d.rack);
      if (d.from) head.push(" " + d.from + " → " + d.to);
      if (d.desired) head.push(" (" + d.desired + ")");
      if (d.alarm) head.push(" alarm " + d.alarm);
      if (d.alarm_active !== undefined) head.push(d.alarm_active ? " raised" : " cleared");
      if (!d.taken) head.push(" ", h("em", null, "withheld: " + d.withheld));
      if (d.dry_run) head.push(" ", h("em", null, "dry-run"));
      head.push(" ", h("span", { "class": "actor" }, "by " + d.actor));
      return h("li", { "class": "decision a-" + d.action + (d.taken ? "" : " withheld") },
        h("p", null, head),
        h("p", { "class": "cause" }, d.cause),
        (d.evidence || []).length ? h("ul", { "class": "evidence" }, d.evidence.map(function (e) {
          return h("li", e.firing ? { "class": "firing" } : null, evidence(e) + (e.firing ? " (firing)" : ""));
        })) : null);
    }));
  }

  var conn = document.getElementById("conn");
  function status(state, text, at) {
    if (!conn) return;
    conn.setAttribute("data-conn", state);
    while (conn.firstChild) conn.removeChild(conn.firstChild);
    add(conn, [text, at ? h("time", { datetime: at }, stamp(at)) : null]);
  }

  function render(s) {
    renderSwitches(s);
    renderRacks(s);
    renderNodes(s);
    renderDecisions(s);
  }

  if (!window.EventSource) return; // the static view stays
  var lastAt = null;
  var es = new EventSource("/api/v1/events");
  es.addEventListener("snapshot", function (ev) {
    var s;
    try { s = JSON.parse(ev.data); } catch (e) { return; }
    render(s);
    lastAt = s.at;
    status("live", "Live, updated ", s.at);
  });
  es.addEventListener("heartbeat", function (ev) {
    var b;
    try { b = JSON.parse(ev.data); } catch (e) { return; }
    status("live", "Live, collector heard ", b.at);
  });
  es.onerror = function () {
    status("lost", lastAt ? "Connection to the collector lost, reconnecting; data shown is from " : "Connecting to the collector…", lastAt);
  };
})();
