#!/usr/bin/env node
// readers.js -- the CSV exports open cleanly in the tools researchers use:
// pandas (Debian's python3-pandas, via /usr/bin/python3) and R (r-base-core,
// Rscript).  Plays chat with awkward text (commas, quotes, a newline,
// non-ASCII, a leading '=', "NA", a string of digits), downloads every
// export and checks that both readers, called as docs/pages.md says (every
// column as text, no missing-value markers), see the same header and exactly
// the text that was sent.  Skips (77) when neither reader is installed;
// checks whichever is.
'use strict';
const { spawnSync } = require('child_process');
const fs = require('fs');
const path = require('path');
const { check, run, tmpdir, compile, Server, http, newSession, admin } = require('../e2e/lib.js');

const TEXTS = ['plain', 'comma, and "quotes"', 'two\nlines', 'ünïcödé ✓ — ok', '=1+1', 'NA', '0011010'];
const PY = '/usr/bin/python3';
const hasPandas = fs.existsSync(PY) && spawnSync(PY, ['-c', 'import pandas'], { encoding: 'utf8' }).status === 0;
const hasR = spawnSync('Rscript', ['--version'], { encoding: 'utf8' }).status === 0;
if (!hasPandas && !hasR) {
  console.log('# SKIP: neither pandas (python3-pandas) nor R (r-base-core) is installed');
  process.exit(77);
}

run(async () => {
  const dir = tmpdir('csv');
  const bin = compile('chat', dir);
  if (!bin) return;
  const srv = new Server(bin, dir);
  const base = await srv.start();
  if (!check('chat server starts', !!base, srv.stderr)) return;
  const s = await newSession(base, 3);
  if (!s) return;
  const who = s.participants[0].code;
  for (const text of TEXTS) {
    const r = await http(base, 'POST', `/p/${who}/live`, { type: 'say', text });
    check(`say ${JSON.stringify(text)} is accepted`, r.status === 200, `${r.status} ${r.text}`);
  }
  // a message refused because the session is closed keeps its type
  let r0 = await http(base, 'POST', `/api/sessions/${s.code}/close`, {}, admin);
  check('the session closes', r0.status === 200, `${r0.status} ${r0.text}`);
  r0 = await http(base, 'POST', `/p/${who}/live`, { type: 'say', text: 'late' });
  check('a message after the close is refused', r0.status === 422 && /closed/.test(r0.text), `${r0.status} ${r0.text}`);
  r0 = await http(base, 'GET', `/api/sessions/${s.code}/export/messages.csv`, undefined, admin);
  const last = r0.text.trim().split('\r\n').pop();
  check('messages.csv logs its type: say', /^[^,]*,[^,]*,say,.*,rejected,the session is closed,/.test(last), last);
  const names = ['players', 'groups', 'messages', 'line'];
  for (const n of names) {
    const r = await http(base, 'GET', `/api/sessions/${s.code}/export/${n}.csv`, undefined, admin);
    check(`${n}.csv downloads`, r.status === 200 && /text\/csv/.test(r.type), `${r.status} ${r.type}`);
    fs.writeFileSync(path.join(dir, `${n}.csv`), r.text);
  }
  const want = JSON.stringify(TEXTS);
  if (hasPandas) {
    const py = `
import json, pandas as pd
out = {}
for n in ${JSON.stringify(names)}:
    d = pd.read_csv(n + ".csv", encoding="utf-8", dtype=str, keep_default_na=False)
    out[n] = {"columns": list(d.columns), "rows": len(d)}
out["text"] = list(pd.read_csv("line.csv", encoding="utf-8", dtype=str, keep_default_na=False)["text"])
print(json.dumps(out))`;
    const r = spawnSync(PY, ['-c', py], { cwd: dir, encoding: 'utf8' });
    let o = null;
    try { o = JSON.parse(r.stdout); } catch (e) { /* reported below */ }
    check('pandas reads every export', r.status === 0 && o, r.stderr);
    if (o) {
      check('pandas: line.csv text is exactly what was said', JSON.stringify(o.text) === want, JSON.stringify(o.text));
      check('pandas: players.csv has a row per participant', o.players.rows === 3, JSON.stringify(o.players));
      check('pandas: messages.csv has a row per message', o.messages.rows === TEXTS.length + 1, JSON.stringify(o.messages));
    }
  } else {
    console.log('# SKIP pandas: python3-pandas is not installed');
  }
  if (hasR) {
    const rs = `
library(utils)
for (n in c(${names.map((n) => `"${n}"`).join(', ')})) {
  d <- read.csv(paste0(n, ".csv"), encoding = "UTF-8", colClasses = "character", na.strings = character(0))
  cat(n, nrow(d), paste(names(d), collapse = ","), "\\n", sep = "\\t")
}
d <- read.csv("line.csv", encoding = "UTF-8", colClasses = "character", na.strings = character(0))
writeLines(paste0("TEXT\\t", paste(sapply(d$text, function(t) gsub("\\n", "\\\\n", t, fixed = TRUE)), collapse = "|")))`;
    const r = spawnSync('Rscript', ['-e', rs], { cwd: dir, encoding: 'utf8' });
    check('R reads every export', r.status === 0 && new RegExp(`^line\t${TEXTS.length}\t`, 'm').test(r.stdout), r.stderr + r.stdout);
    const m = r.stdout.match(/^TEXT\t(.*)$/m);
    const got = m ? m[1] : '';
    check('R: line.csv text is exactly what was said',
      got === TEXTS.map((t) => t.replace(/\n/g, '\\n')).join('|'), got);
  } else {
    console.log('# SKIP R: r-base-core is not installed');
  }
  await srv.stop();
});
