// The wire formats the load generators read, parsed only as far as they need.
'use strict';

/**
 * The event name of one SSE frame (the text between two blank lines), or null for a comment (heartbeat) or a
 * frame without one. Field order is free: the app writes `id:` before `event:`, the baselines and the
 * provider write no `id:`.
 */
function sseEvent(frame) {
  let at = 0;
  while (at < frame.length) {
    const end = frame.indexOf('\n', at);
    const line = end === -1 ? frame.slice(at) : frame.slice(at, end);
    if (line.startsWith('event:')) return line.slice(line[6] === ' ' ? 7 : 6);
    if (end === -1) break;
    at = end + 1;
  }
  return null;
}

/** The `id:` of an SSE frame (the app's sequence number), or null. */
function sseId(frame) {
  const at = frame.startsWith('id:') ? 0 : frame.indexOf('\nid:') + 1;
  if (at === 0 && !frame.startsWith('id:')) return null;
  const end = frame.indexOf('\n', at);
  const value = (end === -1 ? frame.slice(at + 3) : frame.slice(at + 3, end)).trim();
  return value === '' ? null : value;
}

/**
 * A Socket.IO v5 packet of namespace `ns` as Engine.IO delivers it in a `4` (message) frame:
 * `42<ns>,[name, payload]` is an event, `43<ns>,<id>[answer]` an acknowledgement. Anything else is null.
 */
function socketPacket(text, ns) {
  const prefixLength = 2 + ns.length + 1;
  if (text.length <= prefixLength || text[0] !== '4' || text.slice(2, prefixLength) !== `${ns},`) return null;
  if (text[1] === '2') {
    const [name, payload] = JSON.parse(text.slice(prefixLength));
    return { type: 'event', name, payload };
  }
  if (text[1] === '3') {
    const open = text.indexOf('[', prefixLength);
    if (open === -1) return null;
    const args = JSON.parse(text.slice(open));
    return { type: 'ack', id: Number(text.slice(prefixLength, open)), answer: args[0] };
  }
  return null;
}

module.exports = { sseEvent, sseId, socketPacket };
