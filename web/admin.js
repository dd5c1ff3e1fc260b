/*
 * admin.js -- the monitor page (web/admin.html, served at /admin).
 *
 * Talks to the admin JSON API of the same server with the session cookie
 * that POST /admin/login set (PROTOCOL.md, HTTP table):
 *   GET  /api/sessions             [{code, created, participants, groups, closed}]
 *                                  (participants / groups: the game's group size)
 *   POST /api/sessions {"participants": N}
 *                                  201 {code, participants: [{code, url, group, id_in_group}]}
 *   GET  /api/sessions/S           {code, created, closed, groups: [{id, fields,
 *                                  players: [{code, id_in_group, page, fields}],
 *                                  tables: {NAME: [rows]}, error: null or
 *                                  {time, text} (a runtime error of a timer
 *                                  handler or of on load), recent: [{time, id_in_group, type,
 *                                  body, outcome, reason}]}]}
 *   GET  /api/sessions/S/export/NAME.csv
 *   GET  /api/sessions/S/events    SSE: `event: change`, data {"group": G}
 *                                  after each committed change of the session
 *   POST /api/sessions/S/close     200 {code, closed: true}
 *   GET  /api/rooms                [{name, session, url, participants, arrived, closed}]
 *   POST /api/rooms {"name", "participants"}   201 as POST /api/sessions + {room, url}
 *   GET  /api/database             the SQLite file (a download link)
 * Any 401 shows the login form instead.  The selected session (kept in the
 * URL's #fragment, so a reload keeps it) is fetched again whenever its
 * event stream reports a change (at most every REFRESH_MIN_MS), and every
 * FALLBACK_POLL_MS anyway (every POLL_MS while the stream is down); it is
 * redrawn only when its state changed.  Everything received is inserted as
 * text, never as HTML: a message body is the participant's text as sent,
 * which may be anything (even not JSON).
 *
 * The page learns the game's group size from the session list (every
 * session has participants = groups x group size; the server makes a demo
 * session at its first start): the participant counts of "New session" and
 * "Open room" then start at it and step by it.  Without any session they
 * keep the page's default.
 */
