import type { SluiceError } from "../../errors.js";
import { edgeRoute } from "./edge.js";
import { gatewayRoute } from "./gateway.js";
import { presignedPostRoute } from "./presigned-post.js";
import { presignedPutRoute } from "./presigned-put.js";
import { stsCredentialsRoute } from "./sts-credentials.js";
import { tusRoute } from "./tus.js";
import type { PartRoute, RouteContext, UploadMethod, UploadRoute, UploadRouteDefinition } from "./upload-route.js";

/**
 * Every way of uploading, in order of preference: for each method (and for parts) the first
 * that serves under the configuration is chosen. Adding a route is one file beside these and
 * one line here.
 */
export const UPLOAD_ROUTES: readonly UploadRouteDefinition[] = [edgeRoute, presignedPutRoute, presignedPostRoute, stsCredentialsRoute, tusRoute, gatewayRoute];

/** The routes chosen at assembly: what issuing, part signing and the web page use. */
export interface UploadRoutes {
  /** The route for a single upload asked for with `method`; throws the method's 422 when none serves here. */
  forMethod(method: UploadMethod): UploadRoute;
  /** Where a multipart upload's parts go. */
  parts: PartRoute;
  /** Every origin outside Sluice that a web page sends bytes to, for its Content-Security-Policy. */
  browserOrigins: readonly string[];
}

export function chooseUploadRoutes(context: RouteContext, definitions: readonly UploadRouteDefinition[] = UPLOAD_ROUTES): UploadRoutes {
  const singles = new Map<UploadMethod, UploadRoute>();
  const refusals = new Map<UploadMethod, () => SluiceError>();
  let parts: PartRoute | undefined;
  for (const definition of definitions) {
    const { method } = definition;
    if (method && !singles.has(method)) {
      const route = definition.single?.(context);
      if (route) singles.set(method, route);
      else if (definition.unavailable && !refusals.has(method)) refusals.set(method, definition.unavailable);
    }
    parts ??= definition.parts?.(context);
  }
  if (!parts) throw new Error("No route serves multipart parts: the gateway route must be registered.");
  const origins = [...parts.browserOrigins, ...[...singles.values()].flatMap((r) => r.browserOrigins)];
  return {
    forMethod(method) {
      const route = singles.get(method);
      if (route) return route;
      const refusal = refusals.get(method);
      if (refusal) throw refusal();
      throw new Error(`No upload route serves ${method}.`);
    },
    parts,
    browserOrigins: [...new Set(origins)],
  };
}
