/// The dashboard's only script, served as /console.js (the Content-Security-Policy allows `script-src 'self'`
/// and nothing inline): it refreshes counts and job states without a reload, reading the same JSON API as
/// programs do. Pages work without it; it only keeps them current.
///
/// - `[data-queue][data-state]`: a queue's count of jobs in a state (`/api/queues`, every 3 s, or five times
///   as long as the last round took);
/// - `[data-job]`: a job's shown state while it is not final (`/api/jobs/ID`, at most 30 per round); on a
///   job's page a job that became done gets its image shown in `#live-image`.
enum LiveScript {
    static let source = #"""
        "use strict";
        (function () {
          var FINAL = { done: 1, failed: 1, cancelled: 1 };
          function get(url) {
            return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
              .then(function (r) { if (!r.ok) throw new Error(r.status); return r.json(); });
          }
          function setText(el, text) {
            var a = el.querySelector("a");
            (a || el).textContent = text;
          }
          function counts() {
            var cells = document.querySelectorAll("[data-queue][data-state]");
            if (!cells.length) return Promise.resolve();
            return get("/api/queues").then(function (queues) {
              var by = {};
              queues.forEach(function (q) { by[q.name] = q.counts || {}; });
              cells.forEach(function (c) {
                var q = by[c.getAttribute("data-queue")];
                if (q) setText(c, String(q[c.getAttribute("data-state")] || 0));
              });
            });
          }
          function jobs() {
            var els = Array.prototype.filter.call(document.querySelectorAll("[data-job]"),
              function (el) { return !FINAL[el.textContent.trim()]; }).slice(0, 30);
            return Promise.all(els.map(function (el) {
              var id = el.getAttribute("data-job");
              return get("/api/jobs/" + encodeURIComponent(id)).then(function (j) {
                if (j.state === el.textContent.trim()) return;
                el.textContent = j.state;
                el.setAttribute("data-live", "updated");
                var slot = document.getElementById("live-image");
                if (j.state === "done" && slot && !slot.firstChild) {
                  var img = document.createElement("img");
                  img.className = "pix"; img.width = 256; img.alt = "the job's image"; img.id = "image";
                  img.src = "/jobs/" + encodeURIComponent(id) + "/image.png";
                  slot.appendChild(img);
                }
              });
            }));
          }
          // Every 3 s, or five times as long as the last round took: on a large store the counts cost the
          // database most of a second, and open pages must not keep it busy.
          function round() {
            if (document.hidden) return schedule(0);
            var started = Date.now();
            Promise.all([counts(), jobs()]).catch(function () {}).then(function () { schedule(Date.now() - started); });
          }
          function schedule(took) { setTimeout(round, Math.max(3000, 5 * took)); }
          schedule(0);
        })();
        """#
}
