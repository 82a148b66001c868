// Experiment: in the API process, a conversation's events go through the Socket.IO server's own adapter
// (delivered to local sockets at once, and published for the other instances by the Redis adapter)
// instead of the Redis emitter, which sends every event to Redis and back before any socket sees it.
'use strict';
require('reflect-metadata');
const path = require('node:path');

const dist = path.resolve(process.env.BENCH_DIST || 'dist');
const { RedisIoAdapter } = require(path.join(dist, 'apps/api/src/realtime/redis-io.adapter.js'));
const { RealtimePublisher, conversationRoom, CHAT_NAMESPACE } = require(
  path.join(dist, 'libs/realtime/src/index.js'),
);

let io;
const create = RedisIoAdapter.prototype.createIOServer;
RedisIoAdapter.prototype.createIOServer = function createIOServer(...args) {
  io = create.apply(this, args);
  return io;
};
const toConversation = RealtimePublisher.prototype.toConversation;
RealtimePublisher.prototype.toConversation = function localFirst(conversationId, event, payload) {
  if (!io) return toConversation.call(this, conversationId, event, payload);
  io.of(CHAT_NAMESPACE)
    .to(conversationRoom(conversationId))
    .emit(event, { conversation_id: conversationId, ...payload });
};
