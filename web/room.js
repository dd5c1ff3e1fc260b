/*
 * room.js -- the wait page of a room (web/room.html, served at /room/NAME
 * while the participant's group is not full).  Asks GET /room/NAME/status
 * (the seat cookie identifies the participant) every POLL_MS:
 *   200 {"room", "code", "url", "group", "id_in_group", "arrived", "needed", "ready"}
 * shows "k of N participants have arrived", and goes to `url` (the
 * participant's page) once `ready`.  Errors (the session was closed, the
 * server restarts) are shown and the page keeps asking.  Text only, never
 * HTML.
 */
(function () {
  'use strict';

  /* How often the status is asked for (ms). */
  var POLL_MS = 1000;

  var statusNode = document.getElementById('room-status');
  var url = window.location.pathname.replace(/\/+$/, '') + '/status';

  function show(text, bad) {
    statusNode.textContent = text;
    statusNode.className = bad ? 'error' : '';
  }

  function poll() {
    fetch(url, { credentials: 'same-origin', cache: 'no-store' }).then(function (res) {
      return res.json().then(function (j) {
        if (!res.ok) throw new Error(j && j.error ? j.error : 'the server answered ' + res.status);
        return j;
      });
    }).then(function (j) {
      if (j.ready && typeof j.url === 'string') {
        show('Everyone is here. Starting…');
        window.location.replace(j.url);
        return;
      }
      show(j.arrived + ' of ' + j.needed + ' participants of your group have arrived.');
      setTimeout(poll, POLL_MS);
    }).catch(function (e) {
      show('Cannot check the room right now (' + e.message + '). Trying again…', true);
      setTimeout(poll, POLL_MS);
    });
  }

  poll();
})();
