// Experiment: publish a conversation's events to Redis only when a socket of this instance watches it.
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
RealtimePublisher.prototype.toConversation = function watchedOnly(conversationId, event, payload) {
  if (io && !io.of(CHAT_NAMESPACE).adapter.rooms.has(conversationRoom(conversationId))) return;
  toConversation.call(this, conversationId, event, payload);
};
