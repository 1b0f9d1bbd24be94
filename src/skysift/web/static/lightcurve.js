/* Draws the light curve of an object page with the bundled Plotly (static/vendor).
   Input: the JSON in <script id="lc-data">: {bands: [...], series: [{band, kind, colour, mjd,
   flux, err, mag, mag_err}]}. Detections are filled circles, forced photometry open circles; one
   colour per band. The buttons in #lc-mode switch between flux (nJy) and AB magnitude (points
   whose flux is not positive have no magnitude and are left out of that view). */
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
  function traces(mode) {
    return data.series.map(function (s) {
      var forced = s.kind === "forced";
      var x = [], y = [], e = [];
      for (var i = 0; i < s.mjd.length; i++) {
        var v = mode === "mag" ? s.mag[i] : s.flux[i];
        if (v === null || v === undefined) { continue; }
        x.push(s.mjd[i]); y.push(v);
        e.push(mode === "mag" ? s.mag_err[i] : s.err[i]);
      }
      var unit = mode === "mag" ? "mag" : "nJy";
      return {
        type: "scatter", mode: "markers",
        name: s.band + (forced ? " forced" : ""),
        legendgroup: s.band,
        x: x, y: y, customdata: e,
        error_y: { type: "data", array: e, visible: true, thickness: forced ? 1 : 1.5,
                   width: forced ? 0 : 3, color: s.colour },
        marker: { color: s.colour, size: forced ? 6 : 8,
                  symbol: forced ? "circle-open" : "circle",
                  line: { width: forced ? 1.5 : 0.5, color: forced ? s.colour : "#fff" } },
        opacity: forced ? 0.75 : 1,
        hovertemplate: "MJD %{x:.5f}<br>" + (mode === "mag" ? "%{y:.3f} ± %{customdata:.3f} mag"
                                                            : "flux %{y:.1f} ± %{customdata:.1f} nJy") +
                       "<br>" + s.band + " band, " + (forced ? "forced photometry" : "detection") +
                       "<extra></extra>",
        meta: unit
      };
    });
  }
  function layout(mode) {
    return {
      margin: { l: 70, r: 20, t: 20, b: 50 },
      xaxis: { title: { text: "MJD (TAI)" }, zeroline: false, gridcolor: "#eceff3",
               tickformat: ".1f", hoverformat: ".4f" },
      yaxis: mode === "mag"
        ? { title: { text: "AB magnitude" }, autorange: "reversed", gridcolor: "#eceff3" }
        : { title: { text: "PSF flux (nJy)" }, zeroline: true, zerolinecolor: "#c9d1da",
            gridcolor: "#eceff3" },
      legend: { orientation: "h", y: 1.08, x: 0 },
      hovermode: "closest", dragmode: "zoom",
      plot_bgcolor: "#ffffff", paper_bgcolor: "#ffffff",
      font: { family: "system-ui, sans-serif", size: 13 }
    };
  }
  var config = { responsive: true, displaylogo: false, modeBarButtonsToRemove: ["lasso2d", "select2d"] };
  function draw(mode) {
    var t = traces(mode);
    return Plotly.react(holder, t, layout(mode), config).then(function () {
      holder.setAttribute("data-rendered", String(t.length));
      holder.setAttribute("data-mode", mode);
    });
  }
  var buttons = document.querySelectorAll("#lc-mode button");
  Array.prototype.forEach.call(buttons, function (b) {
    b.addEventListener("click", function () {
      Array.prototype.forEach.call(buttons, function (o) {
        o.setAttribute("aria-pressed", String(o === b));
      });
      draw(b.getAttribute("data-mode"));
    });
  });
  draw("flux");
})();
