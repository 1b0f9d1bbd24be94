/* The progress bar of a replay running in the background (the filter page, ?replay=<job>).
   Polls the job's JSON (section#replay-job[data-status]) and updates <progress id="replay-progress">
   and its text; when the job is over, reloads the page, which then shows the report.
   Loaded as a file: the site's Content-Security-Policy allows no inline script. */
(function () {
  "use strict";
  var box = document.getElementById("replay-job");
  if (!box || box.getAttribute("data-state") !== "running" || !window.fetch) { return; }
  var url = box.getAttribute("data-status");
  var bar = document.getElementById("replay-progress");
  var text = document.getElementById("replay-progress-text");
  var every = 1000;  // ms between polls; longer after a failed poll
  var failures = 0;

  function show(job) {
    bar.max = Math.max(job.alerts_total, 1);
    bar.value = job.alerts_done;
    bar.textContent = job.alerts_done + " of " + job.alerts_total + " alerts";
    text.textContent = job.text;
    box.setAttribute("data-alerts-done", String(job.alerts_done));
  }

  function poll() {
    fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin",
                 cache: "no-store" })
      .then(function (response) {
        if (response.status === 404 || response.status === 401) {
          return response.json().then(function (body) {
            box.setAttribute("data-state", "gone");
            text.textContent = body.error || "This replay is no longer known here.";
            return null;
          });
        }
        if (!response.ok) { throw new Error("HTTP " + response.status); }
        return response.json();
      })
      .then(function (job) {
        if (job === null) { return; }
        failures = 0;
        show(job);
        if (job.state === "running") {
          window.setTimeout(poll, every);
        } else {
          box.setAttribute("data-state", job.state);
          window.location.reload();
        }
      })
      .catch(function () {
        failures += 1;
        window.setTimeout(poll, Math.min(every * Math.pow(2, failures), 30000));
      });
  }

  window.setTimeout(poll, every);
})();
