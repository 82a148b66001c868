// Experiment: the SDK's fetch goes through an undici 7 Agent that keeps provider connections alive.
'use strict';
const { Agent, setGlobalDispatcher } = require('undici');

setGlobalDispatcher(new Agent({ keepAliveTimeout: 60_000, keepAliveMaxTimeout: 600_000 }));
