/* Draws the light curve of an object page with the bundled Plotly (static/vendor).
   Input: the JSON in <script id="lc-data">: {bands: [...], series: [{band, kind, colour, mjd,
   flux, err}]}. Detections are filled circles, forced photometry open circles; one colour per band. */
(function () {
  "use strict";
  var holder = document.getElementById("lightcurve");
  var source = document.getElementById("lc-data");
  if (!holder || !source || typeof Plotly === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  if (!data.series.length) {
    holder.textContent = "No photometry stored for this object.";
    holder.className += " empty";
    return;
  }
  var traces = data.series.map(function (s) {
    var forced = s.kind === "forced";
    return {
      type: "scatter", mode: "markers",
      name: s.band + (forced ? " forced" : ""),
      legendgroup: s.band,
      x: s.mjd, y: s.flux, customdata: s.err,
      error_y: { type: "data", array: s.err, visible: true, thickness: forced ? 1 : 1.5,
                 width: forced ? 0 : 3, color: s.colour },
      marker: { color: s.colour, size: forced ? 6 : 8,
                symbol: forced ? "circle-open" : "circle",
                line: { width: forced ? 1.5 : 0.5, color: forced ? s.colour : "#fff" } },
      opacity: forced ? 0.75 : 1,
      hovertemplate: "MJD %{x:.5f}<br>flux %{y:.1f} ± %{customdata:.1f} nJy<br>" +
                     s.band + " band, " + (forced ? "forced photometry" : "detection") +
                     "<extra></extra>"
    };
  });
  var layout = {
    margin: { l: 70, r: 20, t: 20, b: 50 },
    xaxis: { title: { text: "MJD (TAI)" }, zeroline: false, gridcolor: "#eceff3",
             tickformat: ".1f", hoverformat: ".4f" },
    yaxis: { title: { text: "PSF flux (nJy)" }, zeroline: true, zerolinecolor: "#c9d1da",
             gridcolor: "#eceff3" },
    legend: { orientation: "h", y: 1.08, x: 0 },
    hovermode: "closest", dragmode: "zoom",
    plot_bgcolor: "#ffffff", paper_bgcolor: "#ffffff",
    font: { family: "system-ui, sans-serif", size: 13 }
  };
  Plotly.newPlot(holder, traces, layout,
                 { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"] })
    .then(function () { holder.setAttribute("data-rendered", String(traces.length)); });
})();
