/* DropMate driver service worker (served from {{ request.path }} so its scope is the app).
 *
 * Static app shell: cache first, in a cache named after this version (old versions are
 * deleted on activate). Driver pages: network first. A page the network answers is stored
 * again every time, so the offline copy is always the latest one the phone saw; when the
 * network fails, or is slower than PAGE_TIMEOUT_MS, the stored copy is shown, marked as an
 * offline copy (the page then says "Offline — showing jobs as of 08:14").
 *
 * Stored pages belong to one driver: the server names the owner of each page in the
 * OWNER_HEADER header, pages live in a cache named after that owner, and a page of another
 * driver, an answer that sends the phone to the login page, or the app's Log out button
 * deletes every stored page first; a copy made before the latest login is never shown.
 * POSTs and the API always go to the network: the page queues them itself. */
"use strict";
var VERSION = "{{ version|escapejs }}";
var PREFIX = "dropmate-driver-";
var SHELL_CACHE = PREFIX + "shell-" + VERSION;
var PAGES_PREFIX = PREFIX + "pages-" + VERSION + "-";
var SHELL = {{ shell_json|safe }};
var HOME = SHELL[0];
var OFFLINE = SHELL[1];
var SELF = "{{ request.path|escapejs }}";
var LOGIN = "{{ login_path|escapejs }}";
var OWNER_HEADER = "{{ owner_header|escapejs }}";
var PAGE_TIMEOUT_MS = {{ page_timeout_ms|default:4000 }};
var CSRF_COOKIE = "{{ csrf_cookie|escapejs }}";
var SESSION_HEADER = "X-DropMate-Session";
// Answers to requests sent before the last "forget" (Log out) are not stored.
var forgottenAt = 0;

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches.open(SHELL_CACHE).then(function (cache) {
      // The home page needs a session: it is stored on the first visit instead.
      return cache.addAll(SHELL.filter(function (u) { return u !== HOME; }));
    }).then(function () { return self.skipWaiting(); })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches.keys().then(function (keys) {
      return Promise.all(keys.filter(function (k) {
        return k.indexOf(PREFIX) === 0 && k !== SHELL_CACHE && k.indexOf(PAGES_PREFIX) !== 0;
      }).map(function (k) { return caches.delete(k); }));
    }).then(function () { return self.clients.claim(); }).then(function () {
      // The open pages store themselves again in this version's cache.
      return self.clients.matchAll({ type: "window" }).then(function (clients) {
        clients.forEach(function (c) { c.postMessage({ type: "sw-activated", version: VERSION }); });
      });
    })
  );
});

function pageCaches() {
  return caches.keys().then(function (keys) {
    return keys.filter(function (k) { return k.indexOf(PREFIX + "pages-") === 0; });
  });
}

function forgetPages(except) {
  return pageCaches().then(function (keys) {
    return Promise.all(keys.filter(function (k) { return k !== except; }).map(function (k) {
      return caches.delete(k);
    }));
  });
}

// A copy for the offline phone, stored only when the answer is a driver page: anything else
// (the login page after a redirect, an error) is never shown in place of a page.
function store(request, response, sentAt) {
  var owner = response.headers.get(OWNER_HEADER);
  if (response.type === "opaqueredirect" || response.redirected) {
    // The session is gone (logged out or expired): no stored page may outlive it.
    return forgetPages(null);
  }
  if (response.status === 404 || response.status === 410) {
    return pageCaches().then(function (keys) {
      return Promise.all(keys.map(function (k) {
        return caches.open(k).then(function (c) { return c.delete(request, { ignoreVary: true }); });
      }));
    });
  }
  if (!owner || response.status !== 200 || response.type !== "basic" || sentAt < forgottenAt) {
    return Promise.resolve();
  }
  var name = PAGES_PREFIX + owner;
  var copy = response.clone();
  var cache = forgetPages(name).then(function () { return caches.open(name); });
  return Promise.all([cache, sessionMark(), copy.blob()]).then(function (r) {
    var headers = new Headers(copy.headers);
    if (r[1] !== null) headers.set(SESSION_HEADER, r[1]);
    var kept = new Response(r[2], { status: 200, statusText: "OK", headers: headers });
    return r[0].put(pageKey(request), kept);
  });
}

// Which login a copy was made under: the CSRF cookie changes at every login, so a copy made
// before the latest one is never shown, not even when the network fails right after it.
// null where the browser does not let a worker read cookies.
function sessionMark() {
  if (!self.cookieStore) return Promise.resolve(null);
  return self.cookieStore.get(CSRF_COOKIE).then(function (cookie) {
    if (!cookie || !cookie.value) return "";
    return crypto.subtle.digest("SHA-256", new TextEncoder().encode(cookie.value)).then(function (d) {
      return Array.prototype.map.call(new Uint8Array(d), function (x) {
        return (x + 256).toString(16).slice(1);
      }).join("");
    });
  }).catch(function () { return null; });
}

// Pages are stored under their URL alone (a navigation and a prefetch share one copy).
function pageKey(request) {
  return new Request(request.url, { credentials: "same-origin" });
}

