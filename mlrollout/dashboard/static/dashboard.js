// The ModelPromotions dashboard: one card per promotion, kept current from the server's event
// stream (snapshot, then upsert / delete / health events). Every text from the cluster goes
// into the page as a text node or an attribute value, never as markup; links must be http(s).
"use strict";

(() => {
  const SVG_NS = "http://www.w3.org/2000/svg";
  const CHARTED = [
    ["latency_p95_ms", "latency p95 (ms)"],
    ["error_rate", "error rate"],
  ];
  const PHASE_TONE = {
    Pending: "idle", Evaluating: "busy", RollingOut: "busy", Verifying: "busy",
    AwaitingApproval: "wait", Promoted: "good", Rejected: "bad", RollingBack: "warn",
    RolledBack: "bad", Failed: "bad",
  };
  const GATE_TONE = { Successful: "good", Failed: "bad", Error: "bad", Inconclusive: "warn" };
  const OP_TEXT = { ">=": "≥", "<=": "≤", ">": ">", "<": "<", "==": "=" };

  const promotions = new Map(); // key ("namespace/name") → the server's view of it
  const main = document.getElementById("promotions");
  const empty = document.getElementById("empty");
  let health = { connected: false, message: "" };

  // -- building DOM without markup -------------------------------------------------------------
  function el(tag, props, ...children) {
    const node = document.createElement(tag);
    setProps(node, props);
    appendAll(node, children);
    return node;
  }

  function svg(tag, attrs, ...children) {
    const node = document.createElementNS(SVG_NS, tag);
    for (const [name, value] of Object.entries(attrs || {})) node.setAttribute(name, String(value));
    appendAll(node, children);
    return node;
  }

  function setProps(node, props) {
    for (const [name, value] of Object.entries(props || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (name === "class") node.className = value;
      else if (name === "text") node.textContent = String(value);
      else if (name === "data") Object.assign(node.dataset, value);
      else node.setAttribute(name, String(value));
    }
  }

  function appendAll(node, children) {
    for (const child of children.flat(Infinity)) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
  }

  function safeUrl(url) {
    return typeof url === "string" && /^https?:\/\//i.test(url) ? url : null;
  }

  function link(url, text, title) {
    const href = safeUrl(url);
    if (!href) return el("span", { title }, text);
    return el("a", { href, target: "_blank", rel: "noopener noreferrer", title }, text);
  }

  // -- formatting ----------------------------------------------------------------------------
  function num(value) {
    if (value === null || value === undefined || Number.isNaN(value)) return "—";
    if (value !== 0 && Math.abs(value) < 0.001) return value.toExponential(1);
    return String(Number(value.toPrecision(4)));
  }

  function pad(n) {
    return String(n).padStart(2, "0");
  }

  function time(iso) {
    if (!iso) return "";
    const at = new Date(iso);
    if (Number.isNaN(at.getTime())) return String(iso);
    const clock = `${pad(at.getHours())}:${pad(at.getMinutes())}:${pad(at.getSeconds())}`;
    const today = new Date().toDateString() === at.toDateString();
    return today ? clock : `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())} ${clock}`;
  }

  function short(id) {
    return id && id.length > 12 ? `${id.slice(0, 8)}…` : id || "";
  }

  // -- one card ------------------------------------------------------------------------------
  function card(p) {
    const tone = PHASE_TONE[p.phase] || "idle";
    return el("article", { class: `card tone-${tone}`, data: { key: p.key, phase: p.phase } },
      head(p, tone),
      versions(p),
      p.message ? el("p", { class: "message", text: p.message }) : null,
      failedGates(p),
      problems(p),
      gates(p),
      verification(p),
      history(p),
      requests(p),
      links(p));
  }

  function head(p, tone) {
    const chips = [];
    if (p.paused) chips.push(el("span", { class: "chip chip-paused", title: time(p.pausedAt) }, "paused"));
    if (p.approval) {
      const deadline = p.approval.deadline ? ` until ${time(p.approval.deadline)}` : "";
      chips.push(el("span", { class: "chip chip-approval" }, `awaiting approval ${p.approval.stage}${deadline}`));
    }
    if (p.pendingRequest) {
      const r = p.pendingRequest;
      const text = r.problem ? `unreadable request: ${r.problem}` : `${r.action} asked by ${r.requestedBy}`;
      chips.push(el("span", { class: "chip chip-request" }, text));
    }
    return el("header", { class: "card-head" },
      el("h2", {}, el("span", { class: "namespace" }, `${p.namespace}/`), el("span", { class: "name" }, p.name)),
      el("span", { class: `phase badge tone-${tone}`, title: p.phaseSince ? `since ${time(p.phaseSince)}` : null }, p.phase),
      chips);
  }

  function version(role, value, url, extra) {
    return el("div", { class: `version version-${role}` },
      el("span", { class: "label" }, role === "lkg" ? "last known good" : role),
      value ? link(url, `v${value}`, `model version ${value}`) : el("span", { class: "none" }, "—"),
      extra);
  }

  function versions(p) {
    const candidate = p.candidate || {};
    const run = candidate.runId ? el("span", { class: "run" }, "run ", link(p.links.run, short(candidate.runId), candidate.runId)) : null;
    const strategy = p.strategy ? (p.strategy.summary || p.strategy.name) : null;
    return el("div", { class: "versions" },
      el("div", { class: "model" },
        el("span", { class: "label" }, "model"),
        el("span", { class: "model-name" }, p.model || "—"),
        p.wanted ? el("span", { class: "wanted" }, ` wants ${p.wanted.startsWith("@") ? p.wanted : `v${p.wanted}`}`) : null,
        strategy ? el("span", { class: "strategy" }, ` · ${strategy}`) : null),
      version("candidate", candidate.version, p.links.candidate, run),
      el("span", { class: "arrow", "aria-hidden": "true" }, "→"),
      version("serving", p.serving, p.links.serving),
      version("lkg", p.lastKnownGood, null));
  }

  function failing(p) {
    return p.gates.filter((g) => g.phase === "Failed" || g.phase === "Error");
  }

  function failedGates(p) {
    const failed = failing(p);
    if (!failed.length) return null;
    return el("p", { class: "failed-gates" },
      el("strong", {}, failed.length === 1 ? "Failed gate: " : "Failed gates: "),
      failed.map((g, i) => [i ? "; " : "", el("span", { class: "failed-gate" }, g.name),
        g.value !== null && g.value !== undefined ? ` (value ${num(g.value)})` : " (no value)"]));
  }

  function problems(p) {
    if (!p.problems || !p.problems.length) return null;
    return el("ul", { class: "problems" }, p.problems.map((text) => el("li", {}, text)));
  }

  function scale(values) {
    const finite = values.filter((v) => typeof v === "number" && Number.isFinite(v));
    if (!finite.length) return 1;
    const hi = Math.max(...finite.map(Math.abs));
    if (finite.every((v) => v >= 0 && v <= 1)) return 1;
    return hi > 0 ? hi * 1.2 : 1;
  }

  function gateRow(g) {
    const tone = GATE_TONE[g.phase] || "idle";
    const top = scale([g.value, g.threshold]);
    const fill = el("div", { class: "fill" });
    fill.style.width = `${Math.max(0, Math.min(1, (g.value || 0) / top)) * 100}%`;
    const bar = el("div", { class: "bar" }, fill);
    if (typeof g.threshold === "number") {
      const mark = el("div", { class: "mark", title: `threshold ${num(g.threshold)}` });
      mark.style.left = `${Math.max(0, Math.min(1, g.threshold / top)) * 100}%`;
      bar.append(mark);
    }
    const op = OP_TEXT[g.op] || g.op;
    const baseline = typeof g.baselineValue === "number" ? ` (baseline ${num(g.baselineValue)})` : "";
    return el("div", { class: `gate tone-${tone}`, data: { gate: g.name, phase: g.phase || "Pending" }, title: g.message || null },
      el("span", { class: "gate-name" }, g.name),
      bar,
      el("span", { class: "gate-value" }, `${num(g.value)} ${op} ${num(g.threshold)}${baseline}`),
      el("span", { class: "gate-source" }, g.source || (g.phase ? "" : "not measured yet")));
  }

  function gates(p) {
    if (!p.gates.length) return null;
    return el("section", { class: "gates" }, el("h3", {}, "Gates"), p.gates.map(gateRow));
  }

  function violates(value, rule) {
    if (!rule || typeof value !== "number") return false;
    const t = rule.threshold;
    return { ">=": value < t, ">": value <= t, "<=": value > t, "<": value >= t, "==": value !== t }[rule.op] || false;
  }

  function niceCeiling(value) { // the axis' top: 1, 2, 2.5 or 5 times a power of ten
    if (!(value > 0)) return 1;
    const power = 10 ** Math.floor(Math.log10(value));
    return [1, 2, 2.5, 5, 10].map((m) => m * power).find((top) => top >= value * 0.9999);
  }

  function chart(metric, label, samples, rule) {
    const points = samples
      .map((s) => ({ at: Date.parse(s.at), value: s.values ? s.values[metric] : null }))
      .filter((pt) => !Number.isNaN(pt.at));
    const values = points.map((pt) => pt.value).filter((v) => typeof v === "number");
    if (!values.length) return null;
    const [w, h, left, right, top, bottom] = [260, 74, 34, 8, 8, 16];
    // A threshold far above every value would flatten the series: then only the caption has it.
    const ruled = rule && rule.threshold <= Math.max(...values) * 3 ? rule : null;
    const hi = niceCeiling(Math.max(...values, ruled ? ruled.threshold : 0) * 1.1);
    const t0 = points[0].at;
    const span = Math.max(points[points.length - 1].at - t0, 1);
    const x = (at) => left + ((at - t0) / span) * (w - left - right);
    const y = (v) => top + (1 - v / hi) * (h - top - bottom);
    const plot = svg("svg", { class: "chart", viewBox: `0 0 ${w} ${h}`, role: "img", "aria-label": label, "data-metric": metric, "data-points": values.length });
    plot.append(svg("line", { class: "axis", x1: left, y1: h - bottom, x2: w - right, y2: h - bottom }));
    plot.append(svg("text", { class: "tick", x: left - 4, y: top + 4, "text-anchor": "end" }, num(hi)));
    plot.append(svg("text", { class: "tick", x: left - 4, y: h - bottom, "text-anchor": "end" }, "0"));
    plot.append(svg("text", { class: "tick", x: left, y: h - 3 }, time(samples[0].at)));
    plot.append(svg("text", { class: "tick", x: w - right, y: h - 3, "text-anchor": "end" }, time(samples[samples.length - 1].at)));
    if (ruled) {
      plot.append(svg("line", { class: "threshold", x1: left, y1: y(ruled.threshold), x2: w - right, y2: y(ruled.threshold) },
        svg("title", {}, `threshold ${ruled.op} ${num(ruled.threshold)}`)));
    }
    let run = [];
    const flush = () => {
      if (run.length > 1) plot.append(svg("polyline", { class: "series", points: run.join(" ") }));
      run = [];
    };
    for (const pt of points) {
      if (typeof pt.value !== "number") { flush(); continue; }
      run.push(`${x(pt.at).toFixed(1)},${y(pt.value).toFixed(1)}`);
    }
    flush();
    for (const pt of points) {
      if (typeof pt.value !== "number") continue;
      plot.append(svg("circle", { class: violates(pt.value, rule) ? "point bad" : "point", cx: x(pt.at).toFixed(1), cy: y(pt.value).toFixed(1), r: 2.2 },
        svg("title", {}, `${time(new Date(pt.at).toISOString())}: ${num(pt.value)}`)));
    }
    const last = values[values.length - 1];
    return el("figure", { class: "metric-chart" },
      el("figcaption", {}, label, el("span", { class: "last" }, ` last ${num(last)}`),
        rule ? el("span", { class: "rule" }, ` (gate ${OP_TEXT[rule.op] || rule.op} ${num(rule.threshold)})`) : null),
      plot);
  }

  function verification(p) {
    const v = p.verification;
    if (!v) return null;
    const progress = v.expectedRounds ? `${v.rounds}/${v.expectedRounds} rounds` : `${v.rounds} rounds`;
    const verdict = v.passed ? " · passed" : "";
    const charts = CHARTED.map(([metric, label]) => chart(metric, label, v.samples || [], (v.thresholds || {})[metric])).filter(Boolean);
    return el("section", { class: "verification" },
      el("h3", {}, "Verification ", el("span", { class: "progress" }, progress + verdict)),
      charts.length ? el("div", { class: "charts" }, charts) : el("p", { class: "none" }, "no samples yet"));
  }

  function history(p) {
    if (!p.history.length) return null;
    return el("section", { class: "history" }, el("h3", {}, "History"),
      el("ol", { class: "timeline" }, p.history.map((h) => {
        const tone = PHASE_TONE[h.outcome] || "idle";
        const who = h.action ? `${h.action}${h.requestedBy ? ` by ${h.requestedBy}` : ""}` : null;
        return el("li", { class: `tone-${tone}`, data: { outcome: h.outcome } },
          el("span", { class: "dot", "aria-hidden": "true" }),
          el("span", { class: "when" }, time(h.finishedAt || h.startedAt)),
          el("span", { class: "what" }, h.version ? `v${h.version} ` : "", el("b", {}, h.outcome)),
          who ? el("span", { class: "who" }, who) : null,
          h.reason ? el("span", { class: "reason" }, h.reason) : null);
      })));
  }

  function requests(p) {
    if (!p.requests.length) return null;
    return el("section", { class: "requests" }, el("h3", {}, "Requests"),
      el("ul", {}, p.requests.slice(0, 5).map((r) => el("li", { class: r.accepted ? "accepted" : "refused" },
        el("span", { class: "when" }, time(r.handledAt)),
        ` ${r.action} by ${r.requestedBy}: ${r.accepted ? "accepted" : "refused"}`,
        r.message ? ` (${r.message})` : ""))));
  }

  function links(p) {
    const found = [
      [p.links.run, "MLflow run"],
      [p.links.candidate, p.candidate ? `candidate v${p.candidate.version}` : null],
      [p.links.serving, p.serving ? `serving v${p.serving}` : null],
    ].filter(([url, text]) => safeUrl(url) && text);
    if (!found.length) return null;
    return el("nav", { class: "links" }, "MLflow: ", found.map(([url, text], i) => [i ? " · " : "", link(url, `${text} ↗`)]));
  }

  // -- the list ------------------------------------------------------------------------------
  function cardOf(key) {
    for (const node of main.querySelectorAll("article.card")) if (node.dataset.key === key) return node;
    return null;
  }

  function upsert(p) {
    promotions.set(p.key, p);
    const fresh = card(p);
    const old = cardOf(p.key);
    if (old) {
      old.replaceWith(fresh);
    } else {
      const after = [...main.querySelectorAll("article.card")].find((node) => node.dataset.key > p.key);
      main.insertBefore(fresh, after || null);
    }
    summarize();
  }

  function remove(key) {
    promotions.delete(key);
    const old = cardOf(key);
    if (old) old.remove();
    summarize();
  }

  function replaceAll(snapshot) {
    promotions.clear();
    for (const node of main.querySelectorAll("article.card")) node.remove();
    for (const p of snapshot.promotions) upsert(p);
    showHealth(snapshot.health);
    summarize();
  }

  function summarize() {
    const counts = {};
    for (const p of promotions.values()) counts[p.phase] = (counts[p.phase] || 0) + 1;
    const parts = Object.entries(counts).sort().map(([phase, n]) => `${n} ${phase}`);
    const total = `${promotions.size} promotion${promotions.size === 1 ? "" : "s"}`;
    document.getElementById("summary").textContent = parts.length ? `${total}: ${parts.join(", ")}` : total;
    empty.hidden = promotions.size > 0;
    empty.textContent = health.connected ? "No ModelPromotions to show." : "Waiting for ModelPromotions…";
  }

  function showHealth(next) {
    health = next || health;
    const note = document.getElementById("source-problem");
    note.hidden = health.connected;
    note.textContent = health.connected ? "" : health.message;
    summarize();
  }

  // -- the stream ----------------------------------------------------------------------------
  function setStream(state) {
    document.body.dataset.stream = state;
    document.getElementById("connection").hidden = state !== "reconnecting";
  }

  function on(source, event, handle) {
    source.addEventListener(event, (e) => {
      document.body.dataset.events = String(Number(document.body.dataset.events || 0) + 1);
      handle(JSON.parse(e.data));
    });
  }

  function connect() {
    const source = new EventSource("api/stream");
    source.addEventListener("open", () => setStream("open"));
    source.addEventListener("error", () => {
      setStream("reconnecting");
      if (source.readyState === EventSource.CLOSED) { // refused outright: the browser gave up
        source.close();
        setTimeout(connect, 3000);
      }
    });
    on(source, "snapshot", replaceAll);
    on(source, "upsert", (data) => upsert(data.promotion));
    on(source, "delete", (data) => remove(data.key));
    on(source, "health", showHealth);
  }

  connect();
})();
