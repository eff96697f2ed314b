// archcalc's HTML report: sort the layer table by any column, fold block subtotals.
// Keys are exact: data-v holds an integer, p/q, or a formula's text; numbers compare as
// BigInt fractions, never as floats.
(function () {
  "use strict";
  const table = document.getElementById("layers");
  if (!table) return;
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  const scopes = new Map();
  const roots = [];
  for (const row of rows) {
    row.kids = [];
    if (row.dataset.scope) scopes.set(row.dataset.scope, row);
  }
  for (const row of rows) {
    const parent = row.dataset.parent ? scopes.get(row.dataset.parent) : null;
    (parent ? parent.kids : roots).push(row);
  }
  const group = document.getElementById("group");
  let column = 0;
  let direction = 1;

  function exact(text) {
    const m = /^(-?\d+)(?:\/(\d+))?$/.exec(text);
    return m ? [BigInt(m[1]), BigInt(m[2] || "1")] : null;
  }
  function key(row) {
    const cell = row.cells[column];
    return cell.dataset.v !== undefined ? cell.dataset.v : cell.textContent.trim();
  }
  function compare(a, b) {
    const x = key(a), y = key(b);
    const p = exact(x), q = exact(y);
    if (p && q) {
      const left = p[0] * q[1], right = q[0] * p[1];
      return left < right ? -1 : left > right ? 1 : 0;
    }
    if (p || q) return p ? -1 : 1; // numbers before text
    return x < y ? -1 : x > y ? 1 : 0;
  }
  function sorted(list) {
    // empty cells (nothing measured, no receptive field) stay last in either direction
    return list.slice().sort((a, b) => {
      const x = key(a) === "", y = key(b) === "";
      return x || y ? Number(x) - Number(y) : direction * compare(a, b);
    });
  }
  function walk(list, out) {
    for (const row of sorted(list)) {
      out.push(row);
      walk(row.kids, out);
    }
    return out;
  }
  function folded(row) {
    for (let p = row.dataset.parent; p; p = scopes.get(p).dataset.parent) {
      if (scopes.get(p).classList.contains("folded")) return true;
    }
    return false;
  }
  function render() {
    const grouped = group.checked;
    const order = grouped ? walk(roots, []) : sorted(rows.filter((r) => !r.dataset.scope));
    if (!grouped) order.push(...rows.filter((r) => r.dataset.scope));
    for (const row of order) {
      const hide = grouped ? folded(row) : Boolean(row.dataset.scope);
      row.classList.toggle("hidden", hide);
      body.appendChild(row);
    }
  }
  for (const th of table.tHead.rows[0].cells) {
    const sortBy = () => {
      const col = Number(th.dataset.col);
      direction = col === column ? -direction : 1;
      column = col;
      for (const other of table.tHead.rows[0].cells) other.removeAttribute("aria-sort");
      th.setAttribute("aria-sort", direction > 0 ? "ascending" : "descending");
      render();
    };
    th.addEventListener("click", sortBy);
    th.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sortBy(); } });
  }
  function setFold(row, fold) {
    row.classList.toggle("folded", fold);
    row.querySelector("button.fold").setAttribute("aria-expanded", String(!fold));
  }
  body.addEventListener("click", (e) => {
    const button = e.target.closest("button.fold");
    if (!button) return;
    const row = button.closest("tr");
    setFold(row, !row.classList.contains("folded"));
    render();
  });
  document.getElementById("fold-all").addEventListener("click", () => { scopes.forEach((r) => setFold(r, true)); render(); });
  document.getElementById("unfold-all").addEventListener("click", () => { scopes.forEach((r) => setFold(r, false)); render(); });
  group.addEventListener("change", render);
  table.tHead.rows[0].cells[0].setAttribute("aria-sort", "ascending");
})();