function storedPage(request) {
  return Promise.all([pageCaches(), sessionMark()]).then(function (r) {
    var keys = r[0];
    var mark = r[1];
    if (keys.length !== 1) return null; // there is at most one owner
    if (mark === null) {
      // Without the cookie to compare, a page reached straight from the login page may be
      // another driver's first one: never answered from storage.
      var from = request.referrer ? new URL(request.referrer) : null;
      if (from && from.origin === self.location.origin && from.pathname === LOGIN) return null;
    }
    return caches.open(keys[0]).then(function (cache) {
      return cache.match(pageKey(request), { ignoreVary: true });
    }).then(function (hit) {
      return hit && (mark === null || hit.headers.get(SESSION_HEADER) === mark) ? hit : null;
    });
  }).then(function (hit) {
    if (!hit) return null;
    // Tell the page it is a copy: it shows when that copy was made.
    return hit.text().then(function (html) {
      var headers = new Headers(hit.headers);
      headers.delete("Content-Length");
      var marked = html.replace('data-copy="live"', 'data-copy="offline"');
      return new Response(marked, { status: 200, statusText: "OK", headers: headers });
    });
  });
}

function offlinePage() {
  return caches.match(OFFLINE, { ignoreVary: true }).then(function (hit) {
    return hit || new Response("You are offline.", {
      status: 503, headers: { "Content-Type": "text/plain; charset=utf-8" },
    });
  });
}

// Network first with a time limit: the network's answer when it comes in time (and stored
// for next time in any case); else the stored copy; else wait for the network after all;
// else the offline page.
function page(event) {
  var request = event.request;
  var sentAt = Date.now();
  var network = fetch(request);
  var stored = network.then(function (response) {
    return store(request, response, sentAt).catch(function () {});
  }, function () {});
  event.waitUntil(stored);
  return new Promise(function (resolve) {
    var done = false;
    function answer(response) {
      if (!done && response) { done = true; resolve(response); }
    }
    function fallBack() {
      return storedPage(request).then(function (copy) {
        if (copy) answer(copy);
        return copy;
      });
    }
    var timer = setTimeout(fallBack, PAGE_TIMEOUT_MS);
    network.then(function (response) {
      clearTimeout(timer);
      if (response.status >= 500) {
        // A server or proxy that cannot answer is no better than no network.
        fallBack().then(function (copy) { if (!copy) answer(response); });
        return;
      }
      // Answered only once it is stored, so the next offline visit already finds it.
      stored.then(function () { answer(response); });
    }, function () {
      clearTimeout(timer);
      fallBack().then(function (copy) {
        if (!copy) offlinePage().then(answer);
      });
    });
  });
}

// Prefetches of job pages and the job list fragment: always the network. A fresh list means
// the stored job list page is out of date, so it is fetched and stored again. Redirects are
// never followed here: they lead to the login page (the session is gone), whose answer would
// set a new CSRF cookie under a login form the driver may be filling in.
function fresh(event) {
  var request = event.request;
  var sentAt = Date.now();
  return fetch(new Request(request, { redirect: "manual" })).then(function (response) {
    var url = new URL(request.url);
    var work;
    if (response.type === "opaqueredirect") {
      work = forgetPages(null);
      response = Response.error();
    } else if (!url.search) {
      work = store(request, response, sentAt);
    } else if (url.pathname === HOME && response.ok) {
      var home = new Request(url.origin + HOME, { credentials: "same-origin", redirect: "manual" });
      work = fetch(home).then(function (r) { return store(home, r, sentAt); });
    } else {
      work = Promise.resolve();
    }
    event.waitUntil(work.catch(function () {}));
    return response;
  });
}

function cacheFirst(request) {
  return caches.match(request, { ignoreVary: true }).then(function (hit) {
    return hit || fetch(request).then(function (response) {
      if (response.ok) {
        var copy = response.clone();
        caches.open(SHELL_CACHE).then(function (cache) { cache.put(request, copy); });
      }
      return response;
    });
  });
}

function shellNetworkFirst(request) {
  return fetch(request).then(function (response) {
    if (response.ok) {
      var copy = response.clone();
      caches.open(SHELL_CACHE).then(function (cache) { cache.put(request, copy); });
    }
    return response;
  }).catch(function () {
    return caches.match(request, { ignoreVary: true }).then(function (hit) {
      return hit || offlinePage();
    });
  });
}

self.addEventListener("message", function (event) {
  var data = event.data || {};
  if (data.type !== "forget") return;
  // Log out: nothing stored for this driver may be shown to whoever uses the phone next.
  forgottenAt = Date.now();
  var reply = event.ports && event.ports[0];
  event.waitUntil(forgetPages(null).then(function () {
    if (reply) reply.postMessage({ type: "forgotten" });
  }));
});

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.indexOf("/static/") === 0) {
    event.respondWith(cacheFirst(request));
  } else if (url.pathname.indexOf(HOME) !== 0 || url.pathname === SELF) {
    return;
  } else if (SHELL.indexOf(url.pathname) > 0) {
    event.respondWith(shellNetworkFirst(request));
  } else if (request.mode === "navigate") {
    event.respondWith(page(event));
  } else {
    event.respondWith(fresh(event));
  }
});
