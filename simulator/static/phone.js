/* The demo phone: every action is one call of the simulator's phone API. */
(function () {
  'use strict';
  const $ = (id) => document.getElementById(id);
  const me = () => $('me').value.replace(/[^0-9]/g, '');
  const say = (text) => { $('status').textContent = text; };
  $('me').value = localStorage.getItem('sim-phone') || '';
  $('me').onchange = () => localStorage.setItem('sim-phone', me());

  async function call(method, path, body) {
    const res = await fetch(path, { method, headers: { 'Content-Type': 'application/json' }, body: body ? JSON.stringify(body) : undefined });
    const data = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error((data.error && data.error.message) || 'HTTP ' + res.status);
    return data;
  }
  const need = () => { if (!me()) throw new Error('type your number first'); return me(); };
  const act = (fn) => async (ev) => { if (ev) ev.preventDefault(); try { say(await fn()); } catch (e) { say('Error: ' + e.message); } };

  async function refresh() {
    try {
      const waiting = await call('GET', '/_sim/browsers?waiting=1');
      const body = $('waiting');
      body.replaceChildren();
      for (const b of waiting) {
        const tr = document.createElement('tr');
        tr.innerHTML = '<td><code></code></td><td></td><td><button>Link as me</button></td>';
        tr.children[0].firstChild.textContent = b.browser_id + (b.pairing ? ' (pairing code for +' + b.pairing.phone + ')' : '');
        tr.children[1].textContent = b.qr_attempt;
        tr.querySelector('button').disabled = !b.qr;
        tr.querySelector('button').onclick = act(async () => {
          await call('POST', '/phone/' + need() + '/scan', { qr: b.qr });
          return 'Linked ' + b.browser_id;
        });
        body.append(tr);
      }
      if (me()) {
        const inbox = await call('GET', '/phone/' + me() + '/inbox');
        const rows = $('inbox');
        rows.replaceChildren();
        for (const m of inbox.slice(-50).reverse()) {
          const tr = document.createElement('tr');
          for (const v of ['+' + m.from, m.text || '[' + m.type + '] ' + (m.caption || ''), new Date(m.received_at * 1000).toLocaleTimeString()]) {
            const td = document.createElement('td'); td.textContent = v; tr.append(td);
          }
          rows.append(tr);
        }
      }
    } catch (e) { say('Error: ' + e.message); }
  }

  $('send').onsubmit = act(async () => {
    const r = await call('POST', '/phone/' + need() + '/send', { to: $('to').value.replace(/[^0-9]/g, ''), text: $('text').value });
    $('text').value = '';
    return 'Sent ' + r.id;
  });
  $('pair').onclick = act(async () => { await call('POST', '/phone/' + need() + '/pair', { code: $('code').value }); return 'Linked by code'; });
  $('unlink').onclick = act(async () => { const r = await call('POST', '/phone/' + need() + '/unlink'); return 'Unlinked ' + r.unlinked; });
  $('read').onclick = act(async () => { const r = await call('POST', '/phone/' + need() + '/read', {}); return 'Read ' + r.read; });
  refresh();
  setInterval(refresh, 2000);
})();
