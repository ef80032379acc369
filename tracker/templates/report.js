(function () {
  'use strict';
  function parse(id) { return JSON.parse(document.getElementById(id).textContent); }
  var figs = parse('tracker-figures');
  figs.forEach(function (f) {
    var el = document.getElementById(f.div);
    if (!el) { return; }
    if (!window.Plotly) { el.textContent = 'The chart library did not load.'; return; }
    var fig = JSON.parse(document.getElementById(f.json).textContent);
    window.Plotly.newPlot(el, fig.data, fig.layout, f.config);
  });
  var table = document.getElementById('findings-table');
  if (!table) { return; }
  var tbody = table.tBodies[0];
  var rows = Array.prototype.slice.call(tbody.rows);
  var shown = document.getElementById('rows-shown');
  var controls = document.querySelectorAll('[data-filter]');
  function apply() {
    var q = document.getElementById('filter-text').value.toLowerCase();
    var n = 0;
    rows.forEach(function (tr) {
      var ok = !q || tr.textContent.toLowerCase().indexOf(q) !== -1;
      controls.forEach(function (c) {
        if (c.value && tr.getAttribute('data-' + c.getAttribute('data-filter')) !== c.value) {
          ok = false;
        }
      });
      tr.hidden = !ok;
      if (ok) { n += 1; }
    });
    shown.textContent = String(n);
  }
  document.getElementById('filter-text').addEventListener('input', apply);
  controls.forEach(function (c) { c.addEventListener('change', apply); });
  var heads = table.tHead.rows[0].cells;
  Array.prototype.forEach.call(heads, function (th, col) {
    var btn = th.querySelector('button');
    if (!btn) { return; }
    btn.addEventListener('click', function () {
      var asc = th.getAttribute('aria-sort') !== 'ascending';
      Array.prototype.forEach.call(heads, function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', asc ? 'ascending' : 'descending');
      var num = th.getAttribute('data-type') === 'num';
      function key(tr) {
        var td = tr.cells[col];
        var v = td.hasAttribute('data-sort') ? td.getAttribute('data-sort') : td.textContent;
        return num ? parseFloat(v) || 0 : v.toLowerCase();
      }
      rows.sort(function (a, b) {
        var x = key(a), y = key(b);
        var c = x < y ? -1 : (x > y ? 1 : 0);
        return asc ? c : -c;
      });
      rows.forEach(function (tr) { tbody.appendChild(tr); });
    });
  });
  apply();
}());
