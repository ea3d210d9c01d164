// Two ComfyUI clients from the npm registry, written by other people, driven against
// `sigmaflow serve`: each submits the default demo graph, follows its progress over the
// websocket, waits for the result and downloads the report's PNG through /view.
//   node clients.mjs SIGMAFLOW_EXECUTABLE GRAPH.json
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

import WebSocket from "ws";
import { Client } from "@stable-canvas/comfyui-client";
import { ComfyApi, CallWrapper, PromptBuilder } from "@saintno/comfyui-sdk";

const [exe, graphPath] = process.argv.slice(2);
const graph = JSON.parse(readFileSync(graphPath, "utf8"));
const reportNode = Object.keys(graph).find((id) => graph[id].class_type === "CompareReport");
const sweepNode = Object.keys(graph).find((id) => graph[id].class_type === "ScheduleSweep");
const work = mkdtempSync(join(tmpdir(), "sigmaflow-clients-"));

function fail(message) {
  console.error("FAIL: " + message);
  process.exitCode = 1;
}

// Waits are bounded by progress, not by wall time: on a busy machine (a second test suite on the
// same 2 cores) the demo prompt took more than the 300 s the first library waits by default. A
// prompt fails only when the server shows no sign of life (no websocket message) for STALL_MS.
const STALL_MS = 600000;
const NO_TIMEOUT_MS = 2 ** 31 - 1;  // the longest setTimeout; the watchdog below decides
let lastEvent = Date.now();
function alive() {
  lastEvent = Date.now();
}
function watchdog(who) {
  let timer;
  const stalled = new Promise((_, reject) => {
    timer = setInterval(() => {
      if (Date.now() - lastEvent > STALL_MS)
        reject(new Error(`${who}: no message from the server for ${STALL_MS / 1000} s`));
    }, 5000);
  });
  return { stalled, stop: () => clearInterval(timer) };
}

// Starts the server on a free loopback port; resolves with {server, base}.
function startServer() {
  return new Promise((resolve, reject) => {
    const server = spawn(exe, ["serve", "--port", "0", "--out", join(work, "out")], {
      env: { ...process.env, SIGMAFLOW_CACHE_DIR: join(work, "cache") },
      stdio: ["ignore", "pipe", "inherit"],
    });
    let text = "";
    // Cleared once listening: a pending timer kept node alive, so every run took 300 s.
    const timer = setTimeout(() => reject(new Error("server did not start within 300 s")), 300000);
    server.stdout.on("data", (d) => {
      text += d.toString();
      const m = text.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ server, base: `127.0.0.1:${m[1]}` });
      }
    });
    server.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited (${code}) before listening: ${text}`));
    });
  });
}

async function expectPng(url, who) {
  const res = await fetch(url);
  const buf = Buffer.from(await res.arrayBuffer());
  if (res.status !== 200) return fail(`${who}: GET ${url} -> ${res.status}`);
  if (buf.subarray(0, 8).toString("hex") !== "89504e470d0a1a0a") return fail(`${who}: ${url} is not a PNG`);
  console.log(`${who}: downloaded ${buf.length} bytes of PNG through /view`);
}

// @stable-canvas/comfyui-client: Client.enqueue follows the prompt over the websocket.
async function stableCanvas(base) {
  const client = new Client({ api_host: base, WebSocket, fetch, clientId: "stable-canvas-client" });
  const stats = await client.getSystemStats();
  if (!stats.system) fail("stable-canvas: /system_stats has no system field");
  await client.connect();
  for (const event of ["status", "executing", "executed", "execution_cached", "progress"]) client.on(event, alive);
  let progress = 0;
  alive();
  const dog = watchdog("stable-canvas");
  let out;
  try {
    out = await Promise.race([
      client.enqueue(graph, {
        disable_random_seed: true,
        timeout_ms: NO_TIMEOUT_MS,
        progress: () => {
          progress++;
          alive();
        },
      }),
      dog.stalled,
    ]);
  } finally {
    dog.stop();
  }
  console.log(`stable-canvas: prompt ${out.prompt_id} done, ${out.images.length} image(s), ${progress} progress events`);
  if (progress === 0) fail("stable-canvas: no progress event");
  const png = out.images.find((i) => i.type === "url" && i.data.includes("error_vs_nfe"));
  if (!png) fail("stable-canvas: no error_vs_nfe image in the outputs");
  else await expectPng(png.data, "stable-canvas");
  client.close();
}

// @saintno/comfyui-sdk: CallWrapper runs a PromptBuilder workflow and reports progress.
async function saintno(base) {
  const api = new ComfyApi(`http://${base}`, "saintno-client").init();
  await api.waitForReady();
  // Another sweep seed than the first client's, so the prompt runs instead of being served from
  // the cache (a re-queued identical prompt reports every node as cached, as ComfyUI does).
  const workflow = new PromptBuilder(graph, ["seed"], ["report"])
    .setInputNode("seed", `${sweepNode}.inputs.seed`)
    .setOutputNode("report", reportNode)
    .input("seed", 1);
  let progress = 0;
  alive();
  const dog = watchdog("saintno");
  // The library's own onProgress subscribes only after it has read the prompt's history, and
  // misses every event when a "status" message wins that race (0 seen in 3 of 4 runs, 34 in the
  // fourth): the check is on the progress messages its websocket layer delivered.
  let delivered = 0;
  api.on("progress", (e) => {
    if (e.detail?.node === sweepNode && e.detail?.max > 0) delivered++;
    alive();
  });
  let result;
  try {
    result = await Promise.race([
      new Promise((resolve, reject) => {
        new CallWrapper(api, workflow)
          .onProgress(() => {
            progress++;
            alive();
          })
          .onFinished((data) => resolve(data))
          .onFailed((err) => reject(err))
          .run();
      }),
      dog.stalled,
    ]);
  } finally {
    dog.stop();
  }
  const images = result.report?.images ?? [];
  console.log(
    `saintno: prompt done, ${images.length} image(s), ${delivered} progress messages (${progress} through onProgress)`);
  if (delivered === 0) fail("saintno: no progress message");
  const png = images.find((i) => i.filename.includes("error_vs_nfe"));
  if (!png) fail("saintno: no error_vs_nfe image in the outputs");
  else await expectPng(api.getPathImage(png), "saintno");
  api.destroy();
}

const { server, base } = await startServer();
console.log(`server at ${base}`);
try {
  await stableCanvas(base);
  await saintno(base);
} catch (e) {
  fail(e.stack || String(e));
} finally {
  server.kill("SIGTERM");
}
// The server may have exited already (then its "exit" event has passed and would never come).
const code =
  server.exitCode !== null || server.signalCode !== null
    ? server.exitCode
    : await new Promise((r) => server.on("exit", (c) => r(c)));
if (code !== 0) fail(`the server exited with ${code} on SIGTERM`);
console.log(process.exitCode ? "clients: FAILED" : "clients: ok");
