import { approvalTools } from './agent';

describe('the tools whose calls wait for approval', () => {
  it("are the agent's own when the conversation adds none", () => {
    expect(approvalTools({})).toEqual([]);
    expect(approvalTools({ toolsRequiringApproval: ['create_support_ticket'] })).toEqual([
      'create_support_ticket',
    ]);
  });

  it("add a conversation's tools to the operator's, never remove any", () => {
    const agent = { toolsRequiringApproval: ['create_support_ticket'] };
    expect(approvalTools(agent, ['lookup_order', 'create_support_ticket'])).toEqual([
      'create_support_ticket',
      'lookup_order',
    ]);
    expect(approvalTools(agent, [])).toEqual(['create_support_ticket']);
  });
});
