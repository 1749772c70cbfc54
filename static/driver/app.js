/* DropMate driver app: offline queue (IndexedDB), location sharing, signature pad, service
 * worker registration. Plain JavaScript, no build step. The server pages work without it;
 * this adds what a phone on a patchy connection needs.
 *
 * Every update the driver makes offline, and every location fix that cannot go over the
 * socket, becomes a queue item {client_id, device_time, seq, type, ...}. Items are sent in
 * order to POST /api/v1/drivers/me/updates, which applies each client_id at most once, so
 * sending again after a lost response is always safe. Conflicts come back per item and are
 * shown until the driver dismisses them. */
(function () {
  "use strict";

  var body = document.body;
  var cfg = {
    updatesUrl: body.dataset.updatesUrl,
    swUrl: body.dataset.swUrl,
    scope: body.dataset.scope || "/driver/",
    fixInterval: Number(body.dataset.fixInterval || 10),
    fixDistance: Number(body.dataset.fixDistance || 50),
  };
  var csrfMeta = document.querySelector('meta[name="csrf-token"]');
  var DB_NAME = "dropmate-driver";
  var STORE = "queue";
  var MAX_BATCH = 200;

  function $(id) { return document.getElementById(id); }

  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 256).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  function nextSeq() {
    var n = Number(localStorage.getItem("dm-seq") || "0") + 1;
    localStorage.setItem("dm-seq", String(n));
    return n;
  }

  function csrfToken() {
    var m = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return m ? decodeURIComponent(m[1]) : (csrfMeta ? csrfMeta.content : "");
  }

  // --- IndexedDB queue ---------------------------------------------------------------------
  var dbPromise = null;
  function db() {
    if (!dbPromise) {
      dbPromise = new Promise(function (resolve, reject) {
        var req = indexedDB.open(DB_NAME, 1);
        req.onupgradeneeded = function () {
          var store = req.result.createObjectStore(STORE, { keyPath: "client_id" });
          store.createIndex("seq", "seq");
        };
        req.onsuccess = function () { resolve(req.result); };
        req.onerror = function () { reject(req.error); };
      });
    }
    return dbPromise;
  }

  function withStore(mode, fn) {
    return db().then(function (d) {
      return new Promise(function (resolve, reject) {
        var tx = d.transaction(STORE, mode);
        var result = fn(tx.objectStore(STORE));
        tx.oncomplete = function () { resolve(result && result.result !== undefined ? result.result : result); };
        tx.onerror = function () { reject(tx.error); };
        tx.onabort = function () { reject(tx.error); };
      });
    });
  }

  function queueAdd(item) { return withStore("readwrite", function (s) { s.put(item); }); }
  function queueAll() {
    return withStore("readonly", function (s) { return s.index("seq").getAll(); });
  }
  function queueDelete(ids) {
    return withStore("readwrite", function (s) { ids.forEach(function (id) { s.delete(id); }); });
  }

  // --- what the driver sees ----------------------------------------------------------------
  function flash(text, kind) {
    var box = $("flash");
    if (!box) return;
    var p = document.createElement("p");
    p.className = "message message-" + (kind || "info");
    if (kind === "error") p.setAttribute("role", "alert");
    p.textContent = text;
    box.appendChild(p);
  }

  function setNet() {
    var online = navigator.onLine;
    body.classList.toggle("offline", !online);
    var el = $("net-state");
    if (el) el.textContent = online ? "Online" : "Offline — changes are kept on this phone";
  }

  // --- a copy kept on the phone ----------------------------------------------------------
  // The service worker marks a page it answered from storage (data-copy="offline"); the page
  // says so, and from when, until a fresh one replaces it.
  function isCopy() { return body.dataset.copy === "offline"; }

  function renderedAt() { return new Date(Number(body.dataset.renderedAt || 0) * 1000); }

  function asOf(when) {
    var time = when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", hour12: false });
    if (when.toDateString() === new Date().toDateString()) return time;
    return when.toLocaleDateString([], { weekday: "short", day: "numeric", month: "short" }) + ", " + time;
  }

  function showCopy() {
    var el = $("offline-copy");
    if (!el) return;
    el.hidden = !isCopy();
    if (!isCopy()) return;
    var what = body.dataset.copyOf || "this page";
    el.textContent = (navigator.onLine && !jobList() ? "Back online — showing " : "Offline — showing ") +
      what + " as of " + asOf(renderedAt());
    el.dataset.asOf = renderedAt().toISOString();
    if (navigator.onLine && !jobList()) {
      // Never a reload by itself: the driver may be filling in a form.
      var a = document.createElement("a");
      a.href = location.href;
      a.className = "button button-secondary";
      a.textContent = "Reload";
      el.appendChild(document.createTextNode(". "));
      el.appendChild(a);
    }
  }

  // The job list is fresh again (fetched from the server): no longer a copy.
  function copyReplaced() {
    if (!isCopy()) return;
    body.dataset.copy = "live";
    body.dataset.renderedAt = String(Date.now() / 1000);
    copyDelay = 2000;
    showCopy();
  }

  // Back online (or online but the server was slow): fetch the list until one arrives; the
  // first tries after a reconnect often fail.
  var copyRetry = null;
  var copyDelay = 2000;
  function backOnline() {
    clearTimeout(copyRetry);
    if (!isCopy()) return;
    if (!jobList()) { showCopy(); return; }
    refreshJobList({});
    copyRetry = setTimeout(function () {
      copyDelay = Math.min(copyDelay * 2, 30000);
      if (navigator.onLine) backOnline();
    }, copyDelay);
  }

  // Log out: the pages kept on this phone are deleted first, so whoever logs in next never
  // sees this driver's jobs, not even offline.
  function forgetCopies() {
    var jobs = [];
    var worker = navigator.serviceWorker && navigator.serviceWorker.controller;
    if (worker) {
      jobs.push(new Promise(function (resolve) {
        var channel = new MessageChannel();
        channel.port1.onmessage = function () { resolve(); };
        worker.postMessage({ type: "forget" }, [channel.port2]);
      }));
    }
    if (window.caches) {
      jobs.push(caches.keys().then(function (keys) {
        return Promise.all(keys.filter(function (k) { return k.indexOf("dropmate-driver-pages-") === 0; })
          .map(function (k) { return caches.delete(k); }));
      }));
    }
    localStorage.removeItem("dm-problems");
    var deadline = new Promise(function (resolve) { setTimeout(resolve, 3000); });
    return Promise.race([Promise.all(jobs).catch(function () {}), deadline]);
  }

  // Changes still waiting on this phone belong to this driver: logging out asks first, and
  // deletes them when the driver confirms, so the next driver never sends them as their own.
  function watchLogout() {
    var form = document.querySelector("form[data-logout]");
    if (!form) return;
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      queueAll().catch(function () { return []; }).then(function (items) {
        if (items.length) {
          var n = items.length;
          var ask = n + (n === 1 ? " change is" : " changes are") + " saved on this phone and not sent yet" +
            (navigator.onLine ? "" : " (you are offline)") + ". Logging out deletes " +
            (n === 1 ? "it" : "them") + ". Log out anyway?";
          if (!window.confirm(ask)) return;
        }
        form.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
        var cleared = items.length
          ? queueDelete(items.map(function (i) { return i.client_id; })).catch(function () {})
          : Promise.resolve();
        cleared.then(forgetCopies).then(function () { form.submit(); });
      });
    });
  }

  // Store this page and today's job pages, so they open offline.
  function warmCache(withThisPage) {
    if (!navigator.onLine) return;
    var urls = [];
    if (withThisPage && !isCopy()) urls.push(location.href);
    document.querySelectorAll("a.job-link").forEach(function (a) { urls.push(a.href); });
    urls.forEach(function (u) { fetch(u, { credentials: "same-origin" }).catch(function () {}); });
  }

  function setSharing(text) { var el = $("sharing-state"); if (el) el.textContent = text; }

  function setLastFix(when) {
    var el = $("last-fix");
    if (!el) return;
    el.textContent = when.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false });
    el.dataset.at = when.toISOString();
  }

  function problems() {
    try { return JSON.parse(localStorage.getItem("dm-problems") || "[]"); } catch (e) { return []; }
  }
  function saveProblems(list) { localStorage.setItem("dm-problems", JSON.stringify(list)); renderProblems(); }
  function addProblem(text) {
    var list = problems();
    list.push({ id: uuid(), text: text, at: new Date().toISOString() });
    saveProblems(list);
  }
  function renderProblems() {
    var box = $("problems");
    if (!box) return;
    box.textContent = "";
    problems().forEach(function (p) {
      var div = document.createElement("div");
      div.className = "problem";
      var span = document.createElement("span");
      span.textContent = p.text;
      var btn = document.createElement("button");
      btn.type = "button";
      btn.className = "button button-secondary";
      btn.textContent = "OK";
      btn.setAttribute("aria-label", "Dismiss: " + p.text);
      btn.addEventListener("click", function () {
        saveProblems(problems().filter(function (q) { return q.id !== p.id; }));
      });
      div.appendChild(span);
      div.appendChild(btn);
      box.appendChild(div);
    });
  }

  var LABELS = {
    picked_up: "Picked up", in_transit: "In transit", out_for_delivery: "Out for delivery",
    delivered: "Delivered", failed_attempt: "Failed attempt", returned: "Returned",
  };

  function describe(item) {
    var what = item.type === "status" ? (LABELS[item.to] || item.to)
      : item.type === "deliver" ? "Delivered"
      : item.type === "accept" ? "Accept" : item.type === "decline" ? "Decline"
      : item.type === "duty" ? (item.on_duty ? "On duty" : "Off duty") : item.type;
    return (item.shipment ? item.shipment + " — " : "") + what;
  }

  function refreshPending() {
    return queueAll().then(function (items) {
      var el = $("pending-count");
      if (el) el.textContent = String(items.length);
      body.dataset.pending = String(items.length);
      markPendingJobs(items);
      return items;
    }).catch(function () {});
  }

  // Show queued changes on the job cards and the job page, so a page loaded from the cache
  // does not pretend nothing happened.
  function markPendingJobs(items) {
    var latest = {};
    items.forEach(function (it) { if (it.shipment && it.type !== "fix") latest[it.shipment] = it; });
    document.querySelectorAll("[data-tracking]").forEach(function (el) {
      var it = latest[el.dataset.tracking];
      var pill = el.querySelector("[data-status]");
      if (it && pill) {
        pill.textContent = describe(it).split(" — ").pop() + " (waiting to sync)";
        pill.classList.add("pill-pending");
      }
    });
    var note = $("pending-note");
    var head = document.querySelector(".job-head");
    if (note && head) {
      var it = latest[head.dataset.tracking];
      note.hidden = !it;
      if (it) {
        note.textContent = "Saved on this phone: " + describe(it) + ". It is sent when you are back online.";
        document.querySelectorAll(".moves, .deliver, .offer, .failed").forEach(function (s) { s.hidden = true; });
      }
    }
  }

  // --- sending the queue -------------------------------------------------------------------
  function blobToDataUrl(blob) {
    return new Promise(function (resolve, reject) {
      var r = new FileReader();
      r.onload = function () { resolve(r.result); };
      r.onerror = function () { reject(r.error); };
      r.readAsDataURL(blob);
    });
  }

  function toWire(item) {
    var out = Object.assign({}, item);
    var jobs = [];
    ["photo", "signature"].forEach(function (k) {
      if (out[k] instanceof Blob) {
        jobs.push(blobToDataUrl(out[k]).then(function (u) { out[k] = u; }));
      }
    });
    return Promise.all(jobs).then(function () { return out; });
  }

  function nextBatch(items) {
    // Files travel alone; everything else in batches.
    if (items[0].photo || items[0].signature) return [items[0]];
    var batch = [];
    for (var i = 0; i < items.length && batch.length < MAX_BATCH; i++) {
      if (items[i].photo || items[i].signature) break;
      batch.push(items[i]);
    }
    return batch;
  }

  var flushing = false;
  var flushAgain = false;
  var flushTimer = null;

  function scheduleFlush(delay) {
    clearTimeout(flushTimer);
    flushTimer = setTimeout(flush, delay || 0);
  }

  function flush() {
    if (!navigator.onLine) { refreshPending(); return Promise.resolve(); }
    if (flushing) { flushAgain = true; return Promise.resolve(); }
    flushing = true;
    var appliedJobs = 0;

    function round() {
      return queueAll().then(function (items) {
        if (!items.length) return null;
        var batch = nextBatch(items);
        return Promise.all(batch.map(toWire)).then(function (wire) {
          return fetch(cfg.updatesUrl, {
            method: "POST",
            credentials: "same-origin",
            headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
            body: JSON.stringify({ items: wire }),
          });
        }).then(function (resp) {
          if (resp.status === 401 || resp.status === 403) {
            addProblem("You were logged out: log in again to send " + items.length + " saved change(s).");
            return null;
          }
          if (!resp.ok) return null; // the server had a problem: try again later
          return resp.json().then(function (data) {
            var done = [];
            var retry = false;
            data.results.forEach(function (r, i) {
              var item = batch[i];
              if (r.status === "retry") { retry = true; return; }
              done.push(item.client_id);
              if (item.type === "fix") { body.dataset.transport = "http"; fixResult(r); return; }
              if (r.error) addProblem(describe(item) + ": " + r.error.message);
              else appliedJobs += 1;
            });
            return queueDelete(done).then(function () { return retry ? null : round(); });
          });
        });
      });
    }

    return round().catch(function () { /* offline again: keep everything */ })
      .then(function () {
        flushing = false;
        return refreshPending();
      }).then(function () {
        if (appliedJobs) {
          sessionStorage.setItem("dm-flash", "Synced " + appliedJobs + " saved change" + (appliedJobs > 1 ? "s" : "") + ".");
          location.reload();
        } else if (flushAgain) {
          flushAgain = false;
          scheduleFlush(500);
        }
      });
  }

  // --- forms: offline capture --------------------------------------------------------------
  var pad = null;

  function signaturePad(canvas) {
    var ctx = canvas.getContext("2d");
    var drawing = false;
    var signed = false;
    ctx.lineWidth = 3;
    ctx.lineCap = "round";
    ctx.strokeStyle = "#111";
    function point(e) {
      var r = canvas.getBoundingClientRect();
      return [(e.clientX - r.left) * canvas.width / r.width, (e.clientY - r.top) * canvas.height / r.height];
    }
    canvas.addEventListener("pointerdown", function (e) {
      drawing = true;
      canvas.setPointerCapture(e.pointerId);
      var p = point(e);
      ctx.beginPath();
      ctx.moveTo(p[0], p[1]);
    });
    canvas.addEventListener("pointermove", function (e) {
      if (!drawing) return;
      var p = point(e);
      ctx.lineTo(p[0], p[1]);
      ctx.stroke();
      signed = true;
    });
    ["pointerup", "pointercancel", "pointerleave"].forEach(function (t) {
      canvas.addEventListener(t, function () { drawing = false; });
    });
    return {
      signed: function () { return signed; },
      clear: function () { ctx.clearRect(0, 0, canvas.width, canvas.height); signed = false; },
      dataUrl: function () { return canvas.toDataURL("image/png"); },
    };
  }

  function itemFromForm(form) {
    var kind = form.dataset.offline;
    var fd = new FormData(form);
    var item = {
      client_id: uuid(),
      device_time: new Date().toISOString(),
      seq: nextSeq(),
      type: kind,
    };
    if (form.dataset.tracking) item.shipment = form.dataset.tracking;
    if (lastCoords) { item.lat = lastCoords.latitude; item.lng = lastCoords.longitude; }
    if (kind === "duty") item.on_duty = fd.get("on_duty") === "1";
    if (kind === "status") {
      item.to = fd.get("to");
      item.reason = fd.get("reason") || "";
      item.note = fd.get("note") || "";
      if (item.to === "failed_attempt" && !item.reason) return { error: "Choose why the delivery failed." };
      if (item.reason === "other" && !item.note.trim()) return { error: "Describe what happened." };
    }
    if (kind === "decline") {
      item.reason = fd.get("reason") || "";
      item.note = fd.get("note") || "";
      if (!item.reason) return { error: "Choose why you decline this job." };
      if (item.reason === "other" && !item.note.trim()) return { error: "Say why you decline this job." };
    }
    if (kind === "deliver") {
      var photo = fd.get("photo");
      if (photo && photo.size) item.photo = photo;
      if (pad && pad.signed()) item.signature = pad.dataUrl();
      item.recipient_name = fd.get("recipient_name") || "";
      item.pin = fd.get("pin") || "";
    }
    return { item: item };
  }

  document.addEventListener("submit", function (ev) {
    var form = ev.target;
    var kind = form.dataset.offline;
    if (!kind) return;
    if (kind === "deliver" && pad && pad.signed()) {
      form.querySelector('[name="signature_data"]').value = pad.dataUrl();
    }
    if (navigator.onLine) return; // the normal page flow
    ev.preventDefault();
    var built = itemFromForm(form);
    if (built.error) { flash(built.error, "error"); return; }
    queueAdd(built.item).then(function () {
      flash("Saved on this phone: " + describe(built.item) + ". It will be sent when you are back online.", "info");
      if (kind === "duty") {
        setDuty(built.item.on_duty);
        var hidden = form.querySelector('[name="on_duty"]');
        var button = form.querySelector("button");
        hidden.value = built.item.on_duty ? "0" : "1";
        button.textContent = built.item.on_duty ? "Go off duty" : "Go on duty";
      }
      return refreshPending();
    }).catch(function (e) {
      flash("Could not save on this phone: " + e, "error");
    });
  });

  // --- location ----------------------------------------------------------------------------
  var watchId = null;
  var heartbeat = null;
  var lastCoords = null;
  // Kept across page loads, so moving between pages does not send extra fixes.
  var lastSent = (function () {
    try { return JSON.parse(sessionStorage.getItem("dm-last-sent") || "null"); } catch (e) { return null; }
  })();
  var socket = null;
  var socketDelay = 1000;
  var awaitingAck = {};

  function metres(a, b) {
    var R = 6371000, rad = Math.PI / 180;
    var dLat = (b.latitude - a.latitude) * rad, dLng = (b.longitude - a.longitude) * rad;
    var h = Math.sin(dLat / 2) * Math.sin(dLat / 2) +
      Math.cos(a.latitude * rad) * Math.cos(b.latitude * rad) * Math.sin(dLng / 2) * Math.sin(dLng / 2);
    return 2 * R * Math.asin(Math.min(1, Math.sqrt(h)));
  }

  function fixResult(r) {
    if (r.status === "accepted" || r.status === "duplicate" || r.status === "flagged") {
      setLastFix(new Date());
      setSharing(r.status === "flagged" ? "on (last position looked implausible)" : "on");
    } else if (r.error) {
      setSharing("on — not accepted: " + r.error.message);
    }
  }

  function connectSocket() {
    if (!sharing() || !("WebSocket" in window) || !navigator.onLine) return;
    if (socket && socket.readyState <= 1) return;
    var url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/ws/driver/";
    try { socket = new WebSocket(url); } catch (e) { socket = null; return; }
    var opened = socket;
    socket.onopen = function () {
      socketDelay = 1000;
      body.dataset.socket = "open";
      // Catch up on what changed while there was no socket: the server answers with a
      // driver_snapshot of the open jobs, compared with the list on the page.
      if (jobList()) opened.send(JSON.stringify({ type: "subscribe", data: {} }));
    };
    socket.onmessage = function (ev) {
      var msg;
      try { msg = JSON.parse(ev.data); } catch (e) { return; }
      if (msg.type === "ping") {
        socket.send(JSON.stringify({ type: "pong", data: {} }));
        return;
      }
      if ((msg.type === "shipment_assigned" || msg.type === "shipment_updated") && msg.data) {
        jobChanged(msg.data);
        return;
      }
      if (msg.type === "route_planned") {
        if (jobList()) refreshJobList({ order: true });
        return;
      }
      if (msg.type === "driver_snapshot" && msg.data) {
        snapshotArrived(msg.data.jobs || []);
        return;
      }
      if (msg.type === "fix_ack" && msg.data) {
        delete awaitingAck[msg.data.client_id];
        body.dataset.transport = "socket";
        fixResult({ status: msg.data.status, error: msg.data.error ? { message: String(msg.data.error.message || msg.data.error) } : null });
      }
    };
    socket.onclose = function () {
      socket = null;
      body.dataset.socket = "closed";
      if (!sharing()) return;
      socketDelay = Math.min(socketDelay * 2, 60000);
      setTimeout(connectSocket, socketDelay);
    };
  }

  // Dispatch assigned, reassigned or cancelled a job while the app is open. On the job list
  // the list is fetched again and the change announced; elsewhere a note offers a reload
  // (never a reload by itself: the driver may be filling in a form).
  var announced = {};
  function jobChanged(data) {
    if (jobList()) {
      refreshJobList({ tracking: data.tracking_number });
      return;
    }
    var key = data.tracking_number + ":" + data.version;
    if (announced[key]) return;
    announced[key] = true;
    var box = $("flash");
    if (!box) return;
    var p = document.createElement("p");
    p.className = "message message-info";
    p.textContent = "Job " + data.tracking_number + " changed: " + (data.status_label || data.status) + ". ";
    var a = document.createElement("a");
    a.href = location.href;
    a.className = "button button-secondary";
    a.textContent = "Refresh";
    p.appendChild(a);
    box.appendChild(p);
  }

  // --- the job list, live -------------------------------------------------------------------
  // Only the list is swapped (GET <home>?fragment=jobs), never the duty form above it. Frames
  // that arrive while a fetch is under way are folded into one more fetch.
  var listFetch = null;
  var listAgain = false;
  var listChanges = [];

  function jobList() { return $("job-list"); }

  function shownJobs() {
    var out = {};
    document.querySelectorAll("#job-list li[data-tracking]").forEach(function (li) {
      var pill = li.querySelector("[data-status]");
      var where = li.querySelector(".job-where");
      out[li.dataset.tracking] = {
        el: li,
        version: li.dataset.version,
        open: li.hasAttribute("data-open"),
        status: pill ? pill.dataset.status : "",
        label: pill ? pill.textContent.trim() : "",
        where: where ? where.textContent.trim().replace(/\s+/g, " ") : "",
      };
    });
    return out;
  }

  function refreshJobList(change) {
    if (change) listChanges.push(change);
    if (listFetch) { listAgain = true; return; }
    var box = jobList();
    if (!box || !navigator.onLine) return;
    var before = shownJobs();
    var order = jobOrder();
    var changes = listChanges;
    listChanges = [];
    listFetch = fetch(box.dataset.src, { credentials: "same-origin" }).then(function (resp) {
      if (!resp.ok || resp.redirected) throw new Error("job list: HTTP " + resp.status);
      return resp.text();
    }).then(function (html) {
      var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("job-list");
      if (!fresh) throw new Error("job list: not in the answer"); // e.g. the offline page
      var current = jobList();
      var focused = current.contains(document.activeElement) && document.activeElement.getAttribute("href");
      current.replaceWith(document.adoptNode(fresh));
      if (focused) {
        var again = document.querySelector('#job-list a[href="' + CSS.escape(focused) + '"]');
        if (again) again.focus();
      }
      announceChanges(before, order, changes);
      refreshPending();
      copyReplaced();
    }).catch(function () {
      listChanges = changes.concat(listChanges); // the next frame or reconnect tries again
    }).then(function () {
      listFetch = null;
      if (listAgain) { listAgain = false; refreshJobList(); }
    });
  }

  function liveNote(text) {
    flash(text, "info");
    var notes = document.querySelectorAll("#flash .message-info");
    for (var i = 0; i < notes.length - 3; i++) notes[i].remove(); // the latest few are enough
  }

  function jobOrder() {
    return Array.prototype.map.call(document.querySelectorAll("#job-list li[data-tracking]"), function (li) {
      return li.dataset.tracking;
    }).join(" ");
  }

  function announceChanges(before, order, changes) {
    var after = shownJobs();
    var said = { order: false, jobs: {} };
    changes.forEach(function (change) {
      var t = change.tracking;
      if (change.order) {
        if (!said.order && order !== jobOrder()) {
          said.order = true;
          liveNote("Dispatch changed the order of your jobs.");
        }
        return;
      }
      if (!t || said.jobs[t]) return;
      var was = before[t];
      var now = after[t];
      var text = null;
      if (now && now.open && !(was && was.open)) {
        text = "New job " + t + (now.where ? " — " + now.where : "") + ".";
        now.el.classList.add("job-new");
        // Open it offline too, like the jobs that were there when the page loaded.
        var link = now.el.querySelector("a.job-link");
        if (link && body.dataset.sw === "registered") fetch(link.href, { credentials: "same-origin" }).catch(function () {});
      } else if (was && !now) {
        text = "Job " + t + " is no longer on your list.";
      } else if (was && now && was.status !== now.status) {
        text = "Job " + t + ": " + now.label + ".";
      }
      if (text) {
        said.jobs[t] = true;
        liveNote(text);
      }
    });
  }

  // After (re)connecting: fetch the list again when the server's open jobs differ from it.
  function snapshotArrived(jobs) {
    if (!jobList()) return;
    var shown = shownJobs();
    var open = {};
    var changed = [];
    jobs.forEach(function (job) {
      open[job.tracking_number] = true;
      var seen = shown[job.tracking_number];
      if (!seen || !seen.open || seen.version !== String(job.version)) changed.push(job.tracking_number);
    });
    Object.keys(shown).forEach(function (t) { if (shown[t].open && !open[t]) changed.push(t); });
    changed.forEach(function (t) { listChanges.push({ tracking: t }); });
    if (changed.length) refreshJobList();
  }

  function queueFix(fix) {
    fix.seq = nextSeq();
    fix.type = "fix";
    return queueAdd(fix).then(function () { refreshPending(); scheduleFlush(1500); });
  }

  function sendFix(fix, waited) {
    if (socket && socket.readyState === 0 && navigator.onLine && (waited || 0) < 6) {
      // The socket is still connecting: give it a moment rather than falling back at once.
      setTimeout(function () { sendFix(fix, (waited || 0) + 1); }, 500);
      return;
    }
    if (socket && socket.readyState === 1 && navigator.onLine) {
      awaitingAck[fix.client_id] = fix;
      socket.send(JSON.stringify({ type: "fix", data: fix }));
      // No answer in time: it goes the HTTP way too (the server keeps one copy per id).
      setTimeout(function () {
        if (awaitingAck[fix.client_id]) { delete awaitingAck[fix.client_id]; queueFix(fix); }
      }, 10000);
      return;
    }
    queueFix(fix);
  }

  function onPosition(pos) {
    var c = pos.coords;
    lastCoords = c;
    var state = $("sharing-state");
    if (state && state.textContent.indexOf("on") !== 0) setSharing("on");
    var now = Date.now();
    var elapsed = lastSent ? (now - lastSent.at) / 1000 : Infinity;
    var moved = lastSent ? metres(lastSent.coords, c) : Infinity;
    if (elapsed < 1) return;
    if (elapsed < cfg.fixInterval && moved < cfg.fixDistance) return;
    lastSent = { at: now, coords: { latitude: c.latitude, longitude: c.longitude } };
    sessionStorage.setItem("dm-last-sent", JSON.stringify(lastSent));
    var fix = {
      client_id: uuid(),
      device_time: new Date(pos.timestamp || now).toISOString(),
      lat: c.latitude,
      lng: c.longitude,
      accuracy_m: c.accuracy || 0,
    };
    if (typeof c.speed === "number" && c.speed >= 0) fix.speed_mps = c.speed;
    if (typeof c.heading === "number" && c.heading >= 0 && c.heading < 360) fix.heading = c.heading;
    sendFix(fix);
  }

  function onPositionError(err) {
    setSharing(err.code === 1 ? "blocked — allow location for this site" : "waiting for GPS…");
  }

  function sharing() { return body.dataset.onDuty === "1"; }

  function startSharing() {
    connectSocket(); // dispatch's changes come over it too, with or without a GPS
    if (!("geolocation" in navigator)) { setSharing("not available on this phone"); return; }
    if (watchId !== null) return;
    setSharing("starting…");
    watchId = navigator.geolocation.watchPosition(onPosition, onPositionError, {
      enableHighAccuracy: true, maximumAge: 5000, timeout: 30000,
    });
    // A phone standing still gets no new positions: still report every interval, so
    // dispatch can tell a parked driver from a silent one.
    heartbeat = setInterval(function () {
      if (lastCoords) onPosition({ coords: lastCoords, timestamp: Date.now() });
    }, cfg.fixInterval * 1000);
  }

  function stopSharing() {
    if (watchId !== null) navigator.geolocation.clearWatch(watchId);
    watchId = null;
    clearInterval(heartbeat);
    if (socket) socket.close();
    setSharing("off (off duty)");
  }

  function setDuty(on) {
    body.dataset.onDuty = on ? "1" : "0";
    if (on) startSharing(); else stopSharing();
  }

  // --- start -------------------------------------------------------------------------------
  function start() {
    var canvas = $("signature-pad");
    if (canvas) {
      pad = signaturePad(canvas);
      var clear = $("signature-clear");
      if (clear) clear.addEventListener("click", function () { pad.clear(); });
    }
    var saved = sessionStorage.getItem("dm-flash");
    if (saved) { sessionStorage.removeItem("dm-flash"); flash(saved, "success"); }
    setNet();
    showCopy();
    watchLogout();
    renderProblems();
    window.addEventListener("online", function () { setNet(); connectSocket(); flush(); backOnline(); });
    window.addEventListener("offline", function () { setNet(); showCopy(); });
    // A copy shown because the server was slow: try again for a fresh list.
    if (navigator.onLine) backOnline();
    if (sharing()) startSharing();
    refreshPending().then(flush);
    setInterval(flush, 30000);

    if ("serviceWorker" in navigator && cfg.swUrl) {
      // A new worker (first install or a new version) took over with empty page storage.
      navigator.serviceWorker.addEventListener("message", function (ev) {
        if (ev.data && ev.data.type === "sw-activated") warmCache(true);
      });
      navigator.serviceWorker.startMessages();
      navigator.serviceWorker.register(cfg.swUrl, { scope: cfg.scope }).then(function () {
        body.dataset.sw = "registered";
        warmCache(false);
      }).catch(function (e) { body.dataset.sw = "failed"; console.warn("service worker", e); });
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
