/**
 * The web uploader. It uses the client SDK, so it knows the API only through it.
 * The API key comes from the URL fragment (`/#key=sk_…`, as printed at first start; a fragment
 * never reaches the server or its logs) or from the form, and is kept in localStorage. A
 * browser upload token (`sut_…`, `/#token=sut_…` or `#key=`) works in its place: it uploads
 * and follows its uploads, and the page offers no download for it (tokens may not download).
 */
import { SluiceApiError, SluiceClient, type UploadStatus } from "@sluice/client";

const STORAGE_KEY = "sluice.apiKey";
/** Multipart uploads under way, by file identity: picking the same file after a reload resumes it. */
const PENDING_KEY = "sluice.pending";

/** A file as far as a browser can tell it apart after a reload: name, size and modification time. */
const identity = (file: File) => `${file.name}\u0000${file.size}\u0000${file.lastModified}`;

function pending(): Record<string, string> {
  try {
    return JSON.parse(localStorage.getItem(PENDING_KEY) ?? "{}") as Record<string, string>;
  } catch {
    return {};
  }
}

function remember(file: File, id: string | undefined): void {
  const all = pending();
  if (id) all[identity(file)] = id;
  else delete all[identity(file)];
  localStorage.setItem(PENDING_KEY, JSON.stringify(all));
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

function takeKeyFromFragment(): void {
  const params = new URLSearchParams(location.hash.slice(1));
  const key = params.get("token") ?? params.get("key");
  if (key) {
    localStorage.setItem(STORAGE_KEY, key);
    history.replaceState(null, "", location.pathname + location.search); // out of the address bar and history
  }
}

function client(): SluiceClient | undefined {
  const key = localStorage.getItem(STORAGE_KEY);
  if (!key) return undefined;
  return isBrowserToken(key) ? new SluiceClient({ baseUrl: location.origin, token: key }) : new SluiceClient({ baseUrl: location.origin, apiKey: key });
}

/** Browser upload tokens are `sut_…` (see POST /v1/tokens). */
function isBrowserToken(credential: string): boolean {
  return credential.startsWith("sut_");
}

function showSections(): void {
  const hasKey = client() !== undefined;
  $("key-section").hidden = hasKey;
  $("upload-section").hidden = !hasKey;
  if (!hasKey) $<HTMLInputElement>("key-input").focus();
}

function describe(status: UploadStatus): string {
  switch (status.state) {
    case "archived":
      return "Archived";
    case "rejected":
      return `Rejected: ${status.reason ?? "no reason given"}`;
    case "failed":
      return `Failed: ${status.reason ?? "no reason given"}`;
    default:
      return status.state[0]!.toUpperCase() + status.state.slice(1) + "…";
  }
}

function addRow(file: File) {
  const li = document.createElement("li");
  const name = document.createElement("span");
  name.className = "name";
  name.textContent = file.name;
  const progress = document.createElement("progress");
  progress.max = file.size || 1;
  progress.value = 0;
  progress.setAttribute("aria-label", `Upload progress of ${file.name}`);
  const state = document.createElement("span");
  state.className = "state";
  state.dataset.state = "waiting";
  state.textContent = "Waiting…";
  li.append(name, progress, state);
  $("file-list").append(li);
  const setState = (key: string, text: string) => {
    state.dataset.state = key;
    state.textContent = text;
  };
  return { li, progress, setState };
}

async function uploadOne(api: SluiceClient, file: File): Promise<void> {
  const row = addRow(file);
  try {
    const resume = pending()[identity(file)];
    row.setState("uploading", resume ? "Resuming…" : "Uploading…");
    const options = {
      onProgress: ({ loaded, total }: { loaded: number; total: number }) => {
        row.progress.max = total || 1;
        row.progress.value = loaded;
      },
      // A multipart upload can be carried on after a reload: remember it until it is done.
      onIssued: ({ id, multipart }: { id: string; multipart?: unknown }) => {
        if (multipart) remember(file, id);
      },
    };
    const issued = await api.upload(file, { ...options, ...(resume && { resume }) }).catch((err: unknown) => {
      // The remembered upload is gone (expired, cancelled, already done): start afresh.
      if (resume && err instanceof SluiceApiError && [404, 409, 410].includes(err.status)) {
        remember(file, undefined);
        return api.upload(file, options);
      }
      throw err;
    });
    remember(file, undefined);
    row.progress.value = row.progress.max;
    // The upload's server-sent events (GET /v1/uploads/{id}/events) show each state as it comes;
    // where a proxy or the runtime will not stream them, the SDK polls instead.
    const final = await api.waitForUpload(issued.id, { onState: (s) => row.setState(s.state, describe(s)) });
    row.setState(final.state, describe(final));
    if (final.state === "archived" && final.fileId && !isBrowserToken(localStorage.getItem(STORAGE_KEY) ?? "")) {
      const fileId = final.fileId;
      const button = document.createElement("button");
      button.type = "button";
      button.className = "secondary";
      button.textContent = `Download ${file.name}`;
      button.addEventListener("click", () => {
        api.downloadUrl(fileId).then(
          ({ url }) => location.assign(url),
          (err: unknown) => row.setState("error", `Download failed: ${message(err)}`),
        );
      });
      row.li.append(button);
    }
  } catch (err) {
    row.setState("error", `Upload failed: ${message(err)}`);
    if (err instanceof SluiceApiError && err.status === 401) forgetKey("That API key or token was refused (a token may have expired).");
  }
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function uploadAll(files: FileList | File[]): void {
  const api = client();
  if (!api) return showSections();
  for (const file of Array.from(files)) void uploadOne(api, file);
}

function forgetKey(reason = ""): void {
  localStorage.removeItem(STORAGE_KEY);
  $("key-error").textContent = reason;
  showSections();
}

function init(): void {
  takeKeyFromFragment();
  showSections();

  $("key-form").addEventListener("submit", (e) => {
    e.preventDefault();
    const input = $<HTMLInputElement>("key-input");
    const key = input.value.trim();
    if (!/^\S+$/.test(key)) {
      $("key-error").textContent = "Enter an API key or browser upload token.";
      return;
    }
    localStorage.setItem(STORAGE_KEY, key);
    input.value = "";
    $("key-error").textContent = "";
    showSections();
    $("pick-button").focus();
  });

  const input = $<HTMLInputElement>("file-input");
  $("pick-button").addEventListener("click", () => input.click());
  input.addEventListener("change", () => {
    if (input.files) uploadAll(input.files);
    input.value = "";
  });

  const zone = $("drop-zone");
  zone.addEventListener("dragover", (e) => {
    e.preventDefault();
    zone.classList.add("over");
  });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    if (e.dataTransfer?.files.length) uploadAll(e.dataTransfer.files);
  });

  $("forget-key").addEventListener("click", () => forgetKey());
}

init();
