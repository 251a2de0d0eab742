/*
 * The simulator page's engine room: talks to the simulator over a websocket
 * and drives the module models (Socket, Conn, Cmd, Msg, Chat) the way
 * WhatsApp Web's own code drives them.
 */
(function () {
  'use strict';
  const cfg = window.__SIM_CONFIG || {};
  const sim = window.__sim;
  const store = window.__simStore;
  const req = (name) => sim.modules[name];
  const { Socket } = req('WAWebSocketModel');
  const { Conn } = req('WAWebConnModel');
  const { Cmd } = req('WAWebCmd');
  const { Msg } = req('WAWebCollections');
  const { MsgModel, Wid, MsgKey } = sim.classes;
  const b64 = sim.encodeB64;
  const unb64 = (s) => Uint8Array.from(atob(s), (c) => c.charCodeAt(0));

  let ws = null;
  let stopped = false;
  let authed = false;
  const outbox = [];                 // send frames waiting for a connection
  const sends = new Map();           // message id -> {msg, resolve}
  const byShortId = new Map();       // message id -> Msg model (acks name the short id)
  let pairingWaiter = null;

  function send(frame) {
    if (ws && ws.readyState === WebSocket.OPEN) { ws.send(JSON.stringify(frame)); return true; }
    return false;
  }

  async function connect() {
    if (stopped) return;
    if (Socket.state !== 'TIMEOUT') Socket.set('state', 'OPENING');
    const creds = await store.get('session', 'creds');
    const url = (location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/ws?browser_id=' + store.browserId();
    const sock = new WebSocket(url);
    ws = sock;
    sock.onopen = () => {
      const k = sim.keys;
      send({ t: 'hello', device_id: creds ? creds.device_id : null,
        keys: { static: b64(k.staticPub), identity: b64(k.identityPub), adv: b64(k.adv), platform: 'Chrome' } });
    };
    sock.onmessage = (ev) => { handle(JSON.parse(ev.data)).catch((e) => console.error('frame failed', e)); };
    sock.onclose = () => {
      if (ws !== sock) return;
      ws = null; authed = false;
      if (stopped) return;
      if (Socket.state === 'CONNECTED') Socket.set('state', 'TIMEOUT');
      setTimeout(connect, cfg.reconnectDelayMs || 1000);
    };
  }

  const handlers = {
    async challenge(f) {
      const sig = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, sim.keys.identity.privateKey, unb64(f.nonce));
      send({ t: 'auth', sig: b64(new Uint8Array(sig)) });
    },
    async ref(f) {
      if (Socket.state !== 'UNPAIRED') Socket.set('state', 'UNPAIRED');
      Conn.set('ref', f.ref);
    },
    async idle() { Socket.set('state', 'UNPAIRED_IDLE'); },
    async pair_code(f) {
      const waiter = pairingWaiter; pairingWaiter = null;
      if (waiter) (f.ok ? waiter.resolve(f.code) : waiter.reject(new Error(f.reason || 'pairing refused')));
      sim.ui && sim.ui.pairingCode(f.ok ? f.code : null);
    },
    async paired(f) {
      Socket.set('state', 'PAIRING');
      await store.put('session', 'creds', { device_id: f.device_id, wid: f.wid, platform: f.platform });
      localStorage.setItem('last-wid-md', JSON.stringify(f.wid + ':1@c.us'));
      Conn.set('ref', null);
      send({ t: 'paired_ok' });
    },
    async connected(f) {
      authed = true;
      Conn.set({ wid: new Wid(f.wid + '@c.us'), pushname: f.pushname, platform: f.platform });
      if (!Socket.hasSynced) await loadHistory();
      Socket.set('state', 'CONNECTED');
      while (outbox.length) send(outbox.shift());
      if (!Socket.hasSynced) setTimeout(() => Socket.set('hasSynced', true), 30);
    },
    async msg(f) {
      send({ t: 'recv_ack', qids: [f.qid] });
      if (byShortId.has(f.id)) return;
      const from = new Wid(f.from + '@c.us');
      const m = new MsgModel({
        id: new MsgKey({ fromMe: false, remote: from, id: f.id }), from, to: Conn.wid,
        type: f.type === 'text' ? 'chat' : f.type, body: f.text, caption: f.caption, mimetype: f.mimetype,
        size: f.size, filename: f.filename, t: Math.floor(f.ts), ack: 0, isNewMsg: true,
      });
      addMsg(m, true);
    },
    async ack(f) {
      send({ t: 'recv_ack', qids: [f.qid] });
      const m = byShortId.get(f.id);
      if (m && f.ack > (m.ack || 0)) { m.set('ack', f.ack); persist(m); }
    },
    async send_result(f) {
      const pending = sends.get(f.id);
      if (!pending) return;
      sends.delete(f.id);
      if (f.ok) {
        if ((pending.msg.ack || 0) < 1) pending.msg.set('ack', 1);
        pending.resolve({ messageSendResult: 'OK', t: f.ts });
      } else {
        pending.msg.set('ack', -1);
        pending.resolve({ messageSendResult: 'ERROR_' + String(f.error).toUpperCase(), reason: f.reason });
      }
      persist(pending.msg);
    },
    async logged_out() { await logout(); },
    async conflict() { stopped = true; Socket.set('state', 'CONFLICT'); },
    async pong() {},
    async error(f) { console.warn('simulator error', f.reason); },
  };

  async function handle(frame) {
    const fn = handlers[frame.t];
    if (fn) await fn(frame);
  }

  function addMsg(m, isNew) {
    byShortId.set(m.id.id, m);
    const chat = sim.chatFor(m.id.remote);
    Msg.add(m);
    chat.msgs.add(m);
    chat.set('t', m.t);
    if (!m.id.fromMe && isNew) chat.set('unreadCount', (chat.unreadCount || 0) + 1);
    if (isNew) persist(m);
  }

  function persist(m) {
    const s = m.serialize();
    store.put('msgs', s.id._serialized, s).catch(() => {});
  }

  async function loadHistory() {
    for (const s of (await store.all('msgs')).sort((a, b) => a.t - b.t)) {
      const m = new MsgModel({ ...s, id: MsgKey.fromString(s.id._serialized), from: s.from && new Wid(s.from),
        to: s.to && new Wid(s.to), isNewMsg: false });
      addMsg(m, false);
    }
  }

  async function logout() {
    stopped = true;
    await store.clearAll();
    Socket.set('state', 'UNPAIRED');
    Cmd.trigger('logout');
    setTimeout(() => location.replace('/?post_logout=1'), 200);
  }

  sim.transport = {
    refreshQR() { Socket.set('state', 'UNPAIRED'); send({ t: 'refresh_qr' }); },
    logout() {
      return new Promise((resolve) => {
        Cmd.once('logout', () => resolve(true));
        if (!send({ t: 'logout' })) logout();
      });
    },
    requestPairingCode(phone) {
      return new Promise((resolve, reject) => {
        pairingWaiter = { resolve, reject };
        if (!send({ t: 'pair_request', phone })) reject(new Error('not connected'));
      });
    },
    addAndSend(chat, attrs) {
      const m = new MsgModel({ ...attrs, ack: 0 });
      addMsg(m, true);
      const frame = { t: 'send', id: m.id.id, to: chat.id.user, type: m.type === 'chat' ? 'text' : m.type,
        text: m.type === 'chat' ? m.body : null, caption: m.caption || null };
      if (m.directPath) frame.media = { direct_path: m.directPath, mimetype: m.mimetype, filename: m.filename || null };
      const result = new Promise((resolve) => { sends.set(m.id.id, { msg: m, resolve }); });
      if (!authed || !send(frame)) outbox.push(frame);   // like WhatsApp Web: queued until online
      return [Promise.resolve(m), result];
    },
  };

  async function boot() {
    sim.keys = await store.deviceKeys();
    await connect();
  }
  boot().catch((e) => console.error('boot failed', e));
})();
