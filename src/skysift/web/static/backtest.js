/* Draws the records per night of a backtest or replay with the bundled Plotly (static/vendor).
   Input: the JSON in <script id="bt-data">: {nights: [...], records: [...], alerts: [...]}. */
(function () {
  "use strict";
  var holder = document.getElementById("backtest-chart");
  var source = document.getElementById("bt-data");
  if (!holder || !source || typeof Plotly === "undefined") { return; }
  var data = JSON.parse(source.textContent);
  var trace = {
    type: "bar", x: data.nights, y: data.records, customdata: data.alerts,
    marker: { color: "#2f6fb3" }, name: "records",
    hovertemplate: "night %{x}<br>%{y} records of %{customdata} alerts<extra></extra>"
  };
  var layout = {
    margin: { l: 60, r: 20, t: 20, b: 60 },
    xaxis: { title: { text: "night (dayObs)" }, type: "category" },
    yaxis: { title: { text: "records" }, rangemode: "tozero", gridcolor: "#eceff3" },
    bargap: 0.3, plot_bgcolor: "#ffffff", paper_bgcolor: "#ffffff",
    font: { family: "system-ui, sans-serif", size: 13 }
  };
  var config = { responsive: true, displaylogo: false };
  Plotly.newPlot(holder, [trace], layout, config).then(function () {
    holder.setAttribute("data-rendered", String(data.nights.length));
  });
})();
