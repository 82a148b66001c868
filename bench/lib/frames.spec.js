'use strict';
const { sseEvent, sseId, socketPacket } = require('./frames');

describe('SSE frames', () => {
  it('name their event whether or not an id line comes first', () => {
    expect(sseEvent('id: 7\nevent: text\ndata: {"seq":7}')).toBe('text');
    expect(sseEvent('event: done\ndata: {}')).toBe('done');
    expect(sseEvent('event:content_block_delta\ndata: {}')).toBe('content_block_delta');
  });

  it('have no event when they are a comment or carry only data', () => {
    expect(sseEvent(': heartbeat')).toBeNull();
    expect(sseEvent('data: {}')).toBeNull();
    expect(sseEvent('')).toBeNull();
  });

  it('carry the sequence number as their id, when there is one', () => {
    expect(sseId('id: 12\nevent: text\ndata: {}')).toBe('12');
    expect(sseId('event: text\nid: 13\ndata: {}')).toBe('13');
    expect(sseId('event: text\ndata: {"id: 5"}')).toBeNull();
    expect(sseId('event: text\ndata: {}')).toBeNull();
  });
});

describe('Socket.IO packets', () => {
  it('are events with their payload', () => {
    expect(socketPacket('42/chat,["text",{"run_id":"r","seq":3,"content":"tok "}]', '/chat')).toEqual({
      type: 'event',
      name: 'text',
      payload: { run_id: 'r', seq: 3, content: 'tok ' },
    });
  });

  it('are acknowledgements with their id and answer', () => {
    expect(
      socketPacket(
        '43/chat,12[{"conversation_id":"c","last_seq":9,"replayed":4,"truncated":false}]',
        '/chat',
      ),
    ).toEqual({
      type: 'ack',
      id: 12,
      answer: { conversation_id: 'c', last_seq: 9, replayed: 4, truncated: false },
    });
  });

  it('are nothing for another namespace, a ping or a connect', () => {
    expect(socketPacket('42/other,["text",{}]', '/chat')).toBeNull();
    expect(socketPacket('2', '/chat')).toBeNull();
    expect(socketPacket('40/chat,{"sid":"x"}', '/chat')).toBeNull();
  });
});
