/*
 * live-page.js -- builds the default live page (web/live.html) from the
 * page description the server embeds as JSON in
 * <script type="application/json" id="live-data">:
 *
 *   {"title", "code", "id_in_group", "page",
 *    "messages": [{"name", "fields": [{"name", "type": "int"|"float"|"bool"|
 *      "string", "required", "default", "min", "max", "choices", "max_len"}]}]}
 *
 * It shows every message this player receives (newest at the bottom, as
 * pretty JSON inserted as text, never as HTML) and one form per message type
 * whose inputs follow the field rules: numbers with min/max and step, a
 * select for choices, a checkbox for bool, text with maxlength, defaults
 * pre-filled.  A send the server refuses shows its reason beside the form; an
 * accepted one is acknowledged and the form goes back to its defaults.
 * Loaded after /live.js, which provides liveSend and calls liveRecv.
 */
(function () {
  'use strict';

  /* Entries kept in the message log; older ones are dropped. */
  var LOG_MAX = 500;
  /* How close to the bottom (px) the log must be to follow new messages. */
  var FOLLOW_SLACK_PX = 40;
  /* How long an acknowledgement stays visible (ms). */
  var ACK_MS = 4000;

  var STATUS_TEXT = {
    connecting: 'connecting…',
    open: 'connected',
    reconnecting: 'reconnecting…',
    closed: 'disconnected, retrying…'
  };

  /* Creates an element with a class and text (text is never parsed as HTML). */
  function el(tag, className, text) {
    var e = document.createElement(tag);
    if (className) e.className = className;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  /* Reads the page description; an empty one if it is missing or broken. */
  function readData() {
    var node = document.getElementById('live-data');
    try {
      var d = JSON.parse(node ? node.textContent : '');
      if (d && typeof d === 'object') return d;
    } catch (e) {
      if (window.console) console.error('live-page.js: bad #live-data JSON', e);
    }
    return { messages: [] };
  }

  var data = readData();
  var messages = Array.isArray(data.messages) ? data.messages : [];

  /* ---- header ---------------------------------------------------------- */

  if (typeof data.title === 'string') {
    document.getElementById('title').textContent = data.title;
    document.title = data.title;
  }
  if (data.id_in_group !== undefined && data.id_in_group !== null) {
    document.getElementById('who').textContent = 'You are player ' + data.id_in_group;
  }
  if (typeof data.page === 'string') {
    document.getElementById('page-name').textContent = 'page ' + data.page;
  }

  var statusNode = document.getElementById('status');
  document.addEventListener('livestatus', function (ev) {
    var state = ev.detail && ev.detail.state;
    statusNode.textContent = STATUS_TEXT[state] || String(state);
    statusNode.className = 'status ' + state;
  });

  /* ---- the log of received messages ------------------------------------- */

  var log = document.getElementById('log');
  var logEmpty = document.getElementById('log-empty');

  function timeNow() {
    var d = new Date();
    function two(n) { return (n < 10 ? '0' : '') + n; }
    return two(d.getHours()) + ':' + two(d.getMinutes()) + ':' + two(d.getSeconds());
  }

  window.liveRecv = function (msg) {
    var follow = log.scrollHeight - log.scrollTop - log.clientHeight < FOLLOW_SLACK_PX;
    var li = el('li');
    li.appendChild(el('span', 'when', timeNow()));
    li.appendChild(el('pre', null, JSON.stringify(msg, null, 2)));
    log.appendChild(li);
    while (log.children.length > LOG_MAX) log.removeChild(log.firstChild);
    if (logEmpty) { logEmpty.remove(); logEmpty = null; }
    if (follow) log.scrollTop = log.scrollHeight;
  };

  /* ---- one form per message type ---------------------------------------- */

  var uid = 0;

  /* Text describing a field's rules, e.g. "whole number, 1 to 1000". */
  function hintOf(f) {
    var parts = [];
    if (f.type === 'int') parts.push('whole number');
    else if (f.type === 'float') parts.push('number');
    else if (f.type === 'bool') parts.push('yes / no');
    else parts.push('text');
    if (f.min !== null && f.min !== undefined && f.max !== null && f.max !== undefined) {
      parts.push(f.min + ' to ' + f.max);
    }
    if (Array.isArray(f.choices)) parts.push('pick one');
    else if (f.type === 'string' && typeof f.max_len === 'number') parts.push('up to ' + f.max_len + ' characters');
    if (!f.required) {
      parts.push(f.default === null || f.default === undefined
        ? 'optional' : 'optional, default ' + JSON.stringify(f.default));
    }
    return parts.join(', ');
  }

  /* Builds the input of field `f`.  Returns {node, read} where read()
   * gives {has: bool, value} -- has false when an optional number is left
   * empty, so the server applies the default. */
  function inputFor(f, id) {
    var input;
    var hasDefault = f.default !== null && f.default !== undefined;

    if (Array.isArray(f.choices)) {
      input = el('select');
      if (!hasDefault) {
        var none = el('option', null, 'choose…');
        none.value = '';
        input.appendChild(none);
      }
      f.choices.forEach(function (c, i) {
        var o = el('option', null, c);
        o.value = String(i);
        if (hasDefault && c === f.default) o.defaultSelected = true;
        input.appendChild(o);
      });
      if (f.required) input.required = true;
      input.id = id;
      return {
        node: input,
        read: function () {
          if (input.value === '') return { has: false };
          return { has: true, value: f.choices[Number(input.value)] };
        }
      };
    }

    if (f.type === 'bool') {
      input = el('input');
      input.type = 'checkbox';
      input.defaultChecked = f.default === true;
      input.id = id;
      return { node: input, read: function () { return { has: true, value: input.checked }; } };
    }

    if (f.type === 'int' || f.type === 'float') {
      input = el('input');
      input.type = 'number';
      input.inputMode = f.type === 'int' ? 'numeric' : 'decimal';
      input.step = f.type === 'int' ? '1' : 'any';
      if (typeof f.min === 'number') input.min = String(f.min);
      if (typeof f.max === 'number') input.max = String(f.max);
      if (hasDefault) input.defaultValue = String(f.default);
      if (f.required) input.required = true;
      input.id = id;
      return {
        node: input,
        read: function () {
          if (input.value === '') return { has: false };
          return { has: true, value: Number(input.value) };
        }
      };
    }

    /* string: always sent, even empty ("" is a valid value) */
    input = el('input');
    input.type = 'text';
    if (typeof f.max_len === 'number') input.maxLength = f.max_len;
    if (hasDefault) input.defaultValue = String(f.default);
    input.autocomplete = 'off';
    input.id = id;
    return { node: input, read: function () { return { has: true, value: input.value }; } };
  }

  function buildForm(m) {
    var form = el('form', 'msg');
    var headingId = 'msg-' + (++uid);
    var h = el('h3', null, m.name);
    h.id = headingId;
    form.setAttribute('aria-labelledby', headingId);
    form.appendChild(h);

    var readers = [];
    (Array.isArray(m.fields) ? m.fields : []).forEach(function (f) {
      var id = 'f-' + (++uid);
      var input = inputFor(f, id);
      var row = el('div', f.type === 'bool' && !Array.isArray(f.choices) ? 'field check' : 'field');
      var label = el('label', null, f.name);
      label.htmlFor = id;
      if (f.required) {
        var star = el('span', 'req', ' *');
        star.setAttribute('aria-hidden', 'true');
        label.appendChild(star);
      }
      var hintId = id + '-hint';
      var hint = el('span', 'hint', ' (' + hintOf(f) + ')');
      hint.id = hintId;
      input.node.setAttribute('aria-describedby', hintId);
      if (f.type === 'bool' && !Array.isArray(f.choices)) {
        row.appendChild(input.node);
        row.appendChild(document.createTextNode(' '));
        row.appendChild(label);
        row.appendChild(hint);
      } else {
        label.appendChild(hint);
        row.appendChild(label);
        row.appendChild(input.node);
      }
      form.appendChild(row);
      readers.push({ name: f.name, read: input.read });
    });

    var button = el('button', null, 'Send ' + m.name);
    button.type = 'submit';
    var result = el('span', 'result');
    result.setAttribute('role', 'status');
    result.setAttribute('aria-live', 'polite');
    form.appendChild(button);
    form.appendChild(result);

    var ackTimer = null;
    form.addEventListener('submit', function (ev) {
      ev.preventDefault();
      var body = { type: m.name };
      readers.forEach(function (r) {
        var v = r.read();
        if (v.has) body[r.name] = v.value;
      });
      button.disabled = true;
      result.className = 'result';
      result.textContent = 'sending…';
      if (ackTimer) { clearTimeout(ackTimer); ackTimer = null; }
      window.liveSend(body).then(function () {
        result.className = 'result ok';
        result.textContent = 'sent ✓';
        form.reset();
        ackTimer = setTimeout(function () { result.textContent = ''; }, ACK_MS);
      }, function (err) {
        result.className = 'result bad';
        result.textContent = 'refused: ' + (err && err.message ? err.message : String(err));
      }).then(function () {
        button.disabled = false;
      });
    });
    return form;
  }

  var forms = document.getElementById('forms');
  if (messages.length === 0) {
    forms.appendChild(el('p', 'muted', 'This game declares no messages.'));
  }
  messages.forEach(function (m) { forms.appendChild(buildForm(m)); });
})();
