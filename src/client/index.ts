/** `sluice/client`: the client package, `@sluice/client`, under the server package's name too. */
export * from "@sluice/client";
