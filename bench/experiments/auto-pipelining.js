// Experiment: every ioredis client sends the commands issued in one tick in one write.
'use strict';
const Redis = require('ioredis');

const parseOptions = Redis.prototype.parseOptions;
Redis.prototype.parseOptions = function parseOptionsAutoPipelined(...args) {
  parseOptions.apply(this, args);
  this.options.enableAutoPipelining = true;
};