(function () {
  'use strict';

  /* How often the selected session's state is fetched while its event
   * stream is not open (ms). */
  var POLL_MS = 2000;
  /* ... and while it is open: the stream says when to fetch (ms). */
  var FALLBACK_POLL_MS = 15000;
  /* Shortest time between two fetches caused by change events (ms), and
   * at least this many times the last fetch took: the server builds the
   * state on the game thread, which runs every session's messages meanwhile
   * (a 10,000-participant session takes ~0.3 s; the monitor then keeps the
   * game thread busy for at most a tenth of the time). */
  var REFRESH_MIN_MS = 250;
  var REFRESH_TIMES = 10;
  /* How often the list of sessions is fetched (ms). */
  var LIST_POLL_MS = 10000;

  var $ = function (id) { return document.getElementById(id); };
  var selected = decodeURIComponent(window.location.hash.replace(/^#/, '')) || null;
  var lastStateText = null;
  var pollTimer = null;
  var listTimer = null;
  var loggedOut = false;
  var watch = null;           /* EventSource of the selected session */
  var watchOpen = false;
  var lastFetch = 0;
  var lastFetchTook = 0;      /* ms the last state fetch took */
  var changeTimer = null;
  var groupSize = 0;          /* the game's players per group, once known */

  /* Creates an element with a class and text (never parsed as HTML). */
  function el(tag, className, text) {
    var e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); }

  /* A value of a field or cell, as text. */
  function show(v) {
    if (v === null || v === undefined) return '';
    if (typeof v === 'object') return JSON.stringify(v);
    return String(v);
  }

  /* `created` may be Unix seconds, milliseconds or a string. */
  function showTime(t) {
    if (typeof t === 'number') {
      var d = new Date(t > 1e11 ? t : t * 1000);
      return d.toLocaleString();
    }
    return show(t);
  }

  function participantUrl(code) {
    return window.location.origin + '/p/' + encodeURIComponent(code);
  }

  function problem(text) {
    var p = $('problem');
    p.textContent = text || '';
    p.hidden = !text;
  }

  /* Switches to the login form (the API answered 401).  After a login that
   * worked, a 401 means the server restarted (a new login token): say so. */
  function needLogin() {
    var wasIn = !$('app').hidden;
    loggedOut = true;
    if (watch) { watch.close(); watch = null; }
    if (pollTimer) { clearTimeout(pollTimer); pollTimer = null; }
    if (listTimer) { clearTimeout(listTimer); listTimer = null; }
    $('app').hidden = true;
    $('signed-in').hidden = true;
    $('login').hidden = false;
    $('login-error').hidden = !/(^|[?&])error=/.test(window.location.search);
    $('login-expired').hidden = !wasIn;
    $('password').focus();
  }

  /* Calls the API.  Resolves with {status, json}; a 401 switches to the
   * login form and rejects; other failures reject with an Error. */
  function api(method, path, body) {
    var init = { method: method, credentials: 'same-origin', headers: {} };
    if (body !== undefined) {
      init.headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return fetch(path, init).then(function (res) {
      return res.text().then(function (text) {
        var json = null;
        try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
        if (res.status === 401) {
          needLogin();
          throw new Error('login required');
        }
        if (!res.ok) {
          throw new Error(json && json.error ? json.error : method + ' ' + path + ': ' + res.status);
        }
        return { status: res.status, json: json, text: text };
      });
    });
  }

  /* ---- the list of sessions -------------------------------------------- */

  function renderSessions(list) {
    var body = $('sessions');
    clear(body);
    $('no-sessions').hidden = list.length > 0;
    list.forEach(function (s) {
      var tr = el('tr');
      tr.setAttribute('data-code', s.code);
      if (s.code === selected) tr.className = 'selected';
      var td = el('td');
      var a = el('a', 'mono', s.code);
      a.href = '#' + encodeURIComponent(s.code);
      if (s.code === selected) a.setAttribute('aria-current', 'true');
      td.appendChild(a);
      tr.appendChild(td);
      tr.appendChild(el('td', null, showTime(s.created)));
      tr.appendChild(el('td', null, show(s.participants)));
      tr.appendChild(el('td', null, show(s.groups)));
      tr.appendChild(el('td', s.closed ? 'bad' : null, s.closed ? 'closed' : 'open'));
      body.appendChild(tr);
    });
  }

  function loadSessions() {
    if (listTimer) { clearTimeout(listTimer); listTimer = null; }
    return api('GET', '/api/sessions').then(function (r) {
      $('app').hidden = false;
      $('signed-in').hidden = false;
      $('login').hidden = true;
      var list = Array.isArray(r.json) ? r.json : [];
      learnGroupSize(list);
      renderSessions(list);
      loadRooms();
      if (!selected && list.length) {   /* the newest session */
        var newest = list[0];
        list.forEach(function (s) { if (s.created > newest.created) newest = s; });
        select(newest.code);
      }
    }).catch(function (e) {
      if (!loggedOut) problem('Cannot list the sessions: ' + e.message);
    }).then(function () {
      if (!loggedOut) listTimer = setTimeout(loadSessions, LIST_POLL_MS);
    });
  }

  /* ---- the group size ------------------------------------------------------ */

  /* Participant counts the user typed are kept; the others follow the group
   * size. */
  ['participants', 'room-participants'].forEach(function (id) {
    $(id).addEventListener('input', function () { $(id).setAttribute('data-typed', '1'); });
  });

  /* Learns the group size from the session list (participants / groups of
   * any session) and makes it the participant counts' default, min and step. */
  function learnGroupSize(list) {
    if (groupSize) return;
    for (var i = 0; i < list.length && !groupSize; i++) {
      var s = list[i];
      if (typeof s.participants === 'number' && typeof s.groups === 'number' && s.groups > 0 &&
          s.participants > 0 && s.participants % s.groups === 0) {
        groupSize = s.participants / s.groups;
      }
    }
    if (!groupSize) return;
    ['participants', 'room-participants'].forEach(function (id) {
      var input = $(id);
      input.min = String(groupSize);
      input.step = String(groupSize);
      if (!input.hasAttribute('data-typed')) input.value = String(groupSize);
    });
    var hints = document.querySelectorAll('.group-size');
    for (var k = 0; k < hints.length; k++) hints[k].textContent = ', ' + groupSize;
  }

  /* ---- creating a session ---------------------------------------------- */

  $('create').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var n = Number($('participants').value);
    var result = $('create-result');
    result.className = 'result';
    result.textContent = 'creating…';
    api('POST', '/api/sessions', { participants: n }).then(function (r) {
      result.className = 'result ok';
      result.textContent = 'created session ' + r.json.code + ' ✓';
      select(r.json.code);
      loadSessions();
    }).catch(function (e) {
      result.className = 'result bad';
      result.textContent = loggedOut ? '' : 'refused: ' + e.message;
    });
  });

  /* ---- the selected session --------------------------------------------- */

  /* A copy button for `text`; falls back to selecting `input`. */
  function copyButton(text, input) {
    var b = el('button', 'secondary', 'Copy');
    b.type = 'button';
    b.addEventListener('click', function () {
      var done = function () {
        b.textContent = 'Copied ✓';
        setTimeout(function () { b.textContent = 'Copy'; }, 1500);
      };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () { input.select(); });
      } else {
        input.select();
        try { if (document.execCommand('copy')) done(); } catch (e) { /* selected: copy by hand */ }
      }
    });
    return b;
  }

  /* A table of rows (objects) with the union of their keys as columns.
   * opts.className: the wrapper's extra class; opts.cut: columns whose cells
   * show one line cut with an ellipsis (the whole text in the title and in
   * the DOM, for screen readers and copying).  With opts.className each
   * cell's class also names its column (col-NAME) for the style sheet. */
  function rowsTable(rows, caption, opts) {
    opts = opts || {};
    var cols = [];
    rows.forEach(function (r) {
      Object.keys(r || {}).forEach(function (k) { if (cols.indexOf(k) < 0) cols.push(k); });
    });
    var idAt = cols.indexOf('id');
    if (idAt > 0) { cols.splice(idAt, 1); cols.unshift('id'); }
    var wrap = el('div', 'scroll' + (opts.className ? ' ' + opts.className : ''));
    var t = el('table');
    if (caption) t.appendChild(el('caption', 'muted small', caption));
    var head = el('tr');
    cols.forEach(function (c) { var th = el('th', null, c); th.scope = 'col'; head.appendChild(th); });
    var thead = el('thead'); thead.appendChild(head); t.appendChild(thead);
    var tbody = el('tbody');
    rows.forEach(function (r) {
      var tr = el('tr');
      cols.forEach(function (c) {
        var text = show(r ? r[c] : '');
        var td = el('td', opts.className ? 'mono col-' + c : 'mono');
        if (opts.cut && opts.cut.indexOf(c) >= 0) {
          var inner = el('div', 'cut', text);
          if (text) inner.title = text;
          td.appendChild(inner);
        } else {
          td.textContent = text;
        }
        tr.appendChild(td);
      });
      tbody.appendChild(tr);
    });
    t.appendChild(tbody);
    wrap.appendChild(t);
    return wrap;
  }

  function renderGroup(g) {
    var card = el('section', 'card');
    card.appendChild(el('h3', null, 'Group ' + g.id));
    if (g.error && typeof g.error.text === 'string') {
      /* a timer handler or an `on load` failed: nobody was answered (and a
       * timer does not fire again, so the group may be stuck) */
      var when = typeof g.error.time === 'number' ? new Date(g.error.time).toLocaleTimeString() : '';
      var timer = /^on timer /.test(g.error.text);
      var box = el('p', 'error', 'Runtime error at ' + when + ' in ' + g.error.text +
                   (timer ? ' (the timer does not fire again)' : ''));
      box.setAttribute('role', 'alert');
      card.appendChild(box);
    }

    var fields = g.fields || {};
    var keys = Object.keys(fields);
    if (keys.length) {
      var kv = el('table', 'kv');
      var body = el('tbody');
      keys.forEach(function (k) {
        var tr = el('tr');
        var th = el('th', null, k); th.scope = 'row';
        tr.appendChild(th);
        tr.appendChild(el('td', 'mono', show(fields[k])));
        body.appendChild(tr);
      });
      kv.appendChild(body);
      card.appendChild(kv);
    }

    var players = Array.isArray(g.players) ? g.players : [];
    var pcols = [];
    players.forEach(function (p) {
      Object.keys(p.fields || {}).forEach(function (k) { if (pcols.indexOf(k) < 0) pcols.push(k); });
    });
    var wrap = el('div', 'scroll links');
    var t = el('table');
    var head = el('tr');
    ['Player', 'Page', 'Link'].concat(pcols).forEach(function (c) {
      var th = el('th', null, c); th.scope = 'col'; head.appendChild(th);
    });
    var thead = el('thead'); thead.appendChild(head); t.appendChild(thead);
    var tbody = el('tbody');
    players.forEach(function (p) {
      var tr = el('tr');
      tr.appendChild(el('td', null, p.id_in_group));
      tr.appendChild(el('td', 'mono', p.page));
      var td = el('td');
      var url = participantUrl(p.code);
      var input = el('input');
      input.type = 'text';
      input.readOnly = true;
      input.value = url;
      input.setAttribute('aria-label', 'link of player ' + p.id_in_group + ' in group ' + g.id);
      input.addEventListener('focus', function () { input.select(); });
      td.appendChild(input);
      td.appendChild(document.createTextNode(' '));
      td.appendChild(copyButton(url, input));
      td.appendChild(document.createTextNode(' '));
      var open = el('a', null, 'open');
      open.href = url;
      open.target = '_blank';
      open.rel = 'noopener';
      td.appendChild(open);
      tr.appendChild(td);
      pcols.forEach(function (c) { tr.appendChild(el('td', 'mono', show((p.fields || {})[c]))); });
      tbody.appendChild(tr);
    });
    t.appendChild(tbody);
    wrap.appendChild(t);
    card.appendChild(wrap);

    var recent = Array.isArray(g.recent) ? g.recent : [];
    if (recent.length) {
      /* body: the text the participant sent, whatever it is; long ones are
       * cut (and type, which a participant may make long too), reasons
       * wrap: every column stays in view */
      card.appendChild(el('h3', null, 'Recent messages (newest first)'));
      card.appendChild(rowsTable(recent.map(function (m) {
        return {
          time: typeof m.time === 'number' ? new Date(m.time).toLocaleTimeString() : show(m.time),
          player: m.id_in_group, type: m.type, body: m.body,
          outcome: m.outcome, reason: m.reason
        };
      }), null, { className: 'recent', cut: ['type', 'body'] }));
    }

    var tables = g.tables || {};
    Object.keys(tables).forEach(function (name) {
      var rows = Array.isArray(tables[name]) ? tables[name] : [];
      card.appendChild(el('h3', null, 'Table ' + name + ' (' + rows.length + ' rows)'));
      if (rows.length) card.appendChild(rowsTable(rows));
    });
    return card;
  }

  function renderState(code, state) {
    $('detail').hidden = false;
    $('detail-heading').textContent = 'Session ' + code;
    var closed = !!(state && state.closed);
    $('closed-note').hidden = !closed;
    $('close-session').hidden = closed;
    var base = '/api/sessions/' + encodeURIComponent(code) + '/export/';
    $('csv-players').href = base + 'players.csv';
    $('csv-groups').href = base + 'groups.csv';
    $('csv-messages').href = base + 'messages.csv';
    $('csv-draws').href = base + 'random-draws.csv';

    var groups = Array.isArray(state && state.groups) ? state.groups : [];
    var tableNames = [];
    groups.forEach(function (g) {
      Object.keys(g.tables || {}).forEach(function (n) { if (tableNames.indexOf(n) < 0) tableNames.push(n); });
    });
    var extra = $('csv-tables');
    clear(extra);
    tableNames.forEach(function (n) {
      extra.appendChild(document.createTextNode(' · '));
      var a = el('a', null, n);
      a.href = base + encodeURIComponent(n) + '.csv';
      extra.appendChild(a);
    });

    var box = $('groups');
    clear(box);
    if (!groups.length) box.appendChild(el('p', 'muted', 'This session has no groups.'));
    groups.forEach(function (g) { box.appendChild(renderGroup(g)); });
  }

  function poll() {
    if (pollTimer) { clearTimeout(pollTimer); pollTimer = null; }
    if (!selected || loggedOut) return;
    var code = selected;
    lastFetch = Date.now();
    api('GET', '/api/sessions/' + encodeURIComponent(code)).then(function (r) {
      lastFetchTook = Date.now() - lastFetch;
      if (code !== selected) return;
      problem('');
      if (r.text !== lastStateText) {
        lastStateText = r.text;
        renderState(code, r.json);
      }
      $('updated').textContent = (watchOpen ? 'live · ' : '') + 'updated ' +
        new Date().toLocaleTimeString();
    }).catch(function (e) {
      if (!loggedOut) problem('Cannot read session ' + code + ': ' + e.message);
    }).then(function () {
      if (!loggedOut && code === selected && !pollTimer) {
        pollTimer = setTimeout(poll, Math.max(watchOpen ? FALLBACK_POLL_MS : POLL_MS,
                                              REFRESH_TIMES * lastFetchTook));
      }
    });
  }

  /* A change event: fetch the state again, at most every REFRESH_MIN_MS. */
  function changed() {
    if (changeTimer) return;
    var gap = Math.max(REFRESH_MIN_MS, REFRESH_TIMES * lastFetchTook);
    var wait = Math.max(0, lastFetch + gap - Date.now());
    changeTimer = setTimeout(function () { changeTimer = null; poll(); }, wait);
  }

  /* Follows the event stream of session `code` (closing the previous one). */
  function watchSession(code) {
    if (watch) { watch.close(); watch = null; }
    watchOpen = false;
    if (typeof EventSource !== 'function' || loggedOut) return;
    var es = new EventSource('/api/sessions/' + encodeURIComponent(code) + '/events');
    watch = es;
    es.addEventListener('open', function () {
      if (watch !== es) return;
      watchOpen = true;
      changed();              /* whatever happened while it was down */
    });
    es.addEventListener('change', function () { if (watch === es) changed(); });
    es.addEventListener('error', function () {
      if (watch !== es) return;
      watchOpen = false;      /* EventSource retries; polling covers the gap */
      if (es.readyState === EventSource.CLOSED) {
        watch = null;
        setTimeout(function () { if (!watch && selected === code && !loggedOut) watchSession(code); }, POLL_MS);
      }
    });
  }

  /* ---- closing a session, rooms ------------------------------------------ */

  $('close-session').addEventListener('click', function () {
    var code = selected;
    if (!code) return;
    if (!window.confirm('Close session ' + code + '? Its participants cannot send anything afterwards.')) return;
    var result = $('close-result');
    result.className = 'result';
    result.textContent = 'closing…';
    api('POST', '/api/sessions/' + encodeURIComponent(code) + '/close').then(function () {
      result.className = 'result ok';
      result.textContent = 'closed ✓';
      lastStateText = null;
      poll();
      loadSessions();
    }).catch(function (e) {
      result.className = 'result bad';
      result.textContent = loggedOut ? '' : 'refused: ' + e.message;
    });
  });

  function renderRooms(list) {
    var body = $('rooms');
    clear(body);
    $('no-rooms').hidden = list.length > 0;
    list.forEach(function (r) {
      var tr = el('tr');
      tr.appendChild(el('td', 'mono', r.name));
      var td = el('td');
      var url = window.location.origin + r.url;
      var input = el('input');
      input.type = 'text';
      input.readOnly = true;
      input.value = url;
      input.setAttribute('aria-label', 'link of room ' + r.name);
      input.addEventListener('focus', function () { input.select(); });
      td.appendChild(input);
      td.appendChild(document.createTextNode(' '));
      td.appendChild(copyButton(url, input));
      tr.appendChild(td);
      tr.appendChild(el('td', null, show(r.arrived) + ' of ' + show(r.participants) +
        (r.closed ? ' (closed)' : '')));
      var st = el('td');
      var a = el('a', 'mono', r.session);
      a.href = '#' + encodeURIComponent(r.session);
      st.appendChild(a);
      tr.appendChild(st);
      body.appendChild(tr);
    });
  }

  function loadRooms() {
    return api('GET', '/api/rooms').then(function (r) {
      renderRooms(Array.isArray(r.json) ? r.json : []);
    }).catch(function (e) {
      if (!loggedOut) problem('Cannot list the rooms: ' + e.message);
    });
  }

  $('room-create').addEventListener('submit', function (ev) {
    ev.preventDefault();
    var result = $('room-result');
    result.className = 'result';
    result.textContent = 'opening…';
    api('POST', '/api/rooms', {
      name: $('room-name').value, participants: Number($('room-participants').value)
    }).then(function (r) {
      result.className = 'result ok';
      result.textContent = 'room ' + r.json.room + ' opened with session ' + r.json.code + ' ✓';
      loadRooms();
      select(r.json.code);
      loadSessions();
    }).catch(function (e) {
      result.className = 'result bad';
      result.textContent = loggedOut ? '' : 'refused: ' + e.message;
    });
  });

  /* Shows session `code` and starts polling it. */
  function select(code) {
    if (code !== selected) {
      selected = code;
      lastStateText = null;
      if (window.location.hash !== '#' + encodeURIComponent(code)) {
        window.location.hash = encodeURIComponent(code);
      }
      clear($('groups'));
      $('close-result').textContent = '';
    }
    if (!watch || watch.url.indexOf('/api/sessions/' + encodeURIComponent(code) + '/events') < 0) {
      watchSession(code);
    }
    var rows = $('sessions').querySelectorAll('tr');
    for (var i = 0; i < rows.length; i++) {
      rows[i].className = rows[i].getAttribute('data-code') === code ? 'selected' : '';
    }
    poll();
  }

  window.addEventListener('hashchange', function () {
    var code = decodeURIComponent(window.location.hash.replace(/^#/, ''));
    if (code && code !== selected) select(code);
  });

  loadSessions();
  if (selected) select(selected);
})();
