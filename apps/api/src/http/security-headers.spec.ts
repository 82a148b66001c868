import { securityHeaders } from './security-headers';

describe('securityHeaders', () => {
  it("records helmet's headers for the options once: the CSP as configured, the rest helmet's defaults", () => {
    const { set, removed } = securityHeaders({
      contentSecurityPolicy: { directives: { upgradeInsecureRequests: null, connectSrc: ["'self'"] } },
    });
    expect(set['content-security-policy']).toContain("default-src 'self'");
    expect(set['content-security-policy']).toContain("connect-src 'self'");
    expect(set['content-security-policy']).not.toContain('upgrade-insecure-requests');
    expect(set).toMatchObject({
      'strict-transport-security': expect.stringMatching(/^max-age=\d+/),
      'x-content-type-options': 'nosniff',
      'x-frame-options': 'SAMEORIGIN',
    });
    expect(removed).toContain('x-powered-by');
  });

  it('refuses options helmet refuses', () => {
    expect(() =>
      securityHeaders({ contentSecurityPolicy: { directives: { 'bad directive': ["'self'"] } } }),
    ).toThrow();
  });
});
