// The cold-start baseline: the smallest useful Lambda on the same framework, a Hono app with
// one JSON POST route behind the same API Gateway adapter, bundled the same way as Sluice's.
import { Hono } from "hono";
import { handle } from "hono/aws-lambda";

const app = new Hono();
app.post("/v1/uploads", async (c) => c.json({ received: await c.req.json<unknown>() }, 201));
export const http = handle(app);
