(function () {
  'use strict';
  // plotly figures: data in <script type="application/json"> blocks, never executed
  document.querySelectorAll('[data-figure]').forEach(function (el) {
    var data = document.getElementById(el.getAttribute('data-figure'));
    if (!data) { return; }
    if (!window.Plotly) { el.textContent = 'The chart library did not load.'; return; }
    var fig = JSON.parse(data.textContent);
    window.Plotly.newPlot(el, fig.data, fig.layout, {displaylogo: false, responsive: true});
  });
  var all = document.getElementById('pick-all');
  if (all) {
    all.addEventListener('change', function () {
      document.querySelectorAll('input[name="pick"]').forEach(function (c) {
        c.checked = all.checked;
      });
    });
  }
}());
