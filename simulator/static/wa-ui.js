/*
 * What a person sees: the QR (or pairing code) screen, then the app with a
 * chat list, the open chat and a compose box. It only reads the models and
 * sends through the same module the adapter uses.
 */
(function () {
  'use strict';
  const sim = window.__sim;
  const req = (name) => sim.modules[name];
  const { Socket } = req('WAWebSocketModel');
  const { Conn } = req('WAWebConnModel');
  const { Cmd } = req('WAWebCmd');
  const { Msg, Chat } = req('WAWebCollections');
  const $ = (id) => document.getElementById(id);
  let openChat = null;
  let scheduled = false;

  const el = (tag, attrs, text) => {
    const e = document.createElement(tag);
    Object.assign(e, attrs || {});
    if (text !== undefined) e.textContent = text;
    return e;
  };
  const ticks = (ack) => ({ '-1': '!', 0: '🕓', 1: '✓', 2: '✓✓', 3: '✓✓ read' })[ack] || '';

  function render() {
    scheduled = false;
    const state = Socket.state;
    const linked = state === 'CONNECTED' && Socket.hasSynced;
    $('landing').hidden = linked;
    $('app').hidden = !linked;
    $('state').textContent = state + (Conn.wid ? ' · +' + Conn.wid.user : '');
    if (!linked) return renderLanding(state);
    renderChats();
    renderOpenChat();
  }

  function renderLanding(state) {
    const qr = $('qr');
    $('idle').hidden = state !== 'UNPAIRED_IDLE';
    if (state === 'UNPAIRED' && Conn.ref && sim.keys && !sim.pairingCode) {
      const k = sim.keys;
      const data = [Conn.ref, sim.encodeB64(k.staticPub), sim.encodeB64(k.identityPub), sim.encodeB64(k.adv), 'Chrome'].join(',');
      qr.hidden = false;
      qr.dataset.ref = data;
      const img = $('qr-img');
      const src = '/qr.svg?data=' + encodeURIComponent(data);
      if (img.getAttribute('src') !== src) img.setAttribute('src', src);
    } else {
      qr.hidden = true;
    }
    $('pairing').hidden = !sim.pairingCode;
    $('pairing-code').textContent = sim.pairingCode || '';
  }

  function renderChats() {
    const list = $('chats');
    list.replaceChildren();
    for (const chat of Chat.getModelsArray().sort((a, b) => b.t - a.t)) {
      const item = el('li', { className: chat === openChat ? 'active' : '' }, chat.name);
      if (chat.unreadCount) item.append(el('span', { className: 'badge' }, String(chat.unreadCount)));
      item.onclick = () => { openChat = chat; chat.set('unreadCount', 0); schedule(); };
      list.append(item);
    }
  }

  function renderOpenChat() {
    $('chat-title').textContent = openChat ? openChat.name : 'Pick a chat, or type a number to start one';
    const box = $('messages');
    box.replaceChildren();
    if (!openChat) return;
    for (const m of openChat.msgs.getModelsArray().slice(-100)) {
      const row = el('div', { className: 'msg ' + (m.id.fromMe ? 'out' : 'in') });
      row.append(el('span', {}, m.type === 'chat' ? m.body : '[' + m.type + '] ' + (m.caption || m.filename || '')));
      if (m.id.fromMe) row.append(el('small', {}, ' ' + ticks(m.ack)));
      box.append(row);
    }
    box.scrollTop = box.scrollHeight;
  }

  function schedule() {
    if (!scheduled) { scheduled = true; setTimeout(render, 16); }
  }

  async function compose(ev) {
    ev.preventDefault();
    const text = $('compose-text').value.trim();
    const to = $('compose-to').value.replace(/[^0-9]/g, '') || (openChat && openChat.id.user);
    if (!text || !to) return;
    const wid = req('WAWebWidFactory').createWid(to + '@c.us');
    const { chat } = await req('WAWebFindChatAction').findOrCreateLatestChat(wid);
    const id = new (req('WAWebMsgKey'))({ from: Conn.wid, to: wid, id: await req('WAWebMsgKey').newId(), selfDir: 'out' });
    req('WAWebSendMsgChatAction').addAndSendMsgToChat(chat, { id, body: text, type: 'chat', from: Conn.wid, to: wid,
      t: Math.floor(Date.now() / 1000), self: 'out', local: true, isNewMsg: true });
    openChat = chat;
    $('compose-text').value = '';
    $('compose-to').value = '';
    schedule();
  }

  sim.ui = {
    pairingCode(code) { sim.pairingCode = code ? code.slice(0, 4) + '-' + code.slice(4) : null; schedule(); },
  };

  document.addEventListener('DOMContentLoaded', () => {
    $('reload-qr').onclick = () => Cmd.refreshQR();
    $('compose').onsubmit = compose;
    $('logout').onclick = () => Socket.logout();
    render();
  });
  Socket.on('change', schedule);
  Conn.on('change', schedule);
  Chat.on('add', schedule);
  Chat.on('change', schedule);
  Msg.on('add', schedule);
  Msg.on('change:ack', schedule);
})();
