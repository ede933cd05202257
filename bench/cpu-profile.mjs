// Preloaded with `--import` through NODE_OPTIONS (which refuses `--cpu-prof` on Node 20) when
// BENCH_TUS_PROFILE is set: profiles the whole process and writes a .cpuprofile on exit.
// The same-thread inspector session answers synchronously, so this works in an exit handler.
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import path from "node:path";
import process from "node:process";

const dir = process.env.BENCH_CPU_PROFILE_DIR;
const session = new Session();
session.connect();
session.post("Profiler.enable");
session.post("Profiler.setSamplingInterval", { interval: 1000 });
session.post("Profiler.start");
process.once("exit", () => {
  session.post("Profiler.stop", (err, result) => {
    if (!err && dir) writeFileSync(path.join(dir, `${path.basename(process.argv[1] ?? "node")}-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
  });
});
