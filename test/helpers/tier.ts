/**
 * `npm run test:unit` runs the tests beside the code that need no server, with
 * SLUICE_TEST_TIER=unit. Every helper that starts a server, a browser or Sluice itself calls
 * this first, so that a test needing one but named as a unit test fails at once instead of
 * quietly slowing the fast tier down.
 */
export function needsServerTier(what: string): void {
  if (process.env.SLUICE_TEST_TIER === "unit") {
    throw new Error(`${what} is not started in npm run test:unit: name this test *.server.test.ts, or put it in test/`);
  }
}
