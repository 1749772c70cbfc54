/* DropMate driver service worker (served from {{ request.path }} so its scope is the app).
 * App shell: cache first. Driver pages: network first, the last copy when offline, else the
 * offline page. POSTs and the API always go to the network: the page queues them itself. */
"use strict";
var VERSION = "{{ version|escapejs }}";
var CACHE = "dropmate-driver-" + VERSION;
var SHELL = {{ shell_json|safe }};
var HOME = SHELL[0];
var OFFLINE = SHELL[1];

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(CACHE).then(function (cache) {
      // The home page needs a session: it is cached on the first visit instead.
      return cache.addAll(SHELL.filter(function (u) { return u !== HOME; }));
    }).then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (keys) {
      return Promise.all(keys.filter(function (k) {
        return k.indexOf("dropmate-driver-") === 0 && k !== CACHE;
      }).map(function (k) { return caches.delete(k); }));
    }).then(function () { return self.clients.claim(); })
  );
});

function networkFirst(request) {
  return fetch(request).then(function (response) {
    if (response.ok && !response.redirected && response.type === "basic") {
      var copy = response.clone();
      caches.open(CACHE).then(function (cache) { cache.put(request, copy); });
    }
    return response;
  }).catch(function () {
    return caches.match(request, { ignoreVary: true }).then(function (hit) {
      return hit || caches.match(OFFLINE, { ignoreVary: true });
    });
  });
}

function cacheFirst(request) {
  return caches.match(request, { ignoreVary: true }).then(function (hit) {
    return hit || fetch(request).then(function (response) {
      if (response.ok) {
        var copy = response.clone();
        caches.open(CACHE).then(function (cache) { cache.put(request, copy); });
      }
      return response;
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(cacheFirst(request));
  } else if (url.pathname.indexOf(HOME) === 0 && url.pathname !== "{{ request.path|escapejs }}") {
    event.respondWith(networkFirst(request));
  }
});
