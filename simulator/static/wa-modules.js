/*
 * A miniature of WhatsApp Web's module surface: window.require('<module>')
 * with the module names, models, collections and events that
 * whatsapp-web.js (and wagate's page adapter) read on the live page.
 * The simulator's app (wa-app.js) drives these models from its websocket.
 */
(function () {
  'use strict';
  const cfg = window.__SIM_CONFIG || {};
  const sim = (window.__sim = { transport: null, keys: null, media: new Map() });

  class Emitter {
    constructor() { this._listeners = new Map(); }
    on(events, fn) {
      for (const ev of String(events).split(' ')) {
        if (!this._listeners.has(ev)) this._listeners.set(ev, []);
        this._listeners.get(ev).push(fn);
      }
      return this;
    }
    off(events, fn) {
      for (const ev of String(events).split(' ')) {
        const list = this._listeners.get(ev) || [];
        this._listeners.set(ev, fn ? list.filter((f) => f !== fn) : []);
      }
      return this;
    }
    once(ev, fn) {
      const wrapper = (...args) => { this.off(ev, wrapper); fn(...args); };
      return this.on(ev, wrapper);
    }
    trigger(ev, ...args) {
      for (const fn of [...(this._listeners.get(ev) || [])]) {
        try { fn(...args); } catch (e) { console.error('listener of ' + ev + ' failed', e); }
      }
    }
  }

  // Backbone-like model: set() fires change:<attr> on the model and its collection.
  class Model extends Emitter {
    constructor(attrs) { super(); Object.assign(this, attrs || {}); }
    set(key, value) {
      if (key && typeof key === 'object') { for (const [k, v] of Object.entries(key)) this.set(k, v); return this; }
      const prev = this[key];
      if (prev === value) return this;
      this[key] = value;
      for (const target of [this, ...(this._collections || [])]) {
        if (target) { target.trigger('change:' + key, this, value, prev); target.trigger('change', this); }
      }
      return this;
    }
  }

  class Collection extends Emitter {
    constructor() { super(); this._models = new Map(); }
    _key(id) { return typeof id === 'string' ? id : id && id._serialized; }
    get(id) { return this._models.get(this._key(id)); }
    add(model) {
      const key = this._key(model.id);
      if (this._models.has(key)) return this._models.get(key);
      (model._collections = model._collections || []).push(this);
      this._models.set(key, model);
      this.trigger('add', model, this);
      return model;
    }
    remove(model) {
      if (this._models.delete(this._key(model.id))) this.trigger('remove', model, this);
    }
    getModelsArray() { return [...this._models.values()]; }
    get length() { return this._models.size; }
    async find(id) { return this.get(id) || null; }
  }

  class Wid {
    constructor(serialized) {
      const [user, server] = String(serialized).split('@');
      this.user = user; this.server = server || 'c.us';
      this._serialized = this.user + '@' + this.server;
    }
    isGroup() { return this.server === 'g.us'; }
    isUser() { return this.server === 'c.us'; }
    equals(other) { return !!other && other._serialized === this._serialized; }
    toString() { return this._serialized; }
  }
  const WidFactory = {
    createWid: (s) => new Wid(String(s)),
    createUserWid: (user) => new Wid(String(user) + '@c.us'),
  };

  const hex = (n) => [...crypto.getRandomValues(new Uint8Array(n))]
    .map((b) => b.toString(16).padStart(2, '0')).join('').toUpperCase();

  class MsgKey {
    constructor({ from, to, id, participant, selfDir, fromMe, remote }) {
      this.fromMe = fromMe !== undefined ? !!fromMe : selfDir === 'out';
      const r = remote || (this.fromMe ? to : from);
      this.remote = r instanceof Wid ? r : new Wid(r);
      this.id = id;
      this.participant = participant;
      this._serialized = this.fromMe + '_' + this.remote._serialized + '_' + this.id;
    }
    toString() { return this._serialized; }
    static async newId() { return '3EB0' + hex(10); }
    static fromString(s) {
      const [fromMe, remote, id] = String(s).split('_');
      return new MsgKey({ fromMe: fromMe === 'true', remote, id });
    }
  }

  class MsgModel extends Model {
    serialize() {
      const w = (x) => (x && x._serialized) || x || null;
      return {
        id: { fromMe: this.id.fromMe, remote: this.id.remote._serialized, id: this.id.id, _serialized: this.id._serialized },
        type: this.type, body: this.body || null, caption: this.caption || null, t: this.t,
        from: w(this.from), to: w(this.to), ack: this.ack, isNewMsg: !!this.isNewMsg,
        mimetype: this.mimetype || null, size: this.size || null, filename: this.filename || null,
      };
    }
  }

  class ChatModel extends Model {
    constructor(attrs) { super(attrs); this.msgs = new Collection(); }
  }

  const Msg = new Collection();
  const Chat = new Collection();
  const Contact = new Collection();

  const Socket = new Model({ state: 'UNLAUNCHED', hasSynced: false });
  Socket.logout = () => sim.transport.logout();
  const Conn = new Model({ ref: null, wid: null, platform: null, pushname: null });
  Conn.serialize = () => ({ ref: Conn.ref, wid: Conn.wid, platform: Conn.platform, pushname: Conn.pushname });
  const Cmd = new Emitter();
  Cmd.refreshQR = () => sim.transport.refreshQR();

  function chatFor(wid) {
    return Chat.get(wid) || Chat.add(new ChatModel({ id: wid, name: '+' + wid.user, t: 0, unreadCount: 0 }));
  }

  function encodeB64(data) {
    const bytes = data instanceof Uint8Array ? data : new Uint8Array(data);
    let s = '';
    for (const b of bytes) s += String.fromCharCode(b);
    return btoa(s);
  }

  // Media: opaque data -> prep -> media object -> upload, the order whatsapp-web.js follows.
  class OpaqueData {
    constructor(blob) { this._blob = blob; this.type = blob.type; this.size = blob.size; }
    static async createFromData(data, type) { return new OpaqueData(data instanceof Blob ? data : new Blob([data], { type })); }
    url() { return URL.createObjectURL(this._blob); }
    autorelease() {}
    blob() { return this._blob; }
  }
  const mediaKind = (mimetype, asDocument) => {
    if (asDocument) return 'document';
    const top = String(mimetype).split('/')[0];
    return ['image', 'video', 'audio'].includes(top) ? top : 'document';
  };
  const MediaPrep = {
    prepRawMedia(opaque, { asDocument } = {}) {
      return {
        async waitForPrep() {
          const buf = await opaque.blob().arrayBuffer();
          const filehash = encodeB64(new Uint8Array(await crypto.subtle.digest('SHA-256', buf)));
          const data = new Model({ type: mediaKind(opaque.type, asDocument), mimetype: opaque.type, size: opaque.size,
            filehash, mediaBlob: opaque, isGif: false, filename: opaque.blob().name || null });
          data.toJSON = () => ({ type: data.type, mimetype: data.mimetype, size: data.size, filehash: data.filehash,
            filename: data.filename, clientUrl: data.clientUrl, directPath: data.directPath, mediaKey: data.mediaKey });
          sim.media.set(filehash, opaque);
          return data;
        },
      };
    },
  };
  const MediaStorage = {
    getOrCreateMediaObject(filehash) {
      return { filehash, contentInfo: {}, consolidate(json) { Object.assign(this, json); } };
    },
  };
  const MediaUpload = {
    async uploadMedia({ mimetype, mediaObject }) {
      const opaque = sim.media.get(mediaObject.filehash);
      if (!opaque) throw new Error('media object has no data');
      const res = await fetch('/mms/upload', { method: 'POST', body: opaque.blob(), headers: { 'Content-Type': mimetype } });
      if (!res.ok) throw new Error('upload failed: HTTP ' + res.status);
      const up = await res.json();
      sim.media.delete(mediaObject.filehash);
      return { mediaEntry: { mmsUrl: up.url, deprecatedMms3Url: up.url, directPath: up.direct_path,
        mediaKey: up.media_key, mediaKeyTimestamp: Math.floor(Date.now() / 1000), encFilehash: up.sha256, uploadHash: up.sha256 } };
    },
  };

  const modules = {
    WAWebSocketModel: { Socket },
    WAWebConnModel: { Conn },
    WAWebCmd: { Cmd },
    WAWebCollections: { Msg, Chat, Contact },
    WAWebOfflineHandler: { OfflineMessageHandler: { getOfflineDeliveryProgress: () => 100 } },
    WABase64: { encodeB64 },
    WAWebCompanionRegClientUtils: { DEVICE_PLATFORM: 'Chrome' },
    WAWebAdvSignatureApi: { getADVSecretKey: async () => encodeB64(sim.keys.adv) },
    WAWebUserPrefsInfoStore: { waNoiseInfo: { get: async () => ({ staticKeyPair: { pubKey: sim.keys.staticPub } }) } },
    WAWebSignalStoreApi: { waSignalStore: { getRegistrationInfo: async () => ({ identityKeyPair: { pubKey: sim.keys.identityPub } }) } },
    WAWebAltDeviceLinkingApi: {
      setPairingType(type) { sim.pairingType = type; },
      async initializeAltDeviceLinking() { if (!sim.transport) throw new Error('not ready'); },
      startAltLinkingFlow: (phone, showNotification) => sim.transport.requestPairingCode(String(phone)),
    },
    WAWebUserPrefsMeUser: { getMaybeMeUser: () => Conn.wid, getMeUser: () => Conn.wid },
    WAWebWidFactory: WidFactory,
    WAWebWid: Wid,
    WAWebMsgKey: MsgKey,
    WAWebFindChatAction: { findOrCreateLatestChat: async (wid) => ({ chat: chatFor(wid), created: false }) },
    WAWebSendMsgChatAction: { addAndSendMsgToChat: (chat, attrs) => sim.transport.addAndSend(chat, attrs) },
    WAWebMediaOpaqueData: OpaqueData,
    WAWebPrepRawMedia: MediaPrep,
    WAWebMediaStorage: MediaStorage,
    WAWebMmsMediaTypes: { msgToMediaType: ({ type }) => type },
    WAWebMediaMmsV4Upload: MediaUpload,
  };

  // Like WhatsApp Web, the app's model stores and send actions are loaded only once the
  // session has synced; before that only the socket/auth modules answer.
  const LATE = new Set(['WAWebCollections', 'WAWebFindChatAction', 'WAWebSendMsgChatAction', 'WAWebMsgKey',
    'WAWebMediaOpaqueData', 'WAWebPrepRawMedia', 'WAWebMediaStorage', 'WAWebMmsMediaTypes', 'WAWebMediaMmsV4Upload']);
  let appLoaded = false;
  Socket.on('change:hasSynced', () => { if (Socket.hasSynced) appLoaded = true; });
  window.require = function (name) {
    if (!Object.prototype.hasOwnProperty.call(modules, name) || (LATE.has(name) && !appLoaded)) {
      throw new Error('Requiring unknown module "' + name + '"');
    }
    return modules[name];
  };
  sim.modules = modules;  // the simulator's own scripts use the table directly
  window.Debug = { VERSION: cfg.waVersion || '2.3000.0' };
  sim.classes = { MsgModel, ChatModel, Wid, MsgKey, Collection };
  sim.chatFor = chatFor;
  sim.encodeB64 = encodeB64;
})();
