/**
 * The page of an app on an origin of its own, written the way Uppy's users write theirs: the
 * stock Dashboard with @uppy/tus or @uppy/aws-s3 pointed at Sluice, and a short-lived token
 * (never an API key) that the app's own server minted for this visitor. Bundled by esbuild
 * for test/uppy.test.ts; `?uploader=tus` or `?uploader=aws-s3` picks the plugin.
 */
import Uppy from "@uppy/core";
import type { UppyFile } from "@uppy/core";
import Dashboard from "@uppy/dashboard";
import Tus from "@uppy/tus";
import AwsS3 from "@uppy/aws-s3";
import "@uppy/core/css/style.min.css";
import "@uppy/dashboard/css/style.min.css";

/** What the app's server hands its page: where Sluice is, and a token for this visitor. */
interface SluiceSession {
  sluice: string;
  token: string;
}

/** What the test reads once Uppy has finished: each file as Uppy holds it. */
export interface UploadOutcome {
  files: {
    name: string;
    complete: boolean;
    /** What the Dashboard shows. */
    error: string | null;
    /** The HTTP answer behind the error, when Uppy kept it (status and body), for the test to see Sluice's verdict. */
    errorAnswer: string | null;
    uploadURL: string | null;
    key: string | null;
  }[];
}

const { sluice, token } = (await (await fetch("/sluice-session", { method: "POST" })).json()) as SluiceSession;
const uploader = new URLSearchParams(location.search).get("uploader");
// Sluice's smallest part (S3's 5 MiB), so that the test's file over it can stay small.
const MULTIPART_ABOVE = 5 * 1024 * 1024;

const uppy = new Uppy({ restrictions: { allowedFileTypes: ["image/*"] } }).use(Dashboard, { inline: true, target: "#uppy" });
if (uploader === "tus") {
  uppy.use(Tus, { endpoint: `${sluice}/v1/tus/`, headers: { authorization: `Bearer ${token}` } });
} else {
  // @uppy/aws-s3 6 sends no headers to Companion: the token goes in the endpoint's path.
  uppy.use(AwsS3, { companionEndpoint: `${sluice}/companion/${token}`, shouldUseMultipart: (file) => (file.size ?? 0) > MULTIPART_ABOVE });
}

// Uppy's aws-s3 reports any non-2xx answer as a "network error" whose request it keeps.
const errorAnswers = new Map<string, string>();
uppy.on("upload-error", (file, error) => {
  const request = (error as { request?: unknown }).request;
  if (file && request instanceof XMLHttpRequest) errorAnswers.set(file.id, `${request.status} ${request.responseText}`);
});

function outcomeOf(file: UppyFile<Record<string, unknown>, Record<string, never>>): UploadOutcome["files"][number] {
  const body = file.response?.body as { key?: unknown } | undefined;
  return {
    name: file.name ?? "",
    complete: file.progress.uploadComplete === true,
    error: file.error ?? null,
    errorAnswer: errorAnswers.get(file.id) ?? null,
    uploadURL: file.response?.uploadURL ?? null,
    key: typeof body?.key === "string" ? body.key : null,
  };
}

uppy.on("complete", () => {
  const outcome: UploadOutcome = { files: uppy.getFiles().map(outcomeOf) };
  Object.assign(window, { uploadOutcome: outcome });
});
