/* DropMate maps on vendored Leaflet: the shipment map and the staff fleet map.
 * Pages stay usable without tiles (no tile URL, or no network): markers on a plain
 * background, plus text that says the same thing for screen readers. */
(function (global) {
  "use strict";
  var L = global.L;

  var STATE_COLOURS = {
    delivering: "#1a7f37", to_pickup: "#0b5cad", idle: "#6e7781",
    no_signal: "#b42318", off_duty: "#8c959f",
  };

  function createMap(el, opts) {
    opts = opts || {};
    var map = L.map(el, { zoomControl: true, attributionControl: !!opts.tileUrl });
    if (opts.tileUrl) {
      L.tileLayer(opts.tileUrl, {
        maxZoom: 19, attribution: opts.attribution || "&copy; OpenStreetMap contributors",
      }).addTo(map);
    } else {
      el.classList.add("map-no-tiles");
    }
    map.setView(opts.center || [51.05, 3.72], opts.zoom || 13);
    return map;
  }

  /* Move a marker smoothly to a new position over `ms` (linear; restarts if interrupted). */
  function glide(marker, lat, lng, ms) {
    ms = ms || 800;
    var from = marker.getLatLng();
    if (marker._glide) global.cancelAnimationFrame(marker._glide);
    var reduce = global.matchMedia && global.matchMedia("(prefers-reduced-motion: reduce)").matches;
    if (reduce || !from) { marker.setLatLng([lat, lng]); return; }
    var start = null;
    function step(t) {
      if (start === null) start = t;
      var k = Math.min(1, (t - start) / ms);
      marker.setLatLng([from.lat + (lat - from.lat) * k, from.lng + (lng - from.lng) * k]);
      if (k < 1) marker._glide = global.requestAnimationFrame(step);
      else marker._glide = null;
    }
    marker._glide = global.requestAnimationFrame(step);
  }

  function dot(latlng, colour, radius, label) {
    return L.circleMarker(latlng, {
      radius: radius || 8, color: "#ffffff", weight: 2, fillColor: colour, fillOpacity: 0.95,
    }).bindTooltip(label || "");
  }

  /* One shipment: pickup, drop-off and (when allowed) the driver. */
  function ShipmentMap(el, opts) {
    this.map = createMap(el, opts);
    this.driver = null;
    this.bounds = [];
    var snap = opts.snapshot || {};
    if (snap.pickup) this.addStop(snap.pickup, "#0b5cad", "Pickup");
    if (snap.dropoff) this.addStop(snap.dropoff, "#9a6700", "Drop-off");
    if (this.bounds.length) this.map.fitBounds(this.bounds, { padding: [30, 30], maxZoom: 16 });
    this.setDriver(snap.position || null);
  }
  ShipmentMap.prototype.addStop = function (p, colour, label) {
    dot([p.lat, p.lng], colour, 7, label).addTo(this.map);
    this.bounds.push([p.lat, p.lng]);
  };
  ShipmentMap.prototype.setDriver = function (p) {
    if (!p) {
      if (this.driver) { this.map.removeLayer(this.driver); this.driver = null; }
      return;
    }
    if (!this.driver) {
      this.driver = dot([p.lat, p.lng], "#1a7f37", 10, "Driver").addTo(this.map);
    } else {
      glide(this.driver, p.lat, p.lng);
    }
    this.driverPosition = p;
  };

  /* The fleet: a marker per driver coloured by state, with a state filter. */
  function FleetMap(el, opts) {
    this.map = createMap(el, opts);
    this.markers = {};
    this.drivers = {};
    this.hidden = {};
    this.onChange = opts.onChange || function () {};
  }
  FleetMap.prototype.upsert = function (d) {
    var prev = this.drivers[d.driver_id] || {};
    var was = prev.position && prev.position.at, now = d.position && d.position.at;
    if (was && now && new Date(now) < new Date(was)) return; // never step back in time
    var merged = Object.assign({}, prev, d);
    if (d.position === undefined && d.lat !== undefined) {
      merged.position = { lat: d.lat, lng: d.lng, at: d.at, stale: d.stale };
    }
    this.drivers[d.driver_id] = merged;
    var p = merged.position;
    var m = this.markers[d.driver_id];
    var colour = STATE_COLOURS[merged.state] || "#6e7781";
    if (p && !m) {
      m = dot([p.lat, p.lng], colour, 9, merged.name || ("Driver " + d.driver_id));
      this.markers[d.driver_id] = m;
      if (!this.hidden[merged.state]) m.addTo(this.map);
    } else if (p && m) {
      m.setStyle({ fillColor: colour });
      glide(m, p.lat, p.lng);
      this.applyFilter(d.driver_id);
    }
    this.onChange(merged);
  };
  FleetMap.prototype.applyFilter = function (id) {
    var m = this.markers[id];
    if (!m) return;
    var show = !this.hidden[this.drivers[id].state];
    if (show && !this.map.hasLayer(m)) m.addTo(this.map);
    if (!show && this.map.hasLayer(m)) this.map.removeLayer(m);
  };
  FleetMap.prototype.setHidden = function (state, hidden) {
    this.hidden[state] = hidden;
    for (var id in this.markers) this.applyFilter(id);
  };
  FleetMap.prototype.fit = function () {
    var pts = [];
    for (var id in this.markers) pts.push(this.markers[id].getLatLng());
    if (pts.length) this.map.fitBounds(pts, { padding: [30, 30], maxZoom: 15 });
  };

  global.DropMateMaps = {
    ShipmentMap: ShipmentMap, FleetMap: FleetMap, glide: glide, STATE_COLOURS: STATE_COLOURS,
  };
})(window);
