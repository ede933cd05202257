/** `sluice/client/node`: the client package's Node entry, `@sluice/client/node`, under the server package's name too. */
export * from "@sluice/client/node";
