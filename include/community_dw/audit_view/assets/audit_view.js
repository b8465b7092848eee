// Draws the auditor's view charts from the JSON block #chart-data (built by community_dw.audit_view.render).
// Data arrives as JSON, never as markup: nothing here writes HTML.
(function () {
  "use strict";
  function draw() {
    var block = document.getElementById("chart-data");
    if (!block || typeof Plotly === "undefined") { return; }
    var specs = JSON.parse(block.textContent);
    specs.forEach(function (spec) {
      var target = document.getElementById(spec.id);
      if (!target) { return; }
      var layout = Object.assign(
        { title: { text: spec.title, font: { size: 14 } }, height: 300, margin: { t: 40, r: 10, b: 60, l: 60 },
          legend: { orientation: "h" } },
        spec.layout
      );
      Plotly.newPlot(target, spec.data, layout, { displaylogo: false, responsive: true, staticPlot: false })
        .then(function () { target.setAttribute("data-rendered", "true"); });
    });
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
