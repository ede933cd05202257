import dns from "node:dns";
import net, { type LookupFunction } from "node:net";
import ipaddr from "ipaddr.js";

/**
 * SSRF safety (issue 18, point 5): a webhook may only reach public unicast addresses. Anything
 * else ipaddr.js names (loopback, private, link-local and with it 169.254.169.254, unique-local
 * and with it fd00:ec2::254, CGNAT and with it 100.100.100.200, multicast, unspecified,
 * broadcast, reserved, and the IPv6 forms that embed an IPv4 address: IPv4-mapped, NAT64,
 * 6to4, Teredo) is refused. IPv4-mapped IPv6 is judged as the IPv4 address it carries.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  return ipaddr.process(address).range() === "unicast";
}

/** Why an address is refused, for the error a person reads. */
export function addressRange(address: string): string {
  return ipaddr.isValid(address) ? ipaddr.process(address).range() : "not an IP address";
}

/** Resolves a host name to all its addresses (a seam: tests stand in a resolver that changes its answer). */
export type Resolve = (hostname: string) => Promise<string[]>;

export const systemResolve: Resolve = async (hostname) => (await dns.promises.lookup(hostname, { all: true, verbatim: true })).map((a) => a.address);

export class UnsafeAddressError extends Error {
  constructor(host: string, address: string) {
    super(`${host} resolves to ${address} (${addressRange(address)}), which webhooks may not reach (SLUICE_WEBHOOK_ALLOW_PRIVATE)`);
    this.name = "UnsafeAddressError";
  }
}

/** Every address `hostname` resolves to, each one checked; throws UnsafeAddressError on the first refused. */
export async function resolvePublic(hostname: string, resolve: Resolve): Promise<string[]> {
  const bare = hostname.replace(/^\[|\]$/g, "");
  const addresses = net.isIP(bare) ? [bare] : await resolve(bare);
  if (addresses.length === 0) throw new Error(`${hostname} has no address`);
  for (const a of addresses) if (!isPublicAddress(a)) throw new UnsafeAddressError(hostname, a);
  return addresses;
}

/**
 * A `lookup` for node:http(s) that resolves with `resolve` and refuses the connection unless
 * every address is public: the check is made on the very answer the socket connects to, at
 * each delivery, so a name that turns private after it was checked (DNS rebinding) is refused.
 */
export function checkedLookup(resolve: Resolve): LookupFunction {
  return (hostname, options, callback) => {
    resolvePublic(hostname, resolve).then(
      (addresses) => {
        const entries = addresses.map((address) => ({ address, family: net.isIPv6(address) ? 6 : 4 }));
        if (options.all) callback(null, entries);
        else callback(null, entries[0]!.address, entries[0]!.family);
      },
      (err: unknown) => callback(err as NodeJS.ErrnoException, "", 0),
    );
  };
}
