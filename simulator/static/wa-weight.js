/*
 * Page weight: hold about `pageWeightMb` of JavaScript heap and DOM, like
 * WhatsApp Web's own model stores and rendered lists, so memory benchmarks
 * can run at a realistic weight. Built in slices after the first screen so the QR is not delayed.
 */
(function () {
  'use strict';
  const cfg = window.__SIM_CONFIG || {};
  const targetMb = Number(cfg.pageWeightMb || 0);
  const weight = (window.__simWeight = { targetMb, builtMb: 0, done: targetMb <= 0, objects: [] });
  if (targetMb <= 0) return;
  const HEAP_SHARE = 0.85;          // the rest goes into DOM nodes
  const OBJ_BYTES = 220;            // measured: one record below costs about this much heap
  const NODE_BYTES = 600;           // measured: one <div><span>text</span></div> in a hidden list
  const totalObjects = Math.floor((targetMb * HEAP_SHARE * 1048576) / OBJ_BYTES);
  const totalNodes = Math.floor((targetMb * (1 - HEAP_SHARE) * 1048576) / NODE_BYTES);
  const salt = Math.random().toString(36).slice(2);
  let made = 0;
  let nodes = 0;
  let holder = null;

  function slice() {
    const until = Math.min(totalObjects, made + 10000);  // small slices keep the socket responsive
    for (; made < until; made++) {
      weight.objects.push({ id: 'false_' + made + '@c.us_' + salt, body: 'message body number ' + made + ' ' + salt,
        t: 1700000000 + made, ack: 3, kind: made % 7, meta: { star: false, n: made } });
    }
    if (!holder && document.body) {
      holder = document.createElement('div');
      holder.id = 'weight';
      holder.style.display = 'none';
      document.body.append(holder);
    }
    if (holder) {
      const end = Math.min(totalNodes, nodes + 1000);
      const frag = document.createDocumentFragment();
      for (; nodes < end; nodes++) {
        const row = document.createElement('div');
        const span = document.createElement('span');
        span.textContent = 'row ' + nodes + ' ' + salt;
        row.append(span);
        frag.append(row);
      }
      holder.append(frag);
    }
    weight.builtMb = Math.round(((made * OBJ_BYTES) + (nodes * NODE_BYTES)) / 1048576);
    if (made < totalObjects || nodes < totalNodes) setTimeout(slice, 0);
    else weight.done = true;
  }
  // Build once the first screen (QR or chats) is up, as WhatsApp Web fills its stores after.
  let started = false;
  const begin = () => { if (!started) { started = true; setTimeout(slice, 0); } };
  window.require('WAWebSocketModel').Socket.on('change:state', (_s, state) => {
    if (state === 'UNPAIRED' || state === 'CONNECTED') setTimeout(begin, 100);
  });
  setTimeout(begin, 5000);
})();
