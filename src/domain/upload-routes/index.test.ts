import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadConfig } from "../../config.js";
import { SluiceError } from "../../errors.js";
import type { Presigner } from "../../storage/presign.js";
import { UPLOAD_ROUTES, chooseUploadRoutes } from "./index.js";
import { urlTtlSeconds, type UploadRouteDefinition } from "./upload-route.js";

const S3 = { SLUICE_STORAGE: "s3", AWS_ENDPOINT_URL_S3: "http://127.0.0.1:9", AWS_ACCESS_KEY_ID: "a", AWS_SECRET_ACCESS_KEY: "b", SLUICE_API_KEYS: "sk_test_key_0123456789" };
/** Only `originOf` is asked for when routes are chosen; nothing is signed here. */
const presigner = { originOf: () => "http://storage.test" } as unknown as Presigner;

const refusedWith = (code: string) => (err: unknown) => err instanceof SluiceError && err.status === 422 && err.code === code;

describe("chooseUploadRoutes", () => {
  it("gateway mode: PUT and parts through Sluice, POST and credentials refused with their codes", () => {
    const routes = chooseUploadRoutes({ config: loadConfig({ SLUICE_API_KEYS: "sk_test_key_0123456789" }), presigner: undefined, credentials: undefined });
    assert.equal(routes.forMethod("PUT").name, "gateway");
    assert.equal(routes.parts.name, "gateway parts");
    assert.throws(() => routes.forMethod("POST"), refusedWith("post_unavailable"));
    assert.throws(() => routes.forMethod("credentials"), refusedWith("credentials_unavailable"));
    assert.deepEqual(routes.browserOrigins, []);
  });

  it("direct mode on S3: presigned PUT, POST and parts, and the bucket's origin for the page", () => {
    const routes = chooseUploadRoutes({ config: loadConfig(S3), presigner, credentials: undefined });
    assert.equal(routes.forMethod("PUT").name, "presigned-put");
    assert.equal(routes.forMethod("POST").name, "presigned-post");
    assert.equal(routes.parts.name, "presigned parts");
    assert.throws(() => routes.forMethod("credentials"), refusedWith("credentials_unavailable"));
    assert.deepEqual(routes.browserOrigins, ["http://storage.test"]);
  });

  it("edge mode: PUT through CloudFront (which needs the sha256), parts presigned at storage", () => {
    const routes = chooseUploadRoutes({ config: loadConfig({ ...S3, SLUICE_UPLOAD_MODE: "edge", SLUICE_EDGE_URL: "https://edge.test" }), presigner, credentials: undefined });
    const put = routes.forMethod("PUT");
    assert.equal(put.name, "edge");
    assert.throws(() => put.check?.({ filename: "a", contentType: "text/plain", size: 1 }), refusedWith("sha256_required"));
    assert.equal(routes.parts.name, "presigned parts");
    assert.throws(() => routes.forMethod("POST"), refusedWith("post_unavailable"));
    assert.deepEqual(routes.browserOrigins, ["http://storage.test", "https://edge.test"]);
  });

  it("a new route is one definition in the list: it serves where it says it can, first in order wins", () => {
    const next: UploadRouteDefinition = {
      name: "next",
      method: "PUT",
      single: ({ config }) =>
        config.uploadMode === "gateway"
          ? {
              name: "next",
              plansParts: true,
              browserOrigins: [],
              ttlSeconds: (requested) => urlTtlSeconds(config, requested),
              instruct: async (_s, ticket, { storeTicket }) => {
                await storeTicket();
                return { upload: { method: "PUT", url: `https://next.test/${ticket.id}`, headers: {} } };
              },
            }
          : undefined,
    };
    const gatewayConfig = loadConfig({ SLUICE_API_KEYS: "sk_test_key_0123456789" });
    assert.equal(chooseUploadRoutes({ config: gatewayConfig, presigner: undefined, credentials: undefined }, [next, ...UPLOAD_ROUTES]).forMethod("PUT").name, "next");
    assert.equal(chooseUploadRoutes({ config: loadConfig(S3), presigner, credentials: undefined }, [next, ...UPLOAD_ROUTES]).forMethod("PUT").name, "presigned-put");
  });
});
