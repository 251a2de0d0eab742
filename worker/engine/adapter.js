/*
 * wagate page adapter, injected into WhatsApp Web (and the simulator) before
 * the page's own scripts. It reads the page only through its module system
 * (window.require), the way whatsapp-web.js does since it left DOM
 * selectors, and reports to Python through the __wagateEmit binding.
 */
(() => {
  'use strict';
  if (window.top !== window || window.__wagate) return;
  const UNPAIRED = ['UNPAIRED', 'UNPAIRED_IDLE'];
  const emit = (kind, data) => {
    try { window.__wagateEmit(kind, data === undefined ? null : data); } catch (e) { /* page is unloading */ }
  };
  const mod = (name) => { try { return window.require(name); } catch (e) { return null; } };
  const api = (window.__wagate = { installed: false, pairing: false });

  // The socket/auth modules exist before login; the model stores (WAWebCollections and the
  // send actions) are loaded by WhatsApp Web only around the end of the first sync.
  const ready = () => typeof window.require === 'function' && ['WAWebSocketModel', 'WAWebConnModel',
    'WAWebCmd'].every((m) => mod(m));

  async function qrKeys() {
    const R = { ...mod('WAWebCompanionRegClientUtils'), ...mod('WAWebAdvSignatureApi'),
      ...mod('WAWebUserPrefsInfoStore'), ...mod('WAWebSignalStoreApi') };
    const B64 = mod('WABase64');
    const registration = await R.waSignalStore.getRegistrationInfo();
    const noise = await R.waNoiseInfo.get();
    return {
      staticKey: B64.encodeB64(noise.staticKeyPair.pubKey),
      identityKey: B64.encodeB64(registration.identityKeyPair.pubKey),
      advSecret: await R.getADVSecretKey(),
      platform: R.DEVICE_PLATFORM,
    };
  }

  function me() {
    const users = mod('WAWebUserPrefsMeUser');
    const { Conn } = mod('WAWebConnModel');
    const wid = (users && users.getMaybeMeUser && users.getMaybeMeUser()) || Conn.wid;
    return wid ? (wid.user || String(wid._serialized || wid).split('@')[0]) : null;
  }

  function info() {
    const { Conn } = mod('WAWebConnModel');
    const { Socket } = mod('WAWebSocketModel');
    return { state: Socket.state, hasSynced: !!Socket.hasSynced, phone: me(), platform: Conn.platform || null,
      pushname: Conn.pushname || null, waVersion: (window.Debug && window.Debug.VERSION) || null,
      installed: api.installed };
  }

  const widStr = (w) => (w ? String(w._serialized || w) : null);
  function serializeMsg(msg) {
    return { id: msg.id._serialized, remote: widStr(msg.id.remote), from: widStr(msg.author || msg.from),
      type: msg.type, body: msg.body || null, caption: msg.caption || null, mimetype: msg.mimetype || null,
      size: msg.size || null, filename: msg.filename || null, t: msg.t || null };
  }

  const emitted = new Set();
  function emitMessage(msg) {
    if (!msg || !msg.isNewMsg || !msg.id || msg.id.fromMe || emitted.has(msg.id._serialized)) return;
    emitted.add(msg.id._serialized);
    emit('message', serializeMsg(msg));
  }

  function installStore() {
    if (api.storeReady || !mod('WAWebCollections')) return api.storeReady;
    const { Msg } = mod('WAWebCollections');
    Msg.on('add', (msg) => {
      // Still-encrypted messages become readable later: wait for their real type.
      if (msg && msg.type === 'ciphertext') msg.once('change:type', (m) => emitMessage(m));
      else emitMessage(msg);
    });
    Msg.on('change:ack', (msg, ack) => { if (msg && msg.id && msg.id.fromMe) emit('ack', { id: msg.id._serialized, ack }); });
    // New messages that arrived while the store was loading (e.g. queued while offline).
    for (const msg of Msg.getModelsArray()) if (msg.type !== 'ciphertext') emitMessage(msg);
    api.storeReady = true;
    return true;
  }

  function watchStore() {
    if (installStore()) return;
    const timer = setInterval(() => { if (installStore()) clearInterval(timer); }, 250);
  }

  function install() {
    const { Socket } = mod('WAWebSocketModel');
    const { Conn } = mod('WAWebConnModel');
    const { Cmd } = mod('WAWebCmd');
    let keys = null;
    let lastRef = null;
    const pushQr = async (ref) => {
      if (!ref || ref === lastRef || api.pairing || !UNPAIRED.includes(Socket.state)) return;
      lastRef = ref;
      keys = keys || qrKeys();
      const k = await keys;
      emit('qr', { qr: [ref, k.staticKey, k.identityKey, k.advSecret, k.platform].join(',') });
    };
    Socket.on('change:state', (_s, state) => {
      emit('state', { state });
      if (UNPAIRED.includes(state)) pushQr(Conn.ref);
    });
    Socket.on('change:hasSynced', () => { if (Socket.hasSynced) { installStore(); emit('synced', info()); } });
    Conn.on('change:ref', (_c, ref) => { pushQr(ref); });
    Cmd.on('logout', () => emit('logout', { source: 'logout' }));
    Cmd.on('logout_from_bridge', () => emit('logout', { source: 'logout_from_bridge' }));
    api.installed = true;
    emit('installed', info());
    // WhatsApp Web lands on ?post_logout=1 after the phone removed this device.
    if (/[?&]post_logout=1/.test(location.search)) emit('logout', { source: 'post_logout' });
    if (Socket.hasSynced) emit('synced', info());
    else if (UNPAIRED.includes(Socket.state)) pushQr(Conn.ref);
    watchStore();
  }

  async function prepareMedia(media, kind) {
    const bytes = Uint8Array.from(atob(media.data_b64), (c) => c.charCodeAt(0));
    const file = new File([bytes], media.filename || 'file', { type: media.mimetype });
    const OpaqueData = mod('WAWebMediaOpaqueData');
    const prep = mod('WAWebPrepRawMedia').prepRawMedia(await OpaqueData.createFromData(file, file.type),
      { asDocument: kind === 'document' });
    const data = await prep.waitForPrep();
    const mediaObject = mod('WAWebMediaStorage').getOrCreateMediaObject(data.filehash);
    const mediaType = mod('WAWebMmsMediaTypes').msgToMediaType({ type: data.type, isGif: data.isGif });
    if (kind === 'document') data.type = 'document';
    if (!(data.mediaBlob instanceof OpaqueData)) data.mediaBlob = await OpaqueData.createFromData(data.mediaBlob, data.mediaBlob.type);
    data.renderableUrl = data.mediaBlob.url();
    mediaObject.consolidate(data.toJSON());
    data.mediaBlob.autorelease();
    const uploaded = await mod('WAWebMediaMmsV4Upload').uploadMedia({ mimetype: data.mimetype, mediaObject, mediaType });
    const e = uploaded && uploaded.mediaEntry;
    if (!e) throw new Error('upload failed: media entry was not created');
    data.set({ clientUrl: e.mmsUrl, deprecatedMms3Url: e.deprecatedMms3Url, directPath: e.directPath,
      mediaKey: e.mediaKey, mediaKeyTimestamp: e.mediaKeyTimestamp, filehash: mediaObject.filehash,
      encFilehash: e.encFilehash, uploadhash: e.uploadHash, size: mediaObject.size });
    return data;
  }

  api.info = () => (api.installed ? info() : { installed: false });
  api.refreshQR = () => { mod('WAWebCmd').Cmd.refreshQR(); return true; };
  api.logout = async () => {
    const { Socket } = mod('WAWebSocketModel');
    await Socket.logout();
    return true;
  };
  api.requestPairingCode = async (phone) => {
    const P = mod('WAWebAltDeviceLinkingApi');
    api.pairing = true;
    P.setPairingType('ALT_DEVICE_LINKING');
    await P.initializeAltDeviceLinking();
    return String(await P.startAltLinkingFlow(phone, true));
  };
  api.sendMessage = async ({ to, kind, text, caption, media }) => {
    const { Socket } = mod('WAWebSocketModel');
    if (!Socket.hasSynced || !installStore()) {
      return { ok: false, code: 'not_connected', reason: 'the session is not logged in' };
    }
    const wid = mod('WAWebWidFactory').createWid(to + '@c.us');
    const { Chat } = mod('WAWebCollections');
    const chat = Chat.get(wid) || (await mod('WAWebFindChatAction').findOrCreateLatestChat(wid)).chat;
    if (!chat) return { ok: false, code: 'invalid_recipient', reason: 'no chat for ' + to };
    const MsgKey = mod('WAWebMsgKey');
    const meUser = mod('WAWebUserPrefsMeUser').getMaybeMeUser();
    const id = new MsgKey({ from: meUser, to: chat.id, id: await MsgKey.newId(), selfDir: 'out' });
    let attrs = { id, ack: 0, body: text, from: meUser, to: chat.id, local: true, self: 'out',
      t: Math.floor(Date.now() / 1000), isNewMsg: true, type: 'chat' };
    if (kind !== 'text') {
      let data;
      try { data = await prepareMedia(media, kind); } catch (e) {
        return { ok: false, code: 'media_invalid', reason: String((e && e.message) || e) };
      }
      attrs = { ...attrs, ...data.toJSON(), body: undefined, caption: caption || undefined, type: data.type };
    }
    const [added, result] = mod('WAWebSendMsgChatAction').addAndSendMsgToChat(chat, attrs);
    await added;
    const r = await result;
    if (!r || r.messageSendResult !== 'OK') {
      return { ok: false, code: String((r && r.messageSendResult) || 'ERROR'), reason: (r && r.reason) || null };
    }
    return { ok: true, id: id._serialized };
  };

  const timer = setInterval(() => {
    if (!ready()) return;
    clearInterval(timer);
    try { install(); } catch (e) { emit('error', { where: 'install', message: String((e && e.message) || e) }); }
  }, 50);
})();
