/*
 * live.js -- the browser client of a livec game (PROTOCOL.md, "The browser
 * client /live.js").  Served at /live.js; every participant page loads it.
 *
 * It gives a page the oTree live-page globals:
 *   liveSend(data)   POSTs one JSON value to /p/CODE/live and returns a
 *                    Promise: resolved with the server's JSON answer
 *                    ({"ok": true}), rejected with the server's reason
 *                    (the 422 `require`/`reject` text or a validation
 *                    message) as a plain string, so r === "not your turn"
 *                    and switch (r) work; other failures reject with a
 *                    string too ("cannot reach the server", "the server
 *                    did not answer", "the server answered 503", or the
 *                    server's own reason for another error status).
 *                    Defined as soon as this script runs; calls made before
 *                    the event stream is open are queued and sent, in order,
 *                    once it is (so the page cannot miss the answers to its
 *                    first messages).  All sends go out one at a time, in
 *                    call order, so the server handles them in that order.
 *   liveRecv(data)   defined by the page; called with each message the
 *                    server sends to this participant (parsed JSON).
 *   liveError(reason) optional, defined by the page; called with the reason
 *                    of each liveSend rejection that the page did not handle
 *                    (no .catch, no try/await around it).
 *
 * The stream is a plain EventSource on /p/CODE/events.  EventSource
 * reconnects by itself after a network error and sends Last-Event-ID, so the
 * server replays exactly what was missed.  If the stream is closed for good
 * (the server, or a proxy in front of it, answered an error status while
 * restarting, say), it is opened again with a growing delay, carrying the
 * id of the last event received (?last_event_id=N): the server replays what
 * was missed; before any event, the new stream is a fresh one, which runs
 * the game's `on load` and so sends the current state.  A `finish`
 * event ({"next": URL}) moves the browser to the next page.
 *
 * Forms that post to /p/CODE/next (the Next button) send once, and carry
 * the page they are on (field `page`) where the page says it: the server
 * moves the participant on only from that page.
 *
 * Connection changes are announced as a `livestatus` event on document with
 * detail.state "connecting" | "open" | "reconnecting" | "closed", for pages
 * that want to show them.  No framework, no build step.
 */
