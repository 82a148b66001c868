export { RealtimeModule } from './realtime.module';
export { RealtimePublisher, CHAT_NAMESPACE, taskRoom } from './realtime-publisher';
