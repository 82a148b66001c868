import { trace } from '@opentelemetry/api';
import { BasicTracerProvider } from '@opentelemetry/sdk-trace-base';
import { tracingActive } from './trace-context';

describe('tracingActive', () => {
  afterEach(() => trace.disable());

  it('is false while no OpenTelemetry SDK is registered, true once one is, false again after it is removed', () => {
    expect(tracingActive()).toBe(false);
    trace.setGlobalTracerProvider(new BasicTracerProvider());
    expect(tracingActive()).toBe(true);
    trace.disable();
    expect(tracingActive()).toBe(false);
  });
});
