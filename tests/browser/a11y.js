// a11y.js -- accessibility basics measured inside a page (used by the
// browser tests): every form control has a label, and every piece of
// visible text has a WCAG contrast ratio of at least 4.5:1 against the
// background it is drawn on.
'use strict';

/* Runs in the page: [{what, ratio}] for the visible text nodes' elements with
 * the lowest contrast, and the controls without a label. */
function auditInPage() {
  function rgb(s) {
    const m = /rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)/.exec(s || '');
    return m ? { r: +m[1], g: +m[2], b: +m[3], a: m[4] === undefined ? 1 : +m[4] } : null;
  }
  function lum(c) {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c.r) + 0.7152 * f(c.g) + 0.0722 * f(c.b);
  }
  function background(el) {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c && c.a > 0.5) return c;
    }
    return { r: 255, g: 255, b: 255, a: 1 };
  }
  const seen = new Set();
  const low = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || seen.has(el) || !n.textContent.trim()) continue;
    seen.add(el);
    const r = el.getBoundingClientRect();
    const st = getComputedStyle(el);
    if (r.width === 0 || r.height === 0 || st.visibility === 'hidden') continue;
    const fg = rgb(st.color);
    if (!fg) continue;
    let opacity = 1;
    for (let e = el; e; e = e.parentElement) opacity *= +getComputedStyle(e).opacity;
    if (opacity < 0.99) continue;       // disabled controls are exempt (WCAG 1.4.3)
    const bg = background(el);
    const a = lum(fg), b = lum(bg);
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    low.push({ what: el.tagName.toLowerCase() + (el.className ? '.' + el.className : '') +
      ' "' + n.textContent.trim().slice(0, 30) + '"', ratio: Math.round(ratio * 100) / 100 });
  }
  low.sort((x, y) => x.ratio - y.ratio);
  const unlabelled = [];
  document.querySelectorAll('input, select, textarea').forEach((c) => {
    if (c.type === 'hidden') return;
    const named = (c.labels && c.labels.length) || c.getAttribute('aria-label') ||
      c.getAttribute('aria-labelledby');
    if (!named) unlabelled.push(c.outerHTML.slice(0, 80));
  });
  return { lowest: low.slice(0, 3), unlabelled };
}

/* Checks page's labels and contrast; `name` prefixes the check names. */
async function audit(page, name, check) {
  const r = await page.evaluate(auditInPage);
  check(`${name}: every form control has a label`, r.unlabelled.length === 0, r.unlabelled.join(' | '));
  const worst = r.lowest[0];
  check(`${name}: text contrast is at least 4.5:1`, !worst || worst.ratio >= 4.5,
    JSON.stringify(r.lowest));
}

module.exports = { audit };
