/*
 * The page's persistence, as WhatsApp Web keeps it: device keys (CryptoKey
 * objects, not exportable) and credentials in IndexedDB, the browser id and
 * last account in localStorage. Losing either means a new QR scan.
 */
(function () {
  'use strict';
  const DB = 'wawc';
  const STORES = ['keys', 'session', 'msgs'];
  let dbPromise = null;

  function open() {
    if (!dbPromise) {
      dbPromise = new Promise((resolve, reject) => {
        const req = indexedDB.open(DB, 1);
        req.onupgradeneeded = () => { for (const s of STORES) req.result.createObjectStore(s); };
        req.onsuccess = () => resolve(req.result);
        req.onerror = () => reject(req.error);
      });
    }
    return dbPromise;
  }

  async function tx(store, mode, fn) {
    const db = await open();
    return new Promise((resolve, reject) => {
      const t = db.transaction(store, mode);
      const req = fn(t.objectStore(store));
      t.oncomplete = () => resolve(req instanceof IDBRequest ? req.result : undefined);
      t.onerror = () => reject(t.error);
      t.onabort = () => reject(t.error);
    });
  }

  const store = {
    get: (s, key) => tx(s, 'readonly', (os) => os.get(key)),
    put: (s, key, value) => tx(s, 'readwrite', (os) => { os.put(value, key); }),
    all: (s) => tx(s, 'readonly', (os) => os.getAll()),
    del: (s, key) => tx(s, 'readwrite', (os) => { os.delete(key); }),
    async clearAll() {
      for (const s of STORES) await tx(s, 'readwrite', (os) => { os.clear(); });
      localStorage.removeItem('last-wid-md');
      localStorage.removeItem('WABrowserId');
    },
    browserId() {
      let id = localStorage.getItem('WABrowserId');
      if (!id) {
        id = [...crypto.getRandomValues(new Uint8Array(12))].map((b) => b.toString(16).padStart(2, '0')).join('');
        localStorage.setItem('WABrowserId', id);
      }
      return id;
    },
    // Keys are generated once per profile; private halves can never leave the browser.
    async deviceKeys() {
      let k = await store.get('keys', 'device');
      // Keys copied without their CryptoKey objects (e.g. a storage-state export) are useless.
      if (!k || !(k.identity && k.identity.privateKey instanceof CryptoKey)) {
        const identity = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, ['sign', 'verify']);
        const noise = await crypto.subtle.generateKey({ name: 'ECDH', namedCurve: 'P-256' }, false, ['deriveBits']);
        k = { identity, noise, adv: crypto.getRandomValues(new Uint8Array(32)).buffer };
        await store.put('keys', 'device', k);
      }
      return {
        identity: k.identity,
        identityPub: new Uint8Array(await crypto.subtle.exportKey('raw', k.identity.publicKey)),
        staticPub: new Uint8Array(await crypto.subtle.exportKey('raw', k.noise.publicKey)),
        adv: new Uint8Array(k.adv),
      };
    },
  };
  window.__simStore = store;
})();
