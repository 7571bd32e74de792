// The run page's live log tail: follows the current job's Server-Sent Events (resuming by Last-Event-ID, which
// EventSource sends itself on reconnect), marks stage changes, and moves on to the next job when one starts.
(function () {
  "use strict";
  var log = document.getElementById("log");
  if (!log) { return; }
  var job = log.dataset.job, source = null;
  function line(text, cls) {
    var span = document.createElement("span");  // textContent: agent output is untrusted, never HTML
    span.textContent = text + "\n";
    if (cls) { span.className = cls; }
    log.appendChild(span);
    log.scrollTop = log.scrollHeight;
  }
  function follow(id) {
    if (source) { source.close(); }
    job = id;
    line("── job " + id + " ──", "stage");
    source = new EventSource("/api/jobs/" + encodeURIComponent(id) + "/logs/stream");
    source.addEventListener("stage", function (e) { var s = JSON.parse(e.data); line("▶ stage " + s.to, "stage"); });
    source.addEventListener("log", function (e) { var l = JSON.parse(e.data); line("[" + (l.stage || "-") + "] " + l.message); });
    source.addEventListener("end", function (e) { line("■ job " + JSON.parse(e.data).status, "stage"); source.close(); source = null; });
  }
  function poll() {  // a new job (the next phase, a retry) takes over the tail
    fetch(log.dataset.current, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (d) {
      if (d.job_id && d.job_id !== job) { follow(d.job_id); }
      if (d.status) { var s = document.getElementById("run-status"); if (s) { s.textContent = d.status; } }
    }).catch(function () {});
  }
  if (job) { follow(job); }
  setInterval(poll, 2000);
})();
