// featx explore: the map of a cache's rows on a canvas, linked to thumbnails, neighbours, filters,
// a selection grid and a manifest export. No library, no network: the data is the JSON element
// #featx-data of this page; thumbnails are sprite sheets (data: URIs or files beside the page).
(function () {
  "use strict";
  const D = JSON.parse(document.getElementById("featx-data").textContent);
  const N = D.n, K = D.k || 0;
  const $ = (id) => document.getElementById(id);
  const X = new Float32Array(N), Y = new Float32Array(N);
  for (let i = 0; i < N; i++) { X[i] = D.x[i] / 10000; Y[i] = 1 - D.y[i] / 10000; }
  const label = Int32Array.from(D.label);
  const pred = D.pred ? Int32Array.from(D.pred) : null;
  const wrong = new Uint8Array(N);
  if (pred) for (let i = 0; i < N; i++) wrong[i] = pred[i] >= 0 && label[i] >= 0 && pred[i] !== label[i] ? 1 : 0;
  const imageIssue = D.image_issue;
  const cls = (c) => (c >= 0 && c < D.classes.length ? D.classes[c] : "(none)");

  // -- thumbnails: cell i of sheet floor(i / cols^2); data: URIs become blob: URLs once, on first use
  const T = D.thumbs, sheetUrl = [];
  function sheet(s) {
    if (sheetUrl[s]) return sheetUrl[s];
    let u = T.sheets[s];
    if (u.startsWith("data:")) {
      const bin = atob(u.slice(u.indexOf(",") + 1)), bytes = new Uint8Array(bin.length);
      for (let j = 0; j < bin.length; j++) bytes[j] = bin.charCodeAt(j);
      u = URL.createObjectURL(new Blob([bytes], { type: "image/jpeg" }));
    }
    return (sheetUrl[s] = u);
  }
  function thumb(i, size) {
    const el = document.createElement("div");
    el.className = "thumb";
    el.style.width = el.style.height = size + "px";
    if (T) {
      const per = T.cols * T.cols, j = i % per, f = size / T.px;
      el.style.backgroundImage = "url(\"" + sheet(Math.floor(i / per)) + "\")";
      el.style.backgroundSize = (T.cols * T.px * f) + "px auto";
      el.style.backgroundPosition = (-(j % T.cols) * size) + "px " + (-Math.floor(j / T.cols) * size) + "px";
    }
    return el;
  }
  const fullPath = (i) => { const p = D.paths[i]; return p.startsWith("/") || !D.root ? p : D.root.replace(/\/$/, "") + "/" + p; };

  // -- colours
  const CAT = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
    "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#c7c7c7", "#dbdb8d", "#9edae5"];
  const VIRIDIS = ["#440154", "#482878", "#3e4989", "#31688e", "#26828e", "#1f9e89", "#35b779", "#6ece58", "#b5de2b", "#fde725"];
  const catColour = (k) => (k < CAT.length ? CAT[k] : "hsl(" + ((k * 137.508) % 360) + ",60%,50%)");
  const modes = [{ id: "class", name: "class" }];
  if (pred) modes.push({ id: "pred", name: "predicted class" }, { id: "correct", name: "prediction correct" });
  if (D.has_audit) modes.push({ id: "finding", name: "audit finding" });
  for (const s of Object.keys(D.scores || {})) modes.push({ id: "score:" + s, name: s });
  const colourIdx = new Uint16Array(N);
  let palette = [], legend = [];
  function computeColours(mode) {
    if (mode === "class" || mode === "pred") {
      const src = mode === "class" ? label : pred;
      palette = ["#c8c8c8"].concat(D.classes.map((_, k) => catColour(k)));
      for (let i = 0; i < N; i++) colourIdx[i] = src[i] >= 0 ? src[i] + 1 : 0;
      legend = D.classes.map((c, k) => [palette[k + 1], c]);
    } else if (mode === "correct") {
      palette = ["#c8c8c8", "#2ca02c", "#d62728"];
      for (let i = 0; i < N; i++) colourIdx[i] = pred[i] < 0 || label[i] < 0 ? 0 : wrong[i] ? 2 : 1;
      legend = [[palette[1], "correct"], [palette[2], "misclassified"]];
    } else if (mode === "finding") {
      palette = ["#d0d0d0", "#9467bd", "#ff7f0e", "#8c564b", "#d62728"];
      for (let i = 0; i < N; i++)
        colourIdx[i] = D.issue[i] ? 4 : imageIssue && imageIssue[i] ? 3 : D.dup[i] >= 0 ? 2 : D.outlier[i] ? 1 : 0;
      legend = [[palette[4], "suspected label error"], [palette[3], "image issue"], [palette[2], "duplicate"], [palette[1], "outlier"], [palette[0], "none"]];
      if (!imageIssue) legend.splice(1, 1);
    } else {
      const v = D.scores[mode.slice(6)];
      let lo = Infinity, hi = -Infinity;
      for (const a of v) if (a !== null) { lo = Math.min(lo, a); hi = Math.max(hi, a); }
      palette = ["#d0d0d0"].concat(VIRIDIS);
      for (let i = 0; i < N; i++)
        colourIdx[i] = v[i] === null ? 0 : 1 + Math.min(9, Math.floor(((v[i] - lo) / (hi > lo ? hi - lo : 1)) * 10));
      legend = [[VIRIDIS[0], "low " + lo.toFixed(3)], [VIRIDIS[9], "high " + hi.toFixed(3)], [palette[0], "no score"]];
    }
    $("legend").innerHTML = "";
    for (const [c, name] of legend) {
      const s = document.createElement("span");
      s.innerHTML = "<i></i>";
      s.firstChild.style.background = c;
      s.appendChild(document.createTextNode(name));
      $("legend").appendChild(s);
    }
  }

  // -- filters: shown[i] = 1 when row i passes every filter
  const shown = new Uint8Array(N).fill(1);
  let nShown = N, order = new Int32Array(0), groupStart = [];
  function applyFilters() {
    const c = $("f-class").value === "" ? -1 : +$("f-class").value;
    const fw = $("f-wrong").checked, fi = $("f-issue").checked, fd = $("f-dup").checked;
    const fm = $("f-image").checked, fo = $("f-outlier").checked, q = $("f-search").value.trim().toLowerCase();
    nShown = 0;
    for (let i = 0; i < N; i++) {
      const ok = (c < 0 || label[i] === c) && (!fw || wrong[i]) && (!fi || D.issue[i]) && (!fd || D.dup[i] >= 0) &&
        (!fm || (imageIssue && imageIssue[i])) && (!fo || D.outlier[i]) && (!q || D.paths[i].toLowerCase().includes(q));
      shown[i] = ok ? 1 : 0;
      nShown += shown[i];
    }
    $("count").textContent = nShown + " of " + N + " shown";
    document.body.dataset.shown = String(nShown);
    buildOrder();
  }
  function buildOrder() { // shown rows grouped by colour (grey first, so findings draw on top)
    const counts = new Int32Array(palette.length + 1);
    for (let i = 0; i < N; i++) if (shown[i]) counts[colourIdx[i] + 1]++;
    for (let k = 1; k <= palette.length; k++) counts[k] += counts[k - 1];
    groupStart = Array.from(counts);
    const pos = counts.slice(0, palette.length);
    order = new Int32Array(nShown);
    for (let i = 0; i < N; i++) if (shown[i]) order[pos[colourIdx[i]]++] = i;
    draw();
  }

  // -- spatial grid for hit-testing: rows bucketed into G x G cells of the unit square
  const G = Math.max(16, Math.min(512, Math.ceil(Math.sqrt(N / 4))));
  const cellOf = (i) => Math.min(G - 1, Math.floor(X[i] * G)) + G * Math.min(G - 1, Math.floor(Y[i] * G));
  const cellStart = new Int32Array(G * G + 1), cellItems = new Int32Array(N);
  for (let i = 0; i < N; i++) cellStart[cellOf(i) + 1]++;
  for (let c = 0; c < G * G; c++) cellStart[c + 1] += cellStart[c];
  { const fill = cellStart.slice(0, G * G); for (let i = 0; i < N; i++) cellItems[fill[cellOf(i)]++] = i; }
  function forCells(x0, y0, x1, y1, fn) {
    const cx0 = Math.max(0, Math.floor(x0 * G)), cx1 = Math.min(G - 1, Math.floor(x1 * G));
    const cy0 = Math.max(0, Math.floor(y0 * G)), cy1 = Math.min(G - 1, Math.floor(y1 * G));
    for (let cy = cy0; cy <= cy1; cy++)
      for (let cx = cx0; cx <= cx1; cx++) {
        const c = cx + G * cy;
        for (let j = cellStart[c]; j < cellStart[c + 1]; j++) fn(cellItems[j]);
      }
  }

  // -- view: screen (CSS px in the canvas) = world * s + t
  const canvas = $("map"), ctx = canvas.getContext("2d");
  const view = { s: 1, tx: 0, ty: 0 };
  let W = 0, H = 0, base = 1;
  function resize() {
    const r = canvas.getBoundingClientRect(), dpr = window.devicePixelRatio || 1;
    W = r.width; H = r.height;
    canvas.width = Math.round(W * dpr); canvas.height = Math.round(H * dpr);
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  }
  function fit() {
    const m = 24; base = Math.max(10, Math.min(W, H) - 2 * m);
    view.s = base; view.tx = (W - base) / 2; view.ty = (H - base) / 2;
  }
  const radius = () => (N > 20000 ? 1.6 : N > 3000 ? 2.4 : 3.5) * Math.min(3, Math.sqrt(view.s / base));
  let hoverRow = -1, focusRow = -1, overlay = null, frame = 0;
  let selected = new Int32Array(0), isSelected = new Uint8Array(N);
  function draw() { if (!frame) frame = requestAnimationFrame(paint); }
  function paint() {
    frame = 0;
    ctx.clearRect(0, 0, W, H);
    const r = radius(), d = 2 * r, s = view.s, tx = view.tx, ty = view.ty;
    let drawn = 0;
    for (let k = 0; k < palette.length; k++) {
      ctx.fillStyle = palette[k];
      for (let j = groupStart[k]; j < groupStart[k + 1]; j++) {
        const i = order[j], x = X[i] * s + tx, y = Y[i] * s + ty;
        drawn++;
        if (x < -d || y < -d || x > W + d || y > H + d) continue;
        ctx.fillRect(x - r, y - r, d, d);
      }
    }
    if (selected.length && selected.length <= 3000) { // outlines; beyond, the grid shows the selection
      ctx.strokeStyle = "#000"; ctx.lineWidth = 1;
      ctx.beginPath();
      for (const i of selected) if (shown[i]) ctx.rect(X[i] * s + tx - r - 1, Y[i] * s + ty - r - 1, d + 2, d + 2);
      ctx.stroke();
    }
    for (const [i, c] of [[focusRow, "#000"], [hoverRow, "#e00"]]) {
      if (i < 0) continue;
      ctx.strokeStyle = c; ctx.lineWidth = 2;
      ctx.beginPath(); ctx.arc(X[i] * s + tx, Y[i] * s + ty, r + 4, 0, 2 * Math.PI); ctx.stroke();
    }
    if (overlay) {
      ctx.strokeStyle = "#333"; ctx.lineWidth = 1; ctx.setLineDash([4, 3]);
      ctx.beginPath();
      if (overlay.box) { const [a, b] = overlay.box; ctx.rect(a[0], a[1], b[0] - a[0], b[1] - a[1]); }
      else overlay.lasso.forEach((p, j) => (j ? ctx.lineTo(p[0], p[1]) : ctx.moveTo(p[0], p[1])));
      ctx.stroke(); ctx.setLineDash([]);
    }
    document.body.dataset.points = String(drawn);
  }

  function nearest(mx, my) {
    const s = view.s, wx = (mx - view.tx) / s, wy = (my - view.ty) / s, rad = (radius() + 4) / s;
    let best = -1, bd = rad * rad;
    forCells(wx - rad, wy - rad, wx + rad, wy + rad, (i) => {
      if (!shown[i]) return;
      const dx = X[i] - wx, dy = Y[i] - wy, dd = dx * dx + dy * dy;
      if (dd <= bd) { bd = dd; best = i; }
    });
    return best;
  }
  function describe(i) {
    const lines = [["path", D.paths[i]], ["label", cls(label[i])]];
    if (pred && pred[i] >= 0) lines.push(["predicted", cls(pred[i]) + (wrong[i] ? " ✗" : " ✓")]);
    for (const [name, v] of Object.entries(D.scores || {})) if (v[i] !== null) lines.push([name, v[i].toFixed(3)]);
    if (D.issue[i]) lines.push(["label issue", "suggested " + D.issue[i]]);
    if (D.dup[i] >= 0) lines.push(["duplicate", "cluster " + D.dup[i]]);
    if (D.outlier[i]) lines.push(["outlier", "yes"]);
    if (imageIssue && imageIssue[i]) lines.push(["image issue", imageIssue[i]]);
    const box = document.createElement("div");
    for (const [k, v] of lines) {
      const p = document.createElement("div");
      const b = document.createElement("b"); b.textContent = k + ": ";
      const t = document.createElement("span"); t.textContent = v; t.className = k === "path" ? "path" : "";
      p.append(b, t); box.appendChild(p);
    }
    return box;
  }
  function showHover(i, mx, my) {
    const h = $("hover");
    if (i < 0) { h.hidden = true; return; }
    h.hidden = false;
    h.firstChild.replaceWith(thumb(i, T ? T.px : 0));
    h.lastChild.replaceChildren(describe(i));
    const w = h.offsetWidth, hh = h.offsetHeight;
    h.style.left = Math.min(mx + 14, W - w - 4) + "px";
    h.style.top = Math.min(my + 14, H - hh - 4) + "px";
  }
  function showDetail(i) {
    focusRow = i;
    const el = $("detail");
    el.hidden = false;
    el.replaceChildren();
    const top = document.createElement("div"); top.className = "top";
    top.append(thumb(i, T ? 2 * T.px : 0), describe(i));
    const open = document.createElement("a");
    open.textContent = "open the image file"; open.href = "file://" + encodeURI(fullPath(i)); open.target = "_blank";
    const h = document.createElement("h2"); h.textContent = K + " nearest neighbours (cosine)";
    const nbs = document.createElement("div"); nbs.className = "nbs";
    for (let j = 0; j < K; j++) {
      const n = D.nn[i * K + j];
      if (n < 0) continue;
      const c = document.createElement("div"); c.className = "nb"; c.title = D.paths[n];
      c.append(thumb(n, 64), document.createTextNode(D.nn_cos[i * K + j].toFixed(3) + " " + cls(label[n])));
      if (label[n] !== label[i]) c.classList.add("bad");
      c.onclick = () => showDetail(n);
      nbs.appendChild(c);
    }
    el.append(top, open, h, nbs);
    draw();
  }

  // -- selection and export
  function setSelection(rows) {
    selected = Int32Array.from(rows);
    isSelected.fill(0);
    for (const i of selected) isSelected[i] = 1;
    $("nsel").textContent = selected.length;
    document.body.dataset.selected = String(selected.length);
    const grid = $("grid"); grid.replaceChildren();
    const most = 400;
    for (const i of Array.from(selected).slice(0, most)) {
      const c = document.createElement("div"); c.className = "cell"; c.title = D.paths[i];
      c.append(thumb(i, 64), document.createTextNode(cls(label[i])));
      c.onclick = () => showDetail(i);
      grid.appendChild(c);
    }
    if (selected.length > most) grid.append(document.createTextNode("… and " + (selected.length - most) + " more"));
    const a = $("export");
    if (a.dataset.url) URL.revokeObjectURL(a.dataset.url);
    a.dataset.url = URL.createObjectURL(new Blob([exportText()], { type: "text/csv" }));
    a.href = a.dataset.url;
    draw();
  }
  const csvField = (s) => (/[",\n\r]/.test(s) ? "\"" + s.replace(/"/g, "\"\"") + "\"" : s);
  function exportText() {
    let out = "path,label\n";
    for (const i of selected) out += csvField(fullPath(i)) + "," + csvField(label[i] >= 0 ? cls(label[i]) : "") + "\n";
    return out;
  }
  function selectIn(test, x0, y0, x1, y1) {
    const s = view.s, rows = [];
    forCells((x0 - view.tx) / s, (y0 - view.ty) / s, (x1 - view.tx) / s, (y1 - view.ty) / s, (i) => {
      if (shown[i] && test(X[i] * s + view.tx, Y[i] * s + view.ty)) rows.push(i);
    });
    rows.sort((a, b) => a - b);
    setSelection(rows);
  }
  function inPolygon(x, y, poly) {
    let inside = false;
    for (let a = 0, b = poly.length - 1; a < poly.length; b = a++) {
      const [xa, ya] = poly[a], [xb, yb] = poly[b];
      if ((ya > y) !== (yb > y) && x < ((xb - xa) * (y - ya)) / (yb - ya) + xa) inside = !inside;
    }
    return inside;
  }

  // -- mouse
  let drag = null;
  const at = (e) => { const r = canvas.getBoundingClientRect(); return [e.clientX - r.left, e.clientY - r.top]; };
  canvas.addEventListener("mousedown", (e) => {
    const p = at(e), tool = e.shiftKey ? "box" : e.altKey ? "lasso" : $("tool").value;
    drag = { tool, start: p, last: p, moved: false, pts: [p] };
    e.preventDefault();
  });
  window.addEventListener("mousemove", (e) => {
    const p = at(e);
    if (!drag) {
      if (e.target !== canvas) return;
      const i = nearest(p[0], p[1]);
      if (i !== hoverRow) { hoverRow = i; draw(); }
      showHover(i, p[0], p[1]);
      return;
    }
    if (Math.abs(p[0] - drag.start[0]) + Math.abs(p[1] - drag.start[1]) > 3) drag.moved = true;
    if (drag.tool === "pan") { view.tx += p[0] - drag.last[0]; view.ty += p[1] - drag.last[1]; }
    else if (drag.tool === "box") overlay = { box: [drag.start, p] };
    else { drag.pts.push(p); overlay = { lasso: drag.pts }; }
    drag.last = p;
    $("hover").hidden = true;
    draw();
  });
  window.addEventListener("mouseup", (e) => {
    if (!drag) return;
    const d = drag, p = at(e);
    drag = null; overlay = null;
    if (!d.moved) { const i = nearest(p[0], p[1]); if (i >= 0) showDetail(i); draw(); return; }
    if (d.tool === "box") {
      const x0 = Math.min(d.start[0], p[0]), x1 = Math.max(d.start[0], p[0]), y0 = Math.min(d.start[1], p[1]), y1 = Math.max(d.start[1], p[1]);
      selectIn((x, y) => x >= x0 && x <= x1 && y >= y0 && y <= y1, x0, y0, x1, y1);
    } else if (d.tool === "lasso" && d.pts.length > 2) {
      const xs = d.pts.map((q) => q[0]), ys = d.pts.map((q) => q[1]);
      selectIn((x, y) => inPolygon(x, y, d.pts), Math.min(...xs), Math.min(...ys), Math.max(...xs), Math.max(...ys));
    }
    draw();
  });
  canvas.addEventListener("mouseleave", () => { if (!drag) { hoverRow = -1; $("hover").hidden = true; draw(); } });
  canvas.addEventListener("wheel", (e) => {
    e.preventDefault();
    const [mx, my] = at(e), f = Math.exp(-e.deltaY * 0.0015), s = Math.max(base / 4, Math.min(base * 2000, view.s * f));
    view.tx = mx - ((mx - view.tx) * s) / view.s; view.ty = my - ((my - view.ty) * s) / view.s; view.s = s;
    draw();
  }, { passive: false });

  // -- controls
  $("title").textContent = D.title || "featx explore";
  $("sub").textContent = N + " images · layer " + D.layer + (D.map ? " · " + D.map + " map" : "") +
    (D.has_audit ? "" : " · no audit") + (T ? "" : " · no thumbnails");
  for (const m of modes) { const o = document.createElement("option"); o.value = m.id; o.textContent = m.name; $("colour").appendChild(o); }
  D.classes.forEach((c, k) => { const o = document.createElement("option"); o.value = k; o.textContent = c; $("f-class").appendChild(o); });
  $("l-wrong").hidden = !pred;
  for (const id of ["l-issue", "l-dup", "l-outlier"]) $(id).hidden = !D.has_audit;
  $("l-image").hidden = !imageIssue;
  $("colour").onchange = () => { computeColours($("colour").value); buildOrder(); };
  for (const id of ["f-class", "f-wrong", "f-issue", "f-dup", "f-image", "f-outlier"]) $(id).onchange = applyFilters;
  $("f-search").oninput = applyFilters;
  $("select-shown").onclick = () => { const rows = []; for (let i = 0; i < N; i++) if (shown[i]) rows.push(i); setSelection(rows); };
  $("clear").onclick = () => setSelection([]);
  $("reset").onclick = () => { fit(); draw(); };
  window.addEventListener("resize", () => { resize(); fit(); draw(); });

  const byPath = new Map(D.paths.map((p, i) => [p, i]));
  window.featxExplorer = {
    data: D, view, shown, modes: modes.map((m) => m.id),
    toScreen(i) { const r = canvas.getBoundingClientRect(); return [r.left + X[i] * view.s + view.tx, r.top + Y[i] * view.s + view.ty]; },
    rowOf: (p) => (byPath.has(p) ? byPath.get(p) : -1),
    select: setSelection, selection: () => Array.from(selected), exportText, showDetail,
    setColour(m) { $("colour").value = m; $("colour").onchange(); },
  };
  resize(); fit();
  computeColours("class");
  applyFilters();
})();
