/** dynalite ships no types: the part the tests use. */
declare module "dynalite" {
  import type { Server } from "node:net";
  function dynalite(options?: { path?: string; createTableMs?: number; deleteTableMs?: number; updateTableMs?: number }): Server;
  export default dynalite;
}
