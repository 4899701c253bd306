// triage web page: the live queue. Polls /ui/queue.json about once a second and redraws the
// queue table with DOM calls only (textContent, never innerHTML: URLs and titles come from
// hostile pages). Without JavaScript the page still works through its refresh link.
(function () {
  "use strict";
  var table = document.getElementById("queue");
  if (!table) { return; }
  var src = table.getAttribute("data-src");
  var body = table.querySelector("tbody");
  var stamp = document.getElementById("queue-updated");
  var version = table.getAttribute("data-version") || "";
  var busy = false;

  function cell(row, text, cls) {
    var td = document.createElement("td");
    if (cls) { td.className = cls; }
    td.textContent = text == null ? "" : String(text);
    row.appendChild(td);
    return td;
  }

  function draw(cases) {
    var rows = document.createDocumentFragment();
    cases.forEach(function (c) {
      var tr = document.createElement("tr");
      tr.setAttribute("data-case-id", c.case_id);
      tr.setAttribute("data-status", c.status);
      var td = document.createElement("td");
      var a = document.createElement("a");
      a.href = "/ui/cases/" + encodeURIComponent(c.case_id);
      a.textContent = c.case_id;
      a.className = "case-link";
      td.appendChild(a);
      tr.appendChild(td);
      cell(tr, c.canonical_url, "url");
      var st = cell(tr, "", "");
      var badge = document.createElement("span");
      badge.className = "badge st-" + (/^[a-z]+$/.test(c.status) ? c.status : "other");
      badge.setAttribute("data-status", c.status);
      badge.textContent = c.status;
      st.appendChild(badge);
      cell(tr, c.language || "", "");
      cell(tr, (c.categories || []).join(", "), "");
      cell(tr, (c.jurisdictions || []).join(", "), "");
      cell(tr, c.referrals, "num");
      cell(tr, c.updated_at, "time");
      rows.appendChild(tr);
    });
    while (body.firstChild) { body.removeChild(body.firstChild); }
    body.appendChild(rows);
    if (cases.length === 0) {
      var tr = document.createElement("tr");
      var td = cell(tr, "Nothing referred yet.", "muted");
      td.colSpan = 8;
      body.appendChild(tr);
    }
  }

  function poll() {
    if (busy) { return; }
    busy = true;
    fetch(src + "?v=" + encodeURIComponent(version), {
      credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (r) {
      if (r.status === 401) { window.location.assign("/ui/login"); return null; }
      if (!r.ok) { throw new Error("HTTP " + r.status); }
      return r.json();
    }).then(function (j) {
      if (!j) { return; }
      if (!j.unchanged) {
        version = j.version;
        draw(j.cases);
      }
      if (stamp) { stamp.textContent = "live, checked " + new Date().toLocaleTimeString(); }
      table.setAttribute("data-live", "1");
    }).catch(function (e) {
      if (stamp) { stamp.textContent = "live update paused: " + e.message; }
    }).then(function () { busy = false; });
  }

  poll();
  window.setInterval(poll, 1000);
})();