(function () {
  'use strict';

  /* Delays before reopening a stream that EventSource gave up on (ms). */
  var REOPEN_FIRST_MS = 1000;
  var REOPEN_MAX_MS = 30000;
  /* A send that has no answer after this long fails (ms). */
  var SEND_TIMEOUT_MS = 30000;

  var match = /^\/p\/([^\/]+)/.exec(window.location.pathname);
  var base = match ? '/p/' + match[1] : null;

  var streamOpened = false;   /* the stream has been open once: sends go out */
  var waiting = [];           /* sends queued until then: {body, resolve, reject} */
  var chain = Promise.resolve();  /* serializes the POSTs */
  var source = null;
  var reopenDelay = REOPEN_FIRST_MS;
  var reopenTimer = null;
  var leaving = false;        /* following a finish: no more reconnects */
  var lastId = '';            /* the id of the last event received */

  /* Announces a connection state to the page (see the header). */
  function announce(state) {
    var ev;
    try {
      ev = new CustomEvent('livestatus', { detail: { state: state } });
    } catch (e) {
      return;   /* very old browser: no status events */
    }
    document.dispatchEvent(ev);
  }

  /* Reasons liveSend rejected with lately, so that liveError (below) can
   * tell them from the page's own rejections: a plain string carries no
   * mark.  Each entry is dropped after a minute (an unhandled rejection is
   * reported before the page's next task runs). */
  var REJECTION_KEEP_MS = 60000;
  var recentRejections = [];  /* {reason, at} */

  /* What a rejected liveSend carries: the reason itself (PROTOCOL.md: it
   * "rejects with the 422 reason"), a plain string. */
  function liveRejection(reason) {
    reason = String(reason);
    var now = Date.now();
    while (recentRejections.length && now - recentRejections[0].at > REJECTION_KEEP_MS)
      recentRejections.shift();
    recentRejections.push({ reason: reason, at: now });
    return reason;
  }

  /* Whether reason is one liveSend rejected with lately (kept, so that
   * every unhandled promise derived from that send reports it). */
  function claimRejection(reason) {
    for (var i = 0; i < recentRejections.length; i++) {
      if (recentRejections[i].reason === reason) return true;
    }
    return false;
  }

  /* POSTs one message (body: its JSON text) now.  Returns a Promise of the
   * server's JSON answer; rejects with liveRejection() for an error status
   * or a network failure.  Never throws. */
  function post(body) {
    var controller = typeof AbortController === 'function' ? new AbortController() : null;
    var timer = controller ? setTimeout(function () { controller.abort(); }, SEND_TIMEOUT_MS) : null;
    return fetch(base + '/live', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: body,
      credentials: 'same-origin',
      signal: controller ? controller.signal : undefined
    }).then(function (res) {
      return res.text().then(function (text) {
        var answer = null;
        try { answer = JSON.parse(text); } catch (e) { /* not JSON */ }
        if (res.ok) return answer;
        var reason = answer && typeof answer.error === 'string'
          ? answer.error : 'the server answered ' + res.status;
        throw { liveReason: reason };
      });
    }).then(function (answer) {
      if (timer) clearTimeout(timer);
      return answer;
    }, function (err) {
      if (timer) clearTimeout(timer);
      if (err && typeof err.liveReason === 'string') throw liveRejection(err.liveReason);
      throw liveRejection(err && err.name === 'AbortError'
        ? 'the server did not answer' : 'cannot reach the server');
    });
  }

  /* Puts a send after the previous ones and settles its Promise.  The chain
   * itself never rejects, so one failed send does not stop the next. */
  function enqueue(item) {
    chain = chain.then(function () {
      return post(item.body).then(item.resolve, item.reject);
    });
  }

  /* liveSend(data): see the header.  The returned Promise is the one the page
   * gets; if it rejects and nobody handles it, the browser fires
   * `unhandledrejection`, which is forwarded to liveError below. */
  function liveSend(data) {
    return new Promise(function (resolve, reject) {
      if (!base) {
        reject(liveRejection('liveSend works only on a participant page (/p/CODE)'));
        return;
      }
      var body;
      try {
        body = JSON.stringify(data === undefined ? null : data);
        if (body === undefined) body = 'null';   /* a function, a symbol */
      } catch (e) {
        reject(liveRejection('liveSend: the data cannot be sent as JSON (' + e.message + ')'));
        return;
      }
      var item = { body: body, resolve: resolve, reject: reject };
      if (streamOpened) enqueue(item); else waiting.push(item);
    });
  }

  window.addEventListener('unhandledrejection', function (ev) {
    var reason = ev.reason;
    if (typeof reason !== 'string' || !claimRejection(reason)) return;
    if (typeof window.liveError === 'function') {
      ev.preventDefault();
      window.liveError(reason);
    }
  });

  /* Parses an event's data; null (with a console note) if it is not JSON. */
  function parse(text) {
    try {
      return JSON.parse(text);
    } catch (e) {
      if (window.console) console.error('live.js: event is not JSON:', text);
      return null;
    }
  }

  function onMessage(ev) {
    if (ev.lastEventId) lastId = ev.lastEventId;
    var data = parse(ev.data);
    if (data === null && ev.data !== 'null') return;
    if (typeof window.liveRecv === 'function') {
      window.liveRecv(data);
    } else if (window.console) {
      console.warn('live.js: the page defines no liveRecv(data); message dropped', data);
    }
  }

  function onFinish(ev) {
    if (ev.lastEventId) lastId = ev.lastEventId;
    var data = parse(ev.data);
    var next = data && typeof data.next === 'string' ? data.next : base;
    leaving = true;
    if (source) source.close();
    window.location.assign(next);
  }

  function onOpen() {
    reopenDelay = REOPEN_FIRST_MS;
    announce('open');
    if (!streamOpened) {
      streamOpened = true;
      var queued = waiting;
      waiting = [];
      for (var i = 0; i < queued.length; i++) enqueue(queued[i]);
    }
  }

  function onError() {
    if (leaving) return;
    if (source && source.readyState === EventSource.CLOSED) {
      /* EventSource gave up (an error status or a wrong content type):
       * open a new stream later, waiting longer each time. */
      announce('closed');
      source = null;
      if (!reopenTimer) {
        reopenTimer = setTimeout(function () { reopenTimer = null; connect(); }, reopenDelay);
        reopenDelay = Math.min(reopenDelay * 2, REOPEN_MAX_MS);
      }
    } else {
      announce('reconnecting');   /* EventSource retries with Last-Event-ID */
    }
  }

  /* Opens the event stream of this participant. */
  function connect() {
    if (!base || leaving) return;
    if (typeof EventSource !== 'function') {
      if (window.console) console.error('live.js: this browser has no EventSource');
      return;
    }
    announce('connecting');
    /* A new EventSource sends no Last-Event-ID: after one has seen events,
     * the id goes in the URL, so that the server replays what was missed
     * (and does not run `on load` again) */
    source = new EventSource(base + '/events' +
                             (lastId ? '?last_event_id=' + encodeURIComponent(lastId) : ''));
    source.addEventListener('open', onOpen);
    source.addEventListener('message', onMessage);
    source.addEventListener('finish', onFinish);
    source.addEventListener('error', onError);
  }

  /* The Next button: a form that posts to /p/CODE/next sends once (a
   * double click does not skip the next page), and says which page it is
   * on when the page knows (the default page's description, or a template's
   * own <input type="hidden" name="page" value="{{page}}">): the server
   * moves the participant on only from that page, so a stale tab skips
   * nothing either. */
  function guardNextForms() {
    if (!base) return;
    var pageName = null;        /* from the page description, when there is one */
    var data = document.getElementById('live-data');
    if (data) {
      try { pageName = JSON.parse(data.textContent).page; } catch (e) { /* none */ }
    }
    /* on document, so that forms a page adds later are covered too; after
     * the page's own handlers (one that cancels the submit keeps the form
     * usable) */
    document.addEventListener('submit', function (ev) {
      var f = ev.target;
      if (!f || f.tagName !== 'FORM' || (ev.defaultPrevented && !f.getAttribute('data-sent'))) return;
      var action = (f.getAttribute('action') || '').split('?')[0];
      if (!/\/next$/.test(action)) return;
      if (f.getAttribute('data-sent')) {
        ev.preventDefault();
        return;
      }
      f.setAttribute('data-sent', '1');
      if (typeof pageName === 'string' && !f.querySelector('input[name="page"]')) {
        var input = document.createElement('input');
        input.type = 'hidden';
        input.name = 'page';
        input.value = pageName;
        f.appendChild(input);
      }
    });
    /* back to this page from the browser's cache: its forms may send again */
    window.addEventListener('pageshow', function (ev) {
      if (!ev.persisted) return;
      var sent = document.querySelectorAll('form[data-sent]');
      for (var i = 0; i < sent.length; i++) sent[i].removeAttribute('data-sent');
    });
  }

  window.liveSend = liveSend;

  /* Open the stream once the page's own scripts have run, so liveRecv is
   * defined before the first message arrives. */
  if (document.readyState === 'loading') {
    document.addEventListener('DOMContentLoaded', connect);
    document.addEventListener('DOMContentLoaded', guardNextForms);
  } else {
    setTimeout(connect, 0);
    guardNextForms();
  }
})();
