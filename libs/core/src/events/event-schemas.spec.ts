import { CLIENT_ACK_SCHEMAS, CLIENT_EVENT_SCHEMAS, SERVER_EVENT_SCHEMAS } from './event-schemas';
import { CLIENT_EVENT_NAMES, RUN_EVENT_NAMES, SERVER_EVENT_NAMES } from './server-events';

describe('event schemas', () => {
  it('cover exactly the events the name lists give (the lists are not checked by the compiler)', () => {
    expect(Object.keys(SERVER_EVENT_SCHEMAS)).toEqual([...SERVER_EVENT_NAMES]);
    expect(Object.keys(CLIENT_EVENT_SCHEMAS)).toEqual([...CLIENT_EVENT_NAMES]);
    expect(Object.keys(CLIENT_ACK_SCHEMAS)).toEqual([...CLIENT_EVENT_NAMES]);
    expect(SERVER_EVENT_NAMES).toEqual(expect.arrayContaining([...RUN_EVENT_NAMES]));
  });

  it('require run_id and seq on every run event but error, whose refusals of client events have no run', () => {
    for (const name of RUN_EVENT_NAMES) {
      const required = SERVER_EVENT_SCHEMAS[name].required;
      if (name === 'error') expect(required).not.toContain('run_id');
      else
        expect([name, required]).toEqual([
          name,
          expect.arrayContaining(['conversation_id', 'run_id', 'seq']),
        ]);
    }
  });

  it('derive required fields from the interfaces: optional fields are not required', () => {
    expect(CLIENT_EVENT_SCHEMAS.join.required).toEqual(['conversation_id']);
    expect(CLIENT_EVENT_SCHEMAS.message.required).toEqual(['message']);
    expect(CLIENT_EVENT_SCHEMAS.approve.required).toEqual(['run_id', 'tool_use_id', 'approve']);
  });
});
