/* DropMate live socket client, shared by the customer, driver and staff pages.
 *
 *   var live = DropMateLive.connect({
 *     path: "/ws/shipments/DM-…/",          // WebSocket path on this host
 *     eventsUrl: "/api/v1/shipments/DM-…/events",  // optional HTTP catch-up when the socket is down
 *     lastSeq: 12,                           // the seq the page was rendered with
 *     onFrame: function (frame) {},          // every frame to apply (already de-duplicated)
 *     onStatus: function (state) {},         // "live" | "reconnecting" | "offline"
 *     statusEl: element,                     // optional: shows the state as text
 *   });
 *
 * Correctness comes from seq, not from every push arriving: frames with a seq at or below the
 * last applied one are ignored; a gap triggers a catch-up (socket "subscribe" with the last
 * seq, or the events endpoint while the socket is down). Reconnects use exponential backoff
 * with jitter. Close codes 4401/4403/4404 are final (no retry).
 */
(function (global) {
  "use strict";

  var FINAL = { 4401: "Please log in again.", 4403: "Not allowed.", 4404: "Not found." };
  var LABELS = { live: "Live", reconnecting: "Reconnecting…", offline: "Offline" };

  function backoff(attempt, base, cap) {
    var ceiling = Math.min(cap, base * Math.pow(2, attempt));
    return ceiling / 2 + Math.random() * ceiling / 2; // "equal jitter"
  }

  function LiveClient(opts) {
    this.opts = opts;
    this.lastSeq = typeof opts.lastSeq === "number" ? opts.lastSeq : 0;
    this.state = null;
    this.attempt = 0;
    this.ws = null;
    this.stopped = false;
    this.pollTimer = null;
    this.retryTimer = null;
    var self = this;
    global.addEventListener("offline", function () { self.setState("offline"); });
    global.addEventListener("online", function () { self.reconnectNow(); });
    document.addEventListener("visibilitychange", function () {
      if (!document.hidden && (!self.ws || self.ws.readyState > 1)) self.reconnectNow();
    });
    this.open();
  }

  LiveClient.prototype.url = function () {
    var proto = global.location.protocol === "https:" ? "wss://" : "ws://";
    return proto + global.location.host + this.opts.path;
  };

  LiveClient.prototype.setState = function (state, detail) {
    if (this.state === state && !detail) return;
    this.state = state;
    var el = this.opts.statusEl;
    if (el) {
      el.textContent = LABELS[state] + (detail ? " — " + detail : "");
      el.setAttribute("data-state", state);
    }
    if (this.opts.onStatus) this.opts.onStatus(state, detail);
  };

  LiveClient.prototype.open = function () {
    var self = this;
    if (this.stopped) return;
    var ws;
    try {
      ws = new WebSocket(this.url());
    } catch (e) {
      this.scheduleReconnect();
      return;
    }
    this.ws = ws;
    ws.onopen = function () {
      self.attempt = 0;
      self.stopPolling();
      self.setState("live");
      self.send("subscribe", { after: self.lastSeq });
    };
    ws.onmessage = function (ev) {
      var frame;
      try { frame = JSON.parse(ev.data); } catch (e) { return; }
      if (frame.type === "ping") { self.send("pong", {}); return; }
      self.receive(frame);
    };
    ws.onclose = function (ev) {
      if (self.ws !== ws) return;
      self.ws = null;
      if (FINAL[ev.code]) {
        self.stopped = true;
        self.setState("offline", FINAL[ev.code]);
        return;
      }
      self.scheduleReconnect(ev.code === 4429 ? 3 : 0);
    };
    ws.onerror = function () { /* onclose follows */ };
  };

  LiveClient.prototype.send = function (type, data) {
    if (this.ws && this.ws.readyState === 1) {
      this.ws.send(JSON.stringify({ type: type, data: data || {} }));
      return true;
    }
    return false;
  };

  /* Apply one frame at most once, in seq order. */
  LiveClient.prototype.receive = function (frame) {
    if (frame.type === "snapshot") {
      if (typeof frame.seq === "number") this.lastSeq = frame.seq;
      this.opts.onFrame(frame);
      return;
    }
    if (typeof frame.seq === "number") {
      if (frame.seq <= this.lastSeq) return; // already applied
      if (frame.seq > this.lastSeq + 1) { // a push was lost: catch up instead
        this.catchUp();
        return;
      }
      this.lastSeq = frame.seq;
    }
    this.opts.onFrame(frame);
  };

  LiveClient.prototype.catchUp = function () {
    if (!this.send("subscribe", { after: this.lastSeq })) this.poll();
  };

  LiveClient.prototype.poll = function () {
    var self = this;
    if (!this.opts.eventsUrl || !global.fetch) return Promise.resolve();
    return fetch(this.opts.eventsUrl + "?after=" + this.lastSeq, {
      credentials: "same-origin",
      headers: { Accept: "application/json" },
    }).then(function (r) {
      if (!r.ok) throw new Error("HTTP " + r.status);
      return r.json();
    }).then(function (body) {
      (body.frames || []).forEach(function (f) { self.receive(f); });
    }).catch(function () { /* still offline */ });
  };

  LiveClient.prototype.stopPolling = function () {
    if (this.pollTimer) { clearInterval(this.pollTimer); this.pollTimer = null; }
  };

  LiveClient.prototype.scheduleReconnect = function (extra) {
    var self = this;
    if (this.stopped) return;
    var offline = global.navigator && global.navigator.onLine === false;
    this.setState(offline || this.attempt >= 6 ? "offline" : "reconnecting");
    if (!this.pollTimer && this.opts.eventsUrl) {
      this.poll();
      this.pollTimer = setInterval(function () { self.poll(); }, this.opts.pollMs || 10000);
    }
    var delay = backoff(this.attempt + (extra || 0), this.opts.baseMs || 500, this.opts.capMs || 30000);
    this.attempt += 1;
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(function () { self.open(); }, delay);
  };

  LiveClient.prototype.reconnectNow = function () {
    if (this.stopped) return;
    if (this.ws && this.ws.readyState <= 1) return;
    clearTimeout(this.retryTimer);
    this.attempt = 0;
    this.open();
  };

  LiveClient.prototype.close = function () {
    this.stopped = true;
    this.stopPolling();
    clearTimeout(this.retryTimer);
    if (this.ws) this.ws.close(1000);
  };

  global.DropMateLive = {
    connect: function (opts) { return new LiveClient(opts); },
    backoff: backoff,
  };
})(window);
