// verso's web console. It reads and writes the tree only through verso's
// HTTP API (docs/HTTP.md) and shows every value as text, never as HTML.
'use strict';
(() => {
  const MOUNT = document.querySelector('meta[name="verso-mount"]').content;
  const PAGE = 200; // children of a namespace per page
  const LOG_PAGE = 100; // commits per page of history
  const view = document.getElementById('view');

  // ---- DOM ---------------------------------------------------------------

  // h builds an element: attributes (on* are listeners), then children
  // (strings become text nodes, null and false are skipped).
  function h(tag, attrs, ...children) {
    const el = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v == null || v === false) continue;
      if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
      else if (k === 'class') el.className = v;
      else if (k === 'value' || k === 'checked') el[k] = v;
      else el.setAttribute(k, v === true ? '' : v);
    }
    append(el, children);
    return el;
  }
  function append(el, children) {
    for (const c of children.flat(Infinity)) {
      if (c == null || c === false) continue;
      el.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return el;
  }
  // showing(n) is the show of the n-th render: it fills the view only while
  // that render is the newest, so a slow answer never replaces a newer view.
  const showing = (n) => (...children) => {
    if (n !== seq) return false;
    view.replaceChildren();
    append(view, children);
    return true;
  };
  const show = (...children) => showing(seq)(...children);
  function errorBox(err) {
    return h('p', { class: 'error', role: 'alert' }, err.message || String(err));
  }

  // ---- paths and links ---------------------------------------------------

  const encodePath = (p) => p.split('/').map(encodeURIComponent).join('/');
  const parent = (p) => p.replace(/\/[^/]*$/, '') || '/';
  const base = (p) => p.slice(p.lastIndexOf('/') + 1);
  const join = (ns, name) => (ns === '/' ? '' : ns) + '/' + name;
  const under = (p, ns) => ns === '/' || p === ns || p.startsWith(ns + '/');

  // link is the hash URL of a view: every view has one, to share.
  function link(v, p, params) {
    const q = new URLSearchParams();
    for (const [k, val] of Object.entries(params || {})) {
      if (val != null && val !== '') q.set(k, val);
    }
    const qs = q.toString();
    return '#/' + v + encodePath(p || '/') + (qs ? '?' + qs : '');
  }
  function parseHash() {
    const raw = location.hash.replace(/^#\/?/, '');
    const [route, qs] = raw.split('?', 2);
    const segs = route.split('/');
    const v = segs.shift() || 'browse';
    const p = '/' + segs.filter((s) => s !== '').map(decodeURIComponent).join('/');
    return { v, p, q: new URLSearchParams(qs || '') };
  }
  const valueURL = (p, rev) => MOUNT + encodePath(p) + (rev ? '?rev=' + rev : '');

  // ---- the API -----------------------------------------------------------

  class APIError extends Error {
    constructor(status, msg, body) {
      super(msg);
      this.status = status;
      this.body = body;
    }
  }

  // call sends a request and returns the response; a status of 400 or
  // more throws an APIError with the server's message. Writes say they
  // come from the console (X-Verso-Console).
  async function call(method, url, opts = {}) {
    const headers = Object.assign({}, opts.headers);
    if (method !== 'GET' && method !== 'HEAD') headers['X-Verso-Console'] = '1';
    let body = opts.body;
    if (opts.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = JSON.stringify(opts.json);
    }
    if (opts.message) headers['X-Verso-Message'] = encodeURIComponent(opts.message);
    const resp = await fetch(url, { method, headers, body, credentials: 'same-origin', cache: 'no-store' });
    if (resp.status >= 400) {
      const text = await resp.text();
      let msg = text.trim();
      let parsed = null;
      try {
        parsed = JSON.parse(text);
        msg = parsed.error || msg;
      } catch (_) { /* plain text error */ }
      throw new APIError(resp.status, msg || resp.status + ' ' + resp.statusText, parsed);
    }
    return resp;
  }
  const getJSON = async (url) => (await call('GET', url)).json();
  const q = (params) => new URLSearchParams(Object.entries(params).filter(([, v]) => v != null && v !== '')).toString();

  const rightsCache = new Map(); // for the view being drawn
  async function rights(p) {
    if (!rightsCache.has(p)) rightsCache.set(p, getJSON('/api/v1/access?' + q({ path: p })));
    try {
      return await rightsCache.get(p);
    } catch (e) {
      rightsCache.delete(p);
      return { read: false, write: false, write_tree: false };
    }
  }

  // ---- formatting --------------------------------------------------------

  function size(n) {
    if (n < 1024) return n + ' B';
    if (n < 1 << 20) return (n / 1024).toFixed(1) + ' KiB';
    return (n / (1 << 20)).toFixed(1) + ' MiB';
  }
  function age(t) {
    const s = (Date.now() - new Date(t).getTime()) / 1000;
    if (!t || isNaN(s)) return '';
    if (s < 60) return 'just now';
    if (s < 3600) return Math.floor(s / 60) + ' min ago';
    if (s < 86400) return Math.floor(s / 3600) + ' h ago';
    return Math.floor(s / 86400) + ' d ago';
  }
  const when = (t) => h('time', { datetime: t, title: new Date(t).toLocaleString() }, age(t));
  const date = (t) => h('time', { datetime: t }, new Date(t).toLocaleString(), ' (', age(t), ')');
  const who = (a) => a || 'anonymous';
  const revLink = (r) => h('a', { href: link('rev', '/' , { r }) }, 'r' + r);

  function crumbs(p, v) {
    const out = [h('a', { href: link(v || 'browse', '/') }, '/')];
    let acc = '';
    const segs = p.split('/').filter(Boolean);
    segs.forEach((s, i) => {
      acc += '/' + s;
      const last = i === segs.length - 1;
      out.push(last ? h('span', { 'aria-current': 'page' }, s) : h('a', { href: link(v || 'browse', acc) }, s), last ? '' : h('span', { class: 'sep' }, '/'));
    });
    return h('nav', { class: 'crumbs', 'aria-label': 'Path' }, out);
  }

  // ---- highlighting: text only, spans with classes -------------------------

  const JSON_TOKENS = /("(?:[^"\\]|\\.)*")(\s*:)?|(-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|\b(true|false|null)\b/g;
  function hlJSON(line) {
    const out = [];
    let last = 0;
    line.replace(JSON_TOKENS, (m, str, colon, num, lit, off) => {
      out.push(line.slice(last, off));
      if (str) out.push(h('span', { class: colon ? 'k' : 's' }, str), colon || '');
      else if (num) out.push(h('span', { class: 'n' }, num));
      else out.push(h('span', { class: 'b' }, lit));
      last = off + m.length;
    });
    out.push(line.slice(last));
    return out;
  }
  function hlYAML(line) {
    const c = line.match(/^(\s*)(#.*)$/);
    if (c) return [c[1], h('span', { class: 'c' }, c[2])];
    const m = line.match(/^(\s*(?:- )?)([^\s#:][^#:]*?)(:)(\s.*|)$/) || line.match(/^(\s*- )()()(.*)$/);
    if (!m) return [line];
    const out = [m[1]];
    if (m[2]) out.push(h('span', { class: 'k' }, m[2]), m[3]);
    const val = m[4];
    const vm = val.match(/^(\s*)(.*?)(\s+#.*)?$/);
    const v = vm[2];
    let cls = '';
    if (/^(true|false|yes|no|on|off|null|~)$/i.test(v)) cls = 'b';
    else if (/^-?\d+(\.\d+)?$/.test(v)) cls = 'n';
    else if (v) cls = 's';
    out.push(vm[1], cls ? h('span', { class: cls }, v) : v);
    if (vm[3]) out.push(h('span', { class: 'c' }, vm[3]));
    return out;
  }
  function syntaxOf(name, ctype, text) {
    if (/json/i.test(ctype) || /\.json$/i.test(name)) return 'json';
    if (/yaml/i.test(ctype) || /\.ya?ml$/i.test(name)) return 'yaml';
    const t = text.trimStart();
    if (t.startsWith('{') || t.startsWith('[')) {
      try {
        JSON.parse(text);
        return 'json';
      } catch (_) { /* not JSON */ }
    }
    return '';
  }
  // codeBlock shows text with line numbers, highlighted as JSON or YAML.
  function codeBlock(text, syntax) {
    const lines = text.split('\n');
    if (lines.length > 1 && lines[lines.length - 1] === '') lines.pop();
    const hl = syntax === 'json' ? hlJSON : syntax === 'yaml' ? hlYAML : (l) => [l];
    return h('pre', { class: 'code', tabindex: '0', 'aria-label': 'Value' },
      lines.map((l) => h('span', { class: 'line' }, hl(l), '\n')));
  }

  // ---- diffs -------------------------------------------------------------

  // parseUnified turns a unified diff into rows: {kind: hunk|ctx|del|add,
  // old, new (line numbers), text}.
  function parseUnified(diff) {
    const rows = [];
    let o = 0;
    let n = 0;
    for (const line of diff.split('\n')) {
      if (line.startsWith('---') || line.startsWith('+++') || line.startsWith('\\') || line === '') continue;
      const m = line.match(/^@@ -(\d+)(?:,\d+)? \+(\d+)(?:,\d+)? @@/);
      if (m) {
        o = +m[1];
        n = +m[2];
        rows.push({ kind: 'hunk', text: line });
      } else if (line[0] === '-') rows.push({ kind: 'del', old: o++, text: line.slice(1) });
      else if (line[0] === '+') rows.push({ kind: 'add', new: n++, text: line.slice(1) });
      else rows.push({ kind: 'ctx', old: o++, new: n++, text: line.slice(1) });
    }
    return rows;
  }
  function unifiedTable(rows) {
    const sign = { del: '-', add: '+', ctx: ' ' };
    return h('table', { class: 'diff unified' }, h('tbody', null, rows.map((r) => r.kind === 'hunk'
      ? h('tr', { class: 'hunk' }, h('td', { colspan: '3' }, r.text))
      : h('tr', { class: r.kind },
        h('td', { class: 'num' }, r.old ?? ''), h('td', { class: 'num' }, r.new ?? ''),
        h('td', { class: 'text' }, sign[r.kind] + r.text)))));
  }
  // splitTable pairs each run of deleted lines with the added lines after it.
  function splitTable(rows) {
    const out = [];
    for (let i = 0; i < rows.length;) {
      const r = rows[i];
      if (r.kind === 'hunk') {
        out.push(h('tr', { class: 'hunk' }, h('td', { colspan: '4' }, r.text)));
        i++;
      } else if (r.kind === 'ctx') {
        out.push(h('tr', { class: 'ctx' }, h('td', { class: 'num' }, r.old), h('td', { class: 'text' }, r.text),
          h('td', { class: 'num' }, r.new), h('td', { class: 'text' }, r.text)));
        i++;
      } else {
        const dels = [];
        const adds = [];
        while (i < rows.length && rows[i].kind === 'del') dels.push(rows[i++]);
        while (i < rows.length && rows[i].kind === 'add') adds.push(rows[i++]);
        for (let j = 0; j < Math.max(dels.length, adds.length); j++) {
          const d = dels[j];
          const a = adds[j];
          out.push(h('tr', null,
            h('td', { class: 'num' }, d ? d.old : ''), h('td', { class: d ? 'text del' : 'text none' }, d ? d.text : ''),
            h('td', { class: 'num' }, a ? a.new : ''), h('td', { class: a ? 'text add' : 'text none' }, a ? a.text : '')));
        }
      }
    }
    return h('table', { class: 'diff split' }, h('tbody', null, out));
  }
  // diffView renders the answer of /api/v1/diff: the changed paths, then
  // each change, unified or side by side.
  function diffView(d, mode) {
    if (!d.changes.length) return [h('p', { class: 'muted' }, 'No differences.')];
    const list = h('ul', { class: 'paths', 'aria-label': 'Changed paths' }, d.changes.map((c, i) =>
      h('li', null, h('span', { class: 'badge ' + c.status }, c.status), ' ',
        h('a', { href: '#', onclick: (e) => { e.preventDefault(); document.getElementById('change-' + i).scrollIntoView(); } }, c.path),
        c.kind === 'namespace' ? ' (namespace)' : '')));
    const blocks = d.changes.map((c, i) => {
      let body;
      if (c.kind === 'namespace') body = h('p', { class: 'muted' }, 'Namespace ' + c.status + '.');
      else if (c.binary) {
        body = h('p', null, 'Binary value. ',
          c.old ? 'Before: ' + size(c.old.size) + ', SHA-256 ' + c.old.sha256 + '. ' : '',
          c.new ? 'After: ' + size(c.new.size) + ', SHA-256 ' + c.new.sha256 + '.' : '');
      } else if (c.diff) {
        const rows = parseUnified(c.diff);
        body = h('div', { class: 'scroll' }, mode === 'split' ? splitTable(rows) : unifiedTable(rows));
      } else body = h('p', { class: 'muted' }, c.props_changed ? 'Only properties changed.' : 'Empty value.');
      return h('section', { class: 'change', id: 'change-' + i },
        h('h3', null, h('span', { class: 'badge ' + c.status }, c.status), ' ', c.path), body);
    });
    return [list, blocks];
  }

  // ---- views ---------------------------------------------------------------

  const views = {};
  let seq = 0; // renders started
  let current = null; // {v, p, q} of the view shown
  let editing = false; // an edit in progress is never re-rendered under the user

  // The tree: one page of a namespace's children.
  views.browse = async ({ p, q: params, show }) => {
    const after = params.get('after') || '';
    const match = params.get('match') || '';
    const rev = params.get('rev') || '';
    let page;
    try {
      page = await getJSON('/api/v1/list?' + q({ path: p, limit: PAGE, after, match, rev }));
    } catch (e) {
      if (e.status === 409) {
        location.replace(link('key', p, { rev }));
        return;
      }
      throw e;
    }
    const r = rev ? { write: false, write_tree: false } : await rights(p);
    const filter = h('input', { id: 'filter', type: 'search', value: match, placeholder: 'Filter names', 'aria-label': 'Filter names' });
    let timer;
    filter.addEventListener('input', () => {
      clearTimeout(timer);
      timer = setTimeout(() => go(link('browse', p, { match: filter.value, rev }), true), 250);
    });
    const first = after ? +params.get('from') || 1 : 1;
    const rows = page.entries.map((e) => {
      const path = join(p, e.name);
      const ns = e.kind === 'namespace';
      return h('tr', { 'data-path': path, class: ns ? 'ns' : 'key' },
        h('td', { class: 'name' }, h('a', { href: link(ns ? 'browse' : 'key', path, { rev }) }, e.name + (ns ? '/' : ''))),
        h('td', { class: 'size' }, ns ? '' : size(e.size)),
        h('td', { class: 'rev' }, revLink(e.revision)),
        h('td', { class: 'author' }, who(e.author)),
        h('td', { class: 'age' }, when(e.time)));
    });
    const pager = h('div', { class: 'pager' },
      h('span', { id: 'count' }, page.entries.length ? `${first}–${first + page.entries.length - 1} of ${page.total}` : match ? 'No name matches' : 'Empty'),
      after ? h('a', { class: 'button', href: link('browse', p, { match, rev }) }, '« First') : '',
      page.next ? h('a', { class: 'button', id: 'next', href: link('browse', p, { match, rev, after: page.next, from: first + page.entries.length }) }, 'Next »') : '');
    // Typing in the filter redraws the page: the new filter keeps the
    // focus and what was typed meanwhile.
    const typing = document.activeElement && document.activeElement.id === 'filter' ? document.activeElement : null;
    if (typing) filter.value = typing.value;
    show(
      h('div', { class: 'head' }, crumbs(p, 'browse'),
        h('div', { class: 'actions' },
          h('a', { class: 'button', href: link('history', p) }, 'History'),
          r.write ? h('a', { class: 'button', id: 'new-key', href: link('new', p) }, 'New key') : '',
          r.write ? h('a', { class: 'button', id: 'new-ns', href: link('new', p, { kind: 'namespace' }) }, 'New namespace') : '',
          p !== '/' && r.write_tree ? h('button', { id: 'delete', class: 'danger', onclick: () => removeNamespace(p, page.revision) }, 'Delete…') : '')),
      rev ? h('p', { class: 'note' }, `As of r${rev}. `, h('a', { href: link('browse', p) }, 'Back to the head')) : '',
      h('div', { class: 'toolbar' }, filter, pager),
      h('div', { class: 'scroll' }, h('table', { class: 'listing' },
        h('thead', null, h('tr', null, ['Name', 'Size', 'Revision', 'Author', 'Changed'].map((t) => h('th', { scope: 'col' }, t)))),
        h('tbody', null, rows))));
    if (typing && current && current.show === show) filter.focus();
  };

  // A key: its value at the head or at any revision, and its revisions.
  views.key = async ({ p, q: params, show }) => {
    const rev = params.get('rev') || '';
    const [resp, log, r] = await Promise.all([
      call('GET', valueURL(p, rev)),
      getJSON('/api/v1/log?' + q({ path: p, limit: 100 })),
      rights(p),
    ]);
    const bytes = new Uint8Array(await resp.arrayBuffer());
    const modRevHead = log.head;
    const ctype = resp.headers.get('Content-Type') || '';
    const modRev = +resp.headers.get('X-Verso-Revision');
    const commit = log.commits.find((c) => c.revision === modRev);
    let text = null;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
      if (text.includes('\0')) text = null;
    } catch (_) { /* binary */ }
    const picker = h('select', { id: 'rev-picker', 'aria-label': 'Revision' },
      h('option', { value: '' }, 'head'),
      log.commits.map((c) => h('option', { value: c.revision, selected: String(c.revision) === rev }, `r${c.revision} · ${who(c.author)} · ${age(c.time)}`)));
    picker.addEventListener('change', () => go(link('key', p, { rev: picker.value })));
    let body;
    if (text !== null) body = codeBlock(text, syntaxOf(p, ctype, text));
    else {
      const sum = h('code', { id: 'sha256' }, '…');
      body = h('div', { class: 'binary' }, h('p', null, `Binary value, ${size(bytes.length)} (${bytes.length} bytes).`),
        h('p', null, 'SHA-256: ', sum));
      if (crypto.subtle) {
        crypto.subtle.digest('SHA-256', bytes).then((d) => {
          sum.textContent = [...new Uint8Array(d)].map((b) => b.toString(16).padStart(2, '0')).join('');
        });
      } else {
        // No WebCrypto outside a secure context (HTTPS or localhost): the
        // server's diff from the empty tree summarises a binary value.
        getJSON('/api/v1/diff?' + q({ path: p, from: 0, to: rev || modRevHead })).then((d) => {
          const c = d.changes.find((x) => x.path === p);
          sum.textContent = c && c.new ? c.new.sha256 : 'unavailable';
        }, () => { sum.textContent = 'unavailable'; });
      }
    }
    const head = !rev;
    // Typing in the filter redraws the page: the new filter keeps the
    // focus and what was typed meanwhile.
    const typing = document.activeElement && document.activeElement.id === 'filter' ? document.activeElement : null;
    if (typing) filter.value = typing.value;
    show(
      h('div', { class: 'head' }, crumbs(p, 'browse'),
        h('div', { class: 'actions' },
          h('a', { class: 'button', href: link('history', p) }, 'History'),
          h('a', { class: 'button', href: valueURL(p, rev), download: base(p) }, 'Download'),
          head && r.write && text !== null ? h('a', { class: 'button', id: 'edit', href: link('edit', p) }, 'Edit') : '',
          !head && r.write ? h('a', { class: 'button', id: 'revert', href: link('revert', p, { to: rev }) }, `Revert to r${rev}…`) : '',
          head && r.write ? h('button', { id: 'delete', class: 'danger', onclick: () => removeKey(p, resp.headers.get('ETag')) }, 'Delete…') : '')),
      h('dl', { class: 'meta' },
        h('dt', null, 'Revision'), h('dd', null, h('label', { class: 'inline' }, picker)),
        h('dt', null, 'Last changed'), h('dd', null, revLink(modRev), commit ? [' by ', who(commit.author), ', ', when(commit.time), ': ', h('q', null, commit.message)] : ''),
        h('dt', null, 'Size'), h('dd', null, size(bytes.length)),
        h('dt', null, 'Type'), h('dd', null, ctype)),
      !head ? h('p', { class: 'note' }, `As of r${rev}. `, h('a', { href: link('key', p) }, 'Show the head'), ' · ',
        h('a', { href: link('diff', p, { from: rev, to: log.head }) }, `Diff r${rev}..head`)) : '',
      body);
  };

  // Editing a key, or creating a key or a namespace.
  views.edit = async ({ p, show }) => {
    const resp = await call('GET', valueURL(p));
    let text;
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(await resp.arrayBuffer());
    } catch (_) {
      throw new Error('This value is binary: the console edits text only. Replace it with a PUT (curl -T FILE).');
    }
    editor({ show, p, text, etag: resp.headers.get('ETag'), rev: +resp.headers.get('X-Verso-Revision'), ctype: resp.headers.get('Content-Type') });
  };
  views.new = async ({ p, q: params, show }) => {
    const ns = params.get('kind') === 'namespace';
    editor({ show, p, create: ns ? 'namespace' : 'key' });
  };

  function editor(st) {
    const creating = !!st.create;
    const name = creating ? h('input', { id: 'name', type: 'text', required: true, autocomplete: 'off', 'aria-describedby': 'name-help' }) : null;
    const area = st.create === 'namespace' ? null : h('textarea', { id: 'value', spellcheck: 'false', rows: String(Math.min(24, Math.max(6, (st.text || '').split('\n').length + 2))), value: st.text || '' });
    const message = h('input', { id: 'message', type: 'text', autocomplete: 'off', placeholder: 'What changed and why' });
    const status = h('div', { id: 'status', role: 'status', 'aria-live': 'polite' });
    const save = h('button', { id: 'save', class: 'primary', type: 'submit' }, creating ? 'Create' : 'Save');
    const form = h('form', { class: 'edit' },
      name ? [h('label', { for: 'name' }, st.create === 'namespace' ? 'Namespace name' : 'Key name'), name,
        h('small', { id: 'name-help' }, 'In ', st.p, '; one path segment, no “/”.')] : '',
      area ? [h('label', { for: 'value' }, 'Value'), area] : '',
      h('label', { for: 'message' }, 'Commit message (optional)'), message,
      h('div', { class: 'buttons' }, save,
        h('a', { class: 'button', href: creating ? link('browse', st.p) : link('key', st.p) }, 'Cancel')),
      status);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      save.disabled = true;
      status.replaceChildren();
      try {
        if (creating) await create(st, name.value, area && area.value, message.value);
        else await put(st, area.value, message.value, status);
      } catch (err) {
        status.replaceChildren(errorBox(err));
      } finally {
        save.disabled = false;
      }
    });
    if (!st.show(h('div', { class: 'head' }, crumbs(st.p, 'browse'),
      h('h1', null, creating ? (st.create === 'namespace' ? 'New namespace' : 'New key') : 'Edit')),
    st.rev ? h('p', { class: 'muted' }, `Editing r${st.rev} (${st.ctype}).`) : '', form)) return;
    editing = true;
    (name || area).focus();
  }

  async function create(st, name, value, message) {
    if (!name || name.includes('/')) throw new Error('Give a name without “/”.');
    const p = join(st.p, name);
    let resp;
    if (st.create === 'namespace') {
      resp = await call('MKCOL', MOUNT + encodePath(p), { message });
      editing = false;
      go(link('browse', p));
    } else {
      // If-None-Match: * creates the key only if nobody has meanwhile.
      resp = await call('PUT', valueURL(p), { body: value, message, headers: { 'If-None-Match': '*', 'Content-Type': typeFor(p) } });
      editing = false;
      go(link('key', p));
    }
    toast(`r${resp.headers.get('X-Verso-Revision')}: created ${p}`);
  }
  function typeFor(p) {
    if (/\.json$/i.test(p)) return 'application/json';
    if (/\.ya?ml$/i.test(p)) return 'application/yaml';
    return 'text/plain; charset=utf-8';
  }

  // put saves with If-Match. On 412 someone else changed the key since it
  // was read: their change is shown as a diff, and the user re-applies
  // theirs or gives up; nothing is overwritten silently.
  async function put(st, value, message, status) {
    try {
      const resp = await call('PUT', valueURL(st.p), { body: value, message, headers: { 'If-Match': st.etag, 'Content-Type': st.ctype || 'text/plain; charset=utf-8' } });
      editing = false;
      toast(`r${resp.headers.get('X-Verso-Revision')}: saved ${st.p}`);
      go(link('key', st.p));
    } catch (e) {
      if (e.status !== 412) throw e;
      let theirs = null;
      try {
        const cur = await call('GET', valueURL(st.p));
        theirs = { etag: cur.headers.get('ETag'), rev: +cur.headers.get('X-Verso-Revision'), text: await cur.text() };
      } catch (e2) {
        if (e2.status !== 404) throw e2;
      }
      const d = await getJSON('/api/v1/diff?' + q({ path: st.p, from: st.rev, to: theirs ? theirs.rev : '' }));
      const log = await getJSON('/api/v1/log?' + q({ path: st.p, limit: 20 }));
      const newer = log.commits.filter((c) => c.revision > st.rev);
      document.getElementById('toast').hidden = true;
      status.replaceChildren(h('section', { class: 'conflict', id: 'conflict', role: 'alert' },
        h('h2', null, 'Someone else changed this key'),
        h('p', null, theirs ? `Since you opened r${st.rev}, it changed:` : `It was deleted since you opened r${st.rev}.`),
        h('ul', null, newer.map((c) => h('li', null, revLink(c.revision), ' by ', who(c.author), ', ', when(c.time), ': ', h('q', null, c.message)))),
        h('p', null, 'Their change:'), diffView(d, 'unified'),
        h('div', { class: 'buttons' },
          h('button', { id: 'reapply', class: 'primary', type: 'button', onclick: async () => {
            try {
              const hdr = theirs ? { 'If-Match': theirs.etag } : { 'If-None-Match': '*' };
              hdr['Content-Type'] = st.ctype || 'text/plain; charset=utf-8';
              const resp = await call('PUT', valueURL(st.p), { body: value, message, headers: hdr });
              editing = false;
              toast(`r${resp.headers.get('X-Verso-Revision')}: your version of ${st.p} re-applied`);
              go(link('key', st.p));
            } catch (e3) {
              if (e3.status === 412) status.replaceChildren(errorBox(new Error('It changed again. Reload the editor to see the latest.')));
              else status.replaceChildren(errorBox(e3));
            }
          } }, 'Re-apply my version over theirs'),
          h('button', { id: 'giveup', type: 'button', onclick: () => { editing = false; go(link('key', st.p)); } }, 'Give up, keep theirs'))));
      document.getElementById('conflict').scrollIntoView({ block: 'nearest' });
      document.getElementById('reapply').focus({ preventScroll: true });
    }
  }

  // confirmed asks in a modal dialog; it resolves to the message, or null.
  // The buttons settle it themselves: a close event is dispatched later
  // and could reach the next question.
  const dlg = document.getElementById('confirm');
  const dlgMessage = document.getElementById('confirm-message');
  let pendingConfirm = null;
  function settle(v) {
    const resolve = pendingConfirm;
    pendingConfirm = null;
    if (dlg.open) dlg.close();
    if (resolve) resolve(v);
  }
  document.getElementById('confirm-ok').addEventListener('click', (e) => { e.preventDefault(); settle(dlgMessage.value); });
  document.getElementById('confirm-cancel').addEventListener('click', (e) => { e.preventDefault(); settle(null); });
  dlg.querySelector('form').addEventListener('submit', (e) => { e.preventDefault(); settle(dlgMessage.value); });
  dlg.addEventListener('cancel', (e) => { e.preventDefault(); settle(null); }); // Escape
  function confirmed(text, action) {
    settle(null);
    document.getElementById('confirm-text').textContent = text;
    document.getElementById('confirm-ok').textContent = action;
    dlgMessage.value = '';
    dlg.showModal();
    return new Promise((resolve) => { pendingConfirm = resolve; });
  }
  async function removeKey(p, etag) {
    const msg = await confirmed(`Delete the key ${p}?`, 'Delete');
    if (msg === null) return;
    try {
      const resp = await call('DELETE', valueURL(p), { message: msg, headers: { 'If-Match': etag } });
      toast(`r${resp.headers.get('X-Verso-Revision')}: deleted ${p}`);
      go(link('browse', parent(p)));
    } catch (e) {
      toast(e.status === 412 ? `${p} changed since you opened it; not deleted. Look again.` : e.message, true);
      if (e.status === 412) render();
    }
  }
  // A namespace goes with everything below it, and only if nothing below
  // it changed since it was listed (tree_revision).
  async function removeNamespace(p, treeRev) {
    const msg = await confirmed(`Delete the namespace ${p} and everything below it?`, 'Delete');
    if (msg === null) return;
    try {
      const c = await (await call('POST', '/api/v1/txn', { json: { message: msg || undefined, ops: [{ op: 'delete', path: p, if: { tree_revision: treeRev } }] } })).json();
      toast(`r${c.revision}: deleted ${p}`);
      go(link('browse', parent(p)));
    } catch (e) {
      toast(e.status === 412 ? `Something below ${p} changed since it was listed; not deleted. Look again.` : e.message, true);
      if (e.status === 412) render();
    }
  }

  // History of a path, filterable, with two revisions to compare.
  views.history = async ({ p, q: params, show }) => {
    const before = params.get('before') || '';
    const filterText = params.get('filter') || '';
    const [log, r] = await Promise.all([getJSON('/api/v1/log?' + q({ path: p, limit: LOG_PAGE, before })), rights(p)]);
    const filter = h('input', { id: 'log-filter', type: 'search', value: filterText, placeholder: 'Filter by author, message or path', 'aria-label': 'Filter history' });
    const list = h('ol', { class: 'log' });
    const fill = () => {
      const f = filter.value.toLowerCase();
      list.replaceChildren(...log.commits.filter((c) => !f || (c.author || 'anonymous').toLowerCase().includes(f) ||
        c.message.toLowerCase().includes(f) || c.changes.some((x) => x.path.toLowerCase().includes(f))).map((c) => commitItem(c, p, r, !before && c === log.commits[0])));
      if (!list.children.length) list.append(h('li', { class: 'muted' }, 'No commit matches.'));
    };
    filter.addEventListener('input', () => {
      fill();
      history.replaceState(null, '', link('history', p, { before, filter: filter.value }));
    });
    fill();
    const compare = h('button', { id: 'compare', type: 'button', onclick: () => {
      const a = view.querySelector('input[name=a]:checked');
      const b = view.querySelector('input[name=b]:checked');
      if (!a || !b) return toast('Pick revision A and revision B to compare.', true);
      const [x, y] = [+a.value, +b.value].sort((m, n) => m - n);
      go(link('diff', p, { from: x, to: y }));
    } }, 'Compare A..B');
    show(h('div', { class: 'head' }, crumbs(p, 'history'), h('h1', null, 'History')),
      h('div', { class: 'toolbar' }, filter, compare),
      list,
      h('div', { class: 'pager' },
        before ? h('a', { class: 'button', href: link('history', p, { filter: filter.value }) }, '« Newest') : '',
        log.next ? h('a', { class: 'button', id: 'older', href: link('history', p, { before: log.next, filter: filter.value }) }, 'Older »') : '',
        log.history_start ? h('span', { class: 'muted' }, `History before r${log.history_start} was pruned.`) : ''));
  };
  // newest: the path is as this commit left it, so reverting to it would
  // change nothing.
  function commitItem(c, p, r, newest) {
    return h('li', { class: 'commit', 'data-rev': c.revision },
      h('div', { class: 'pick' },
        h('label', { title: 'Compare from' }, h('input', { type: 'radio', name: 'a', value: c.revision, 'aria-label': `A: r${c.revision}` }), 'A'),
        h('label', { title: 'Compare to' }, h('input', { type: 'radio', name: 'b', value: c.revision, 'aria-label': `B: r${c.revision}` }), 'B')),
      h('div', { class: 'body' },
        h('div', null, h('strong', null, revLink(c.revision)), ' ', who(c.author), ' · ', date(c.time)),
        h('div', { class: 'msg' }, c.message || h('em', null, '(message hidden)')),
        h('ul', { class: 'changes' }, c.changes.slice(0, 20).map((x) => h('li', null, h('span', { class: 'badge ' + x.action }, x.action), ' ',
          h('a', { href: link(x.kind === 'namespace' ? 'browse' : 'key', x.path, { rev: x.action === 'deleted' ? '' : c.revision }) }, x.path),
          x.from ? ` (from ${x.from}@r${x.from_revision})` : '')),
        c.changes.length > 20 ? h('li', { class: 'muted' }, `and ${c.changes.length - 20} more`) : ''),
        h('div', { class: 'actions' },
          h('a', { href: link('diff', p, { from: c.revision - 1, to: c.revision }) }, 'Diff'),
          r.write && !newest ? h('a', { href: link('revert', p, { to: c.revision }), class: 'revert-to' }, `Revert ${p} to r${c.revision}…`) : '',
          r.write ? h('a', { href: link('undo', '/', { r: c.revision }), class: 'undo' }, `Undo r${c.revision}…`) : '')));
  }

  // One revision in full.
  views.rev = async ({ q: params, show }) => {
    const n = +params.get('r');
    const [c, d] = await Promise.all([getJSON('/api/v1/revisions/' + n), getJSON('/api/v1/diff?' + q({ path: '/', from: n - 1, to: n }))]);
    const r = await rights('/');
    show(h('div', { class: 'head' }, h('h1', null, `Revision ${n}`),
      h('div', { class: 'actions' }, h('a', { class: 'button', href: link('undo', '/', { r: n }) , hidden: !r.write }, `Undo r${n}…`))),
    h('p', null, who(c.author), ' · ', date(c.time), ' · ', h('q', null, c.message)),
    diffView(d, 'unified'));
  };

  // A diff between any two revisions, unified or side by side.
  views.diff = async ({ p, q: params, show }) => {
    const from = params.get('from') || '0';
    const to = params.get('to') || '';
    const mode = params.get('mode') === 'split' ? 'split' : 'unified';
    const d = await getJSON('/api/v1/diff?' + q({ path: p, from, to }));
    const a = h('input', { id: 'from', type: 'number', min: '0', value: d.from, 'aria-label': 'From revision (A)' });
    const b = h('input', { id: 'to', type: 'number', min: '0', value: d.to, 'aria-label': 'To revision (B)' });
    const form = h('form', { class: 'toolbar', onsubmit: (e) => { e.preventDefault(); go(link('diff', p, { from: a.value, to: b.value, mode })); } },
      h('label', null, 'A ', a), h('label', null, 'B ', b), h('button', { type: 'submit' }, 'Show'),
      h('span', { class: 'modes', role: 'group', 'aria-label': 'Layout' },
        h('a', { class: mode === 'unified' ? 'button on' : 'button', id: 'mode-unified', href: link('diff', p, { from: d.from, to: d.to }), 'aria-pressed': String(mode === 'unified') }, 'Unified'),
        h('a', { class: mode === 'split' ? 'button on' : 'button', id: 'mode-split', href: link('diff', p, { from: d.from, to: d.to, mode: 'split' }), 'aria-pressed': String(mode === 'split') }, 'Side by side')));
    show(h('div', { class: 'head' }, crumbs(p, 'history'), h('h1', null, `Diff r${d.from}..r${d.to}`)), form, diffView(d, mode));
  };

  // Previews: what a revert or an undo would change, before it is committed.
  views.revert = async ({ p, q: params, show }) => {
    const to = +params.get('to');
    const d = await getJSON('/api/v1/diff?' + q({ path: p, from: 'HEAD', to }));
    preview(show, `Revert ${p} to r${to}`, d, { path: p, to, base: d.from }, `This brings ${p} back to its state at r${to}, as a new revision.`);
  };
  views.undo = async ({ q: params, show }) => {
    const n = +params.get('r');
    const log = await getJSON('/api/v1/log?limit=1');
    const [c, d] = await Promise.all([getJSON('/api/v1/revisions/' + n), getJSON('/api/v1/diff?' + q({ path: '/', from: n, to: n - 1 }))]);
    preview(show, `Undo r${n}`, d, { undo: n, base: log.head }, [`This reverse-applies r${n} by ${who(c.author)}: `, h('q', null, c.message), '.']);
  };
  function preview(show, title, d, req, what) {
    const message = h('input', { id: 'message', type: 'text', autocomplete: 'off', placeholder: title });
    const status = h('div', { role: 'status', 'aria-live': 'polite' });
    const commit = h('button', { id: 'commit', class: 'primary', type: 'submit', disabled: !d.changes.length }, 'Commit');
    const form = h('form', { class: 'edit' }, h('label', { for: 'message' }, 'Commit message (optional)'), message,
      h('div', { class: 'buttons' }, commit, h('button', { type: 'button', onclick: () => history.back() }, 'Cancel')), status);
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      commit.disabled = true;
      try {
        const out = await (await call('POST', '/api/v1/revert', { json: Object.assign({ message: message.value || undefined }, req) })).json();
        if (!out.changed) return status.replaceChildren(h('p', null, 'Nothing to change: already so.'));
        toast(`r${out.revision}: ${title}`);
        go(link('rev', '/', { r: out.revision }));
      } catch (err) {
        if (err.status === 409) {
          // Something it changes changed after the preview (or a later
          // revision conflicts with an undo): nothing was committed.
          status.replaceChildren(errorBox(err), h('button', { id: 'again', type: 'button', onclick: () => render() }, 'Preview again'));
          return;
        }
        status.replaceChildren(errorBox(err));
        commit.disabled = false;
      }
    });
    show(h('div', { class: 'head' }, h('h1', null, title, ': preview')), h('p', null, what),
      h('p', { class: 'muted' }, 'The resulting change:'), h('div', { id: 'preview' }, diffView(d, 'unified')), form);
  }

  // ---- routing -----------------------------------------------------------

  function go(hash, replace) {
    if (replace) {
      history.replaceState(null, '', hash);
      render();
    } else location.hash = hash;
  }
  async function render() {
    const route = parseHash();
    const fn = views[route.v];
    current = route;
    editing = false;
    const mine = ++seq;
    route.show = showing(mine);
    rightsCache.clear(); // asked again for each view: rules and users change
    document.getElementById('nav-history').setAttribute('href', link('history', route.p));
    if (!fn) return show(errorBox(new Error('No such view: ' + route.v)), h('p', null, h('a', { href: '#/browse/' }, 'Go to the tree')));
    try {
      await fn(route);
    } catch (e) {
      if (mine === seq) show(crumbs(route.p, 'browse'), errorBox(e));
    }
    if (mine === seq) document.title = `verso: ${route.v} ${route.p}`;
  }
  // "/" focuses the filter of the view, as in many sites.
  document.addEventListener('keydown', (e) => {
    if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey || /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName)) return;
    const f = document.getElementById('filter') || document.getElementById('log-filter');
    if (f) {
      e.preventDefault();
      f.focus();
    }
  });
  window.addEventListener('hashchange', () => {
    render();
    view.focus({ preventScroll: true });
  });

  // ---- notices -----------------------------------------------------------

  let toastTimer;
  function toast(text, bad) {
    const t = document.getElementById('toast');
    t.textContent = text;
    t.className = bad ? 'toast bad' : 'toast';
    t.hidden = false;
    clearTimeout(toastTimer);
    toastTimer = setTimeout(() => { t.hidden = true; }, 6000);
  }

  // ---- live updates ------------------------------------------------------

  // The watch stream of the whole tree (only what the user may read comes).
  // EventSource resumes by itself with Last-Event-ID; when it gives up, or
  // the server says the watcher fell behind, it is reopened from the last
  // revision seen, so no change is missed.
  let lastRev = 0;
  let source = null;
  const live = document.getElementById('live');
  function setLive(state, text) {
    live.className = 'live ' + state;
    live.textContent = text;
  }
  function watch() {
    if (source) source.close();
    source = new EventSource('/api/v1/watch?' + q({ path: '/', from: lastRev }));
    source.onopen = () => setLive('on', `live · r${lastRev}`);
    source.onerror = () => {
      setLive('off', 'reconnecting…');
      if (source.readyState === EventSource.CLOSED) setTimeout(watch, 2000);
    };
    source.addEventListener('overflow', (e) => {
      lastRev = JSON.parse(e.data).resume_from;
      watch();
    });
    source.addEventListener('commit', (e) => {
      const c = JSON.parse(e.data);
      lastRev = Math.max(lastRev, c.revision);
      arrived(c);
    });
  }
  function arrived(c) {
    setLive('on flash', `live · r${c.revision}`);
    setTimeout(() => live.classList.remove('flash'), 1500);
    if (!current) return;
    const paths = c.changes.map((x) => x.path);
    const affects = paths.some((x) => under(x, current.p) || under(current.p, x) || parent(x) === current.p);
    if (!affects) return;
    const note = `r${c.revision} by ${who(c.author)}: ${c.message || paths.join(', ')}`;
    if (editing) {
      toast(`Changed meanwhile: ${note}. Saving will show you their change.`, true);
      return;
    }
    if (current.q.get('rev') || ['diff', 'revert', 'undo', 'rev'].includes(current.v)) {
      toast(`New: ${note}`);
      return;
    }
    // Commits arriving close together redraw the view once.
    pendingLive.note = note;
    pendingLive.hash = location.hash;
    pendingLive.paths.push(...paths);
    clearTimeout(pendingLive.timer);
    pendingLive.timer = setTimeout(redrawLive, 150);
  }
  const pendingLive = { note: '', hash: '', paths: [], timer: 0 };
  function redrawLive() {
    const { note, paths, hash } = pendingLive;
    pendingLive.paths = [];
    // The user went elsewhere meanwhile (that view is fresh), or is editing.
    if (editing || hash !== location.hash) return;
    const y = window.scrollY;
    render().then(() => {
      window.scrollTo(0, y);
      const marker = h('p', { class: 'livenote', id: 'live-note', role: 'status' }, `Updated live: ${note}`);
      view.prepend(marker);
      for (const x of paths) {
        const row = view.querySelector(`tr[data-path="${CSS.escape(x)}"]`);
        if (row) row.classList.add('changed');
      }
    });
  }

  // ---- start -------------------------------------------------------------

  async function start() {
    try {
      const [a, log] = await Promise.all([getJSON('/api/v1/access?path=/'), getJSON('/api/v1/log?limit=1')]);
      lastRev = log.head;
      const whoEl = document.getElementById('who');
      if (a.user) whoEl.append('Signed in as ', h('strong', null, a.user));
      else if (a.users) whoEl.append('Anonymous · ', h('a', { href: '/api/v1/access?login=1', id: 'signin' }, 'Sign in'));
    } catch (e) {
      setLive('off', 'offline');
    }
    if (!location.hash) history.replaceState(null, '', '#/browse/');
    render();
    watch();
  }
  start();
})();
