// Experiment: Socket.IO event handlers bound with plain listeners rather than one RxJS pipeline per event
// and socket (what Nest's IoAdapter does), to see what that costs per idle connection.
'use strict';
const { IoAdapter } = require('@nestjs/platform-socket.io');

IoAdapter.prototype.bindMessageHandlers = function bindMessageHandlers(socket, handlers) {
  for (const { message, callback, isAckHandledManually } of handlers) {
    socket.on(message, (...args) => {
      const { data, ack } = this.mapPayload(args.length === 1 ? args[0] : args);
      const deliver = (response) => {
        if (response === null || response === undefined) return;
        if (response.event) socket.emit(response.event, response.data);
        else if (!isAckHandledManually && typeof ack === 'function') ack(response);
      };
      Promise.resolve()
        .then(() => callback(data, ack))
        .then((response) => {
          if (response && typeof response.subscribe === 'function') response.subscribe(deliver);
          else deliver(response);
        })
        .catch((error) => this.logger.error(error));
    });
  }
};
